/**
 * The embedded SIP engine: a drachtio-server stand-in inside the Node process. drachtio-srf
 * connects to `wirePort` exactly as it would to a real drachtio-server.
 *
 * Layers, each knowing only the one below: messages -> transport -> transactions -> dialogs -> wire.
 */
import { DialogTable } from './dialogs/dialog-table.js';
import { fdLimitWarning } from './transport/fd-limit.js';
import type { EngineStats } from './transport/engine-stats.js';
import { DEFAULT_MAX_TRANSACTIONS, TransactionLayer } from './transactions/transaction-layer.js';
import { DEFAULT_TIMERS } from './transactions/timers.js';
import { SipTransport } from './transport/sip-transport.js';
import { TlsCredentials, type TlsFiles } from './transport/tls-credentials.js';
import { DEFAULT_TRANSPORT_LIMITS, type EngineLog, type TransportName } from './transport/types.js';
import { NetworkRequestRouter } from './wire/network-requests.js';
import { RouteTable } from './wire/route-table.js';
import type { LinkEnd } from './wire/in-process-link.js';
import { WireServer } from './wire/wire-server.js';
import type { WireContext } from './wire/wire-state.js';
import { hostPort } from '../net-address.js';

export type { EngineLog, EngineLogLevel, TransportName } from './transport/types.js';
export type { TlsFiles } from './transport/tls-credentials.js';
export { TlsConfigError } from './transport/tls-credentials.js';
export type { EngineStats } from './transport/engine-stats.js';

/** The version reported to drachtio-srf; >= v0.8.2 so srf's optional pinging works. */
export const ENGINE_VERSION = 'v0.9.10-pushwake-embedded';

export interface EmbeddedEngineOptions {
  /**
   * SIP listeners; port 0 = ephemeral (UDP and TCP share the number when both are asked for).
   * TLS listens on `tlsPort` (default 5061) and needs `tls`.
   */
  sip: Array<{ address: string; port: number; transports: TransportName[]; tlsPort?: number }>;
  /** the drachtio wire listener: address defaults to 127.0.0.1, port 0 = ephemeral */
  wire: { address?: string; port?: number; secret: string };
  /** certificate and key for TLS listeners (and presented on outbound TLS), CAs trusted outbound */
  tls?: TlsFiles;
  /** sources given the trusted message budget (the PBX); default none */
  isTrusted?: (address: string) => boolean;
  limits?: {
    /** default 65535 bytes */
    maxMessageBytes?: number;
    /** default 15 min; registered flows stay open while their registration lives */
    tcpIdleMs?: number;
    /** default 10 s to finish a message once its first byte arrived */
    tcpHeaderTimeoutMs?: number;
    /** default 10 s for an inbound TLS handshake, or an outbound connect (+ handshake) */
    connectTimeoutMs?: number;
    /** default 200 messages/s per untrusted source address */
    perSourceRatePerSec?: number;
    /** default 5000 messages/s per trusted source address */
    trustedSourceRatePerSec?: number;
    /** default 2000 messages/s from all untrusted sources together */
    untrustedRatePerSec?: number;
    /** TCP + TLS connections, inbound and outbound; default 50,000 */
    maxConnections?: number;
    /** SO_RCVBUF asked for UDP listeners; default 4 MiB (the kernel caps it at net.core.rmem_max) */
    udpReceiveBufferBytes?: number;
    /**
     * server + client transactions held at once (new requests beyond it are dropped); default
     * 200,000. Over UDP a transaction lives 32 s past its final response, so the default
     * sustains ~6,000 transactions/s.
     */
    maxTransactions?: number;
  };
  /** RFC 3261 T1/T2/T4 in ms; defaults 500/4000/5000 */
  timers?: { t1?: number; t2?: number; t4?: number };
  log?: EngineLog;
}

export interface EmbeddedEngine {
  wirePort: number;
  sipAddresses: Array<{ transport: TransportName; address: string; port: number }>;
  /** TCP and TLS connections open now */
  readonly connectionCount: number;
  /** Messages in and out and what was refused, counted since start (for metrics). */
  readonly stats: EngineStats;
  /** Open connections by transport (tcp, tls). */
  connectionsByTransport(): Record<string, number>;
  /**
   * For a drachtio-srf app in this process: the app's end of a wire link without a socket (pass
   * it to `connect` as `inProcess`). Cheaper than the wire port; the same protocol.
   */
  openAppLink(): LinkEnd;
  /** re-reads the TLS certificate and key (e.g. on SIGHUP); false when the new files are bad */
  reloadTls(): boolean;
  stop(): Promise<void>;
}

/**
 * Requests in flight between the network and the app (and back) at once; past it the app's new
 * requests are refused with an API error and the network's get 503: never an unbounded map.
 */
const MAX_PENDING_REQUESTS = 50_000;

export async function startEmbeddedEngine(options: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
  const log: EngineLog = options.log ?? (() => undefined);
  const { maxTransactions, ...transportLimits } = options.limits ?? {};
  const limits = { ...DEFAULT_TRANSPORT_LIMITS, ...definedOnly(transportLimits) };
  const timers = { ...DEFAULT_TIMERS, ...definedOnly(options.timers ?? {}) };
  const tls = options.tls ? new TlsCredentials(options.tls, log) : undefined;
  const transport = new SipTransport({ limits, log, ...(tls ? { tls } : {}), ...(options.isTrusted ? { isTrusted: options.isTrusted } : {}) });
  const sipAddresses = await transport.start(options.sip);
  tls?.watch();
  const transactions = new TransactionLayer(transport, timers, log, maxTransactions ?? DEFAULT_MAX_TRANSACTIONS);
  const ctx: WireContext = {
    transport, transactions, log, dialogs: new DialogTable(), routes: new RouteTable(),
    networkRequests: new Map(), transactionIds: new WeakMap(), appRequests: new Map(), sessions: new Map(), sessionByInviteTx: new WeakMap(), maxPending: MAX_PENDING_REQUESTS,
  };
  const router = new NetworkRequestRouter(ctx);
  transactions.setUser(router);
  const hostports = sipAddresses.map((a) => `${a.transport}/${hostPort(a.address, a.port)}`).join(',');
  const wire = new WireServer(ctx, {
    address: options.wire.address ?? '127.0.0.1',
    port: options.wire.port ?? 0,
    secret: options.wire.secret,
    maxMessageBytes: limits.maxMessageBytes,
    onAppGone: (conn) => router.onAppGone(conn),
    identity: () => ({ hostports, version: ENGINE_VERSION, localHostports: hostports }),
  });
  let wirePort: number;
  try {
    wirePort = await wire.start();
  } catch (err) {
    tls?.stop();
    await transport.stop();
    throw err;
  }
  log('info', 'embedded sip engine started', { wirePort, sip: hostports });
  const short = fdLimitWarning(limits.maxConnections);
  if (short) log('warn', 'open-file limit is below engine.maxConnections: connections past it are refused by the OS without a log line; raise ulimit -n (systemd LimitNOFILE=)', short);
  return {
    wirePort,
    sipAddresses,
    get connectionCount() {
      return transport.connectionCount;
    },
    stats: transport.stats,
    connectionsByTransport: () => transport.connectionsByTransport(),
    openAppLink: () => wire.openInProcess(),
    reloadTls: () => tls?.reload() ?? false,
    stop: async () => {
      tls?.stop();
      await wire.stop();
      transactions.stop();
      await transport.stop();
    },
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
