import type { SipMessage } from '../messages/index.js';

/** Transports the engine speaks. TLS flows are stream flows like TCP ones (RFC 3261 26.2). */
export type TransportName = 'udp' | 'tcp' | 'tls';

/** Connection-oriented transports: a flow per connection, responses reuse it. */
export type StreamTransport = Exclude<TransportName, 'udp'>;

export const isStream = (t: TransportName): t is StreamTransport => t !== 'udp';

export interface Endpoint {
  address: string;
  port: number;
}

export interface Peer extends Endpoint {
  transport: TransportName;
}

/** Where to send a message; flowId pins it to an existing connection (RFC 5626 style reuse). */
export interface Destination extends Peer {
  flowId?: string;
  /** TLS: the name the peer's certificate must carry (a hostname target); IP targets check the IP */
  serverName?: string;
}

export interface InboundMessage {
  message: SipMessage;
  source: Peer;
  /** the listening endpoint the message arrived on */
  local: Endpoint;
  /** set for connection-oriented transports */
  flowId?: string;
  bytes: number;
}

export interface SentMessage {
  destination: Destination;
  local: Endpoint;
  bytes: number;
  flowId?: string;
}

export type EngineLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type EngineLog = (level: EngineLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface TransportLimits {
  /** largest message accepted, in bytes; larger ones get 413 (UDP) or a closed connection (TCP) */
  maxMessageBytes: number;
  /** a TCP/TLS connection with no traffic for this long is closed, unless a registration pins it */
  tcpIdleMs: number;
  /** a TCP/TLS peer must finish a message within this long after its first byte */
  tcpHeaderTimeoutMs: number;
  /** an inbound TLS handshake, and an outbound TCP connect plus TLS handshake, must finish within this */
  connectTimeoutMs: number;
  /** messages per second accepted from one untrusted source address; then one 503, then drops */
  perSourceRatePerSec: number;
  /** the same, for a trusted source (the PBX): its own, larger budget */
  trustedSourceRatePerSec: number;
  /** messages per second accepted from all untrusted sources together, so a flood cannot starve the PBX */
  untrustedRatePerSec: number;
  /** inbound plus outbound TCP and TLS connections held at once (handshakes included) */
  maxConnections: number;
  /** requested UDP receive buffer (SO_RCVBUF), so bursts wait in the kernel rather than being dropped */
  udpReceiveBufferBytes: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxMessageBytes: 65535,
  tcpIdleMs: 15 * 60_000,
  tcpHeaderTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  perSourceRatePerSec: 200,
  trustedSourceRatePerSec: 5000,
  untrustedRatePerSec: 2000,
  maxConnections: 50_000,
  udpReceiveBufferBytes: 4 * 1024 * 1024,
};
