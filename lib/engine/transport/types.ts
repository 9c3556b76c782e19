import type { SipMessage } from '../messages/index.js';

/** Transports the engine listens on today. TLS and WSS would slot in as more flow kinds. */
export type TransportName = 'udp' | 'tcp';

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
}

export interface InboundMessage {
  message: SipMessage;
  source: Peer;
  /** the listening endpoint the message arrived on */
  local: Endpoint;
  /** set for connection-oriented transports */
  flowId?: string;
  bytes: number;
  receivedAt: Date;
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
  /** a TCP connection with no traffic for this long is closed, unless a registration pins it */
  tcpIdleMs: number;
  /** a TCP peer must finish a message within this long after its first byte */
  tcpHeaderTimeoutMs: number;
  /** messages per second accepted from one source address; the rest get one 503 then are dropped */
  perSourceRatePerSec: number;
  /** inbound plus outbound TCP connections held at once */
  maxTcpConnections: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxMessageBytes: 65535,
  tcpIdleMs: 5 * 60_000,
  tcpHeaderTimeoutMs: 10_000,
  perSourceRatePerSec: 500,
  maxTcpConnections: 1000,
};
