import { EngineStats } from './engine-stats.js';
import net from 'node:net';
import tls from 'node:tls';
import type dgram from 'node:dgram';
import {
  buildResponse, formatVia, parseMessage, statusForParseError, type FramerEvent, type SipMessage, type SipParseError, type SipRequest,
} from '../messages/index.js';
import { FlowTable } from './flow-table.js';
import { bindListeners, type BoundListener, type ListenSpec } from './listeners.js';
import { LogThrottle } from './log-throttle.js';
import { SourceRateLimiter } from './rate-limiter.js';
import { RegisteredFlows } from './registered-flows.js';
import { responseDestination, stampReceived } from './response-routing.js';
import { StreamFlow } from './stream-flow.js';
import type { TlsCredentials } from './tls-credentials.js';
import { TransportError } from './transport-error.js';
import {
  type Destination, type EngineLog, type Endpoint, type InboundMessage, type Peer, type SentMessage,
  type StreamTransport, type TransportLimits, type TransportName,
} from './types.js';

export type InboundHandler = (msg: InboundMessage) => void;

export interface TransportOptions {
  limits: TransportLimits;
  log: EngineLog;
  /** present when a listener or an outbound target uses TLS */
  tls?: TlsCredentials;
  /** sources with the trusted budget (the PBX) */
  isTrusted?: (address: string) => boolean;
}

/** The transport layer: listeners, the connection table, hostile-input handling at the edge. */
export class SipTransport {
  private listeners: BoundListener[] = [];
  private readonly flows: FlowTable;
  /** outbound connections being set up, so concurrent sends to one peer share one */
  private readonly connecting = new Map<string, Promise<StreamFlow>>();
  readonly registeredFlows = new RegisteredFlows();
  private readonly limiter: SourceRateLimiter;
  private readonly throttle: LogThrottle;
  private readonly limits: TransportLimits;
  private readonly log: EngineLog;
  private handler: InboundHandler = () => undefined;
  /** Messages in and out, and what was refused (read by metrics). */
  readonly stats = new EngineStats();

  constructor(private readonly opts: TransportOptions) {
    this.limits = opts.limits;
    this.log = opts.log;
    this.throttle = new LogThrottle(opts.log);
    this.flows = new FlowTable(opts.limits.maxConnections, (id) => this.registeredFlows.isPinned(id));
    this.limiter = new SourceRateLimiter({
      perSource: opts.limits.perSourceRatePerSec,
      trustedPerSource: opts.limits.trustedSourceRatePerSec,
      untrustedTotal: opts.limits.untrustedRatePerSec,
    }, opts.isTrusted);
  }

  onMessage(handler: InboundHandler): void {
    this.handler = handler;
  }

  async start(specs: ListenSpec[]): Promise<Array<{ transport: TransportName; address: string; port: number }>> {
    if (specs.some((s) => s.transports.includes('tls')) && !this.opts.tls) {
      throw new TransportError('ENGINE_NO_TLS', 'a tls listener needs a certificate and key');
    }
    for (const spec of specs) {
      const bound = await bindListeners(spec, this.limits.udpReceiveBufferBytes);
      for (const l of bound) {
        if (l.udp) this.attachUdp(l, l.udp);
        if (l.stream) {
          l.stream.on('connection', (s) => this.accept(s, l));
          l.stream.on('error', (err) => this.log('error', 'listener error', { transport: l.transport, err: String(err) }));
        }
        this.listeners.push(l);
      }
    }
    return this.listeners.map((l) => ({ transport: l.transport, address: l.address, port: l.port }));
  }

  async stop(): Promise<void> {
    for (const f of this.flows.all()) f.close('engine stopping');
    await Promise.all(this.listeners.map((l) => new Promise<void>((resolve) => {
      if (l.udp) l.udp.close(() => resolve());
      else if (l.stream) l.stream.close(() => resolve());
      else resolve();
    })));
    this.listeners = [];
  }

  /** The endpoint requests over this transport are sent from (Via sent-by, Contact). */
  localEndpoint(transport: TransportName): Endpoint | undefined {
    const l = this.listeners.find((x) => x.transport === transport);
    return l ? { address: l.address, port: l.port } : undefined;
  }

  /**
   * The sent-by for a Via over this transport: its listener, or for an outbound-only stream
   * transport (TLS to a registrar, no TLS listener) another one. Responses come back on the
   * connection, so the sent-by only has to be ours.
   */
  viaEndpoint(transport: TransportName): Endpoint | undefined {
    return this.localEndpoint(transport)
      ?? (transport === 'udp' ? undefined : this.localEndpoint('tcp') ?? this.localEndpoint('tls') ?? this.localEndpoint('udp'));
  }

  get endpoints(): readonly BoundListener[] {
    return this.listeners;
  }

  get connectionCount(): number {
    return this.flows.size;
  }

  connectionsByTransport(): Record<string, number> {
    return this.flows.countByTransport();
  }

  isFlowOpen(flowId: string | undefined): boolean {
    return !!this.flows.get(flowId)?.isOpen;
  }

  /** The flow a registration pinned this contact to (open or not: a closed one fails at once, as drachtio does). */
  registeredFlow(uri: string): { flowId: string; transport: StreamTransport } | undefined {
    return this.registeredFlows.flowFor(uri);
  }

  /** The transport of an open flow. */
  flowTransport(flowId: string | undefined): StreamTransport | undefined {
    const f = this.flows.get(flowId);
    return f?.isOpen ? f.transport : undefined;
  }

  async send(msg: SipMessage, dest: Destination): Promise<SentMessage> {
    this.stats.out(msg.kind === 'request' ? msg.method : undefined);
    return this.sendBytes(msg.serialize(), dest);
  }

  /** Sends bytes serialized earlier (e.g. a transaction's final response, resent). */
  async sendBytes(bytes: Buffer, dest: Destination): Promise<SentMessage> {
    if (dest.transport === 'udp') {
      const l = this.udpListenerFor(dest.address);
      if (!l?.udp) throw new TransportError('ENGINE_NO_LISTENER', 'no udp listener');
      const sock = l.udp;
      await new Promise<void>((resolve, reject) => sock.send(bytes, dest.port, dest.address, (e) => (e ? reject(e) : resolve())));
      return { destination: dest, local: { address: l.address, port: l.port }, bytes: bytes.length };
    }
    const flow = await this.flowFor(dest);
    flow.write(bytes);
    return { destination: { ...dest, transport: flow.transport, flowId: flow.id }, local: flow.local, bytes: bytes.length, flowId: flow.id };
  }

  private udpListenerFor(address: string): BoundListener | undefined {
    const v6 = net.isIPv6(address);
    return this.listeners.find((l) => l.udp && net.isIPv6(l.address) === v6) ?? this.listeners.find((l) => l.udp);
  }

  private flowFor(dest: Destination): Promise<StreamFlow> {
    const pinned = this.flows.get(dest.flowId);
    if (pinned?.isOpen) return Promise.resolve(pinned);
    const existing = this.flows.toPeer(dest);
    if (existing?.isOpen) return Promise.resolve(existing);
    const key = `${dest.transport}|${dest.address}|${dest.port}`;
    let pending = this.connecting.get(key);
    if (!pending) {
      pending = this.connect(dest).finally(() => this.connecting.delete(key));
      this.connecting.set(key, pending);
    }
    return pending;
  }

  private async connect(dest: Destination): Promise<StreamFlow> {
    if (!this.makeRoom()) {
      this.throttle.emit('warn', 'connection-limit-out', 'outbound connection refused: connection limit reached', { limit: this.flows.max, destination: `${dest.address}:${dest.port}` });
      throw new TransportError('ENGINE_CONNECTION_LIMIT', 'connection limit reached');
    }
    const transport: StreamTransport = dest.transport === 'tls' ? 'tls' : 'tcp';
    const creds = this.opts.tls;
    if (transport === 'tls' && !creds) throw new TransportError('ENGINE_NO_TLS', 'no TLS credentials configured for an outbound TLS connection');
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = transport === 'tls'
        ? tls.connect(creds!.clientOptions(dest.address, dest.port, dest.serverName))
        : net.connect({ host: dest.address, port: dest.port });
      const ready = transport === 'tls' ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        s.destroy();
        reject(new TransportError('ENGINE_CONNECT_TIMEOUT', `${transport} connect to ${dest.address}:${dest.port} timed out`));
      }, this.limits.connectTimeoutMs);
      s.once(ready, () => { clearTimeout(timer); s.off('error', onError); resolve(s); });
      const onError = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        s.destroy();
        reject(new TransportError('ENGINE_CONNECT_FAILED', `${transport} connect to ${dest.address}:${dest.port} failed: ${err.code ?? err.message}`));
      };
      s.once('error', onError);
    }).catch((err: TransportError) => {
      const level = transport === 'tls' ? 'warn' : 'debug';
      this.throttle.emit(level, `connect-failed|${transport}|${dest.address}:${dest.port}`, `outbound ${transport} connection failed`, {
        destination: `${dest.address}:${dest.port}`, code: err.code, err: err.message,
      });
      throw err;
    });
    // the peer may have connected meanwhile, or the table filled: re-check before adopting
    if (!this.makeRoom()) {
      socket.destroy();
      throw new TransportError('ENGINE_CONNECTION_LIMIT', 'connection limit reached');
    }
    return this.adopt(socket, transport, 0, { address: dest.address, port: dest.port });
  }

  /** Room for one more connection: true when there is (making it if need be), false when none can be made. */
  private makeRoom(): boolean {
    return !this.flows.isFull || this.flows.evictIdlest('evicted: connection limit reached');
  }

  private accept(raw: net.Socket, listener: BoundListener): void {
    raw.on('error', () => undefined); // until a flow owns it: a reset before adoption must not throw
    if (!this.makeRoom()) {
      this.stats.reject('connection_limit');
      this.throttle.emit('warn', 'connection-limit-in', 'connection refused: connection limit reached and every connection is in use by a registration', {
        limit: this.flows.max, remote: raw.remoteAddress, transport: listener.transport,
      });
      raw.destroy();
      return;
    }
    const remote = { address: raw.remoteAddress ?? '', port: raw.remotePort ?? 0 };
    if (listener.transport !== 'tls') {
      this.adopt(raw, 'tcp', 0, remote);
      return;
    }
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.opts.tls!.serverContext });
    const flow = this.adopt(secure, 'tls', this.limits.connectTimeoutMs, remote);
    let handshakeDone = false;
    secure.once('secure', () => { handshakeDone = true; flow.secured(); });
    secure.once('error', (err: NodeJS.ErrnoException) => {
      if (handshakeDone) return;
      this.stats.reject('tls_handshake');
      this.throttle.emit('warn', `tls-handshake|${err.code ?? 'ERR'}`, 'tls handshake failed', { remote: remote.address, code: err.code, err: err.message.slice(0, 200) });
    });
  }

  private adopt(socket: net.Socket, transport: StreamTransport, handshakeTimeoutMs: number, remote: Endpoint): StreamFlow {
    const flow = new StreamFlow(socket, {
      transport,
      remote,
      local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      maxMessageBytes: this.limits.maxMessageBytes,
      idleMs: this.limits.tcpIdleMs,
      headerTimeoutMs: this.limits.tcpHeaderTimeoutMs,
      handshakeTimeoutMs,
      isPinned: (id) => this.registeredFlows.isPinned(id),
      onEvent: (f, ev) => this.onFlowEvent(f, ev),
      onActivity: (f) => this.flows.touched(f),
      onClose: (f, reason) => {
        this.flows.remove(f);
        this.registeredFlows.forgetFlow(f.id);
        this.log('debug', 'flow closed', { flowId: f.id, transport: f.transport, reason, remote: `${f.remote.address}:${f.remote.port}` });
      },
    });
    this.flows.add(flow);
    return flow;
  }

  private attachUdp(l: BoundListener, sock: dgram.Socket): void {
    sock.on('message', (bytes, rinfo) => {
      const source: Peer = { transport: 'udp', address: rinfo.address, port: rinfo.port };
      this.receive(bytes, source, { address: l.address, port: l.port });
    });
    sock.on('error', (err) => this.log('error', 'udp socket error', { err: String(err) }));
    try {
      const size = sock.getRecvBufferSize();
      if (size < this.limits.udpReceiveBufferBytes) {
        this.log('warn', 'udp receive buffer is smaller than asked (raise net.core.rmem_max)', { asked: this.limits.udpReceiveBufferBytes, got: size });
      }
    } catch { /* not supported on this platform */ }
  }

  private onFlowEvent(flow: StreamFlow, ev: FramerEvent): void {
    if (ev.type === 'ping') {
      flow.write(Buffer.from('\r\n'));
      return;
    }
    if (ev.type === 'error') {
      this.stats.reject('stream');
      this.throttle.emit('warn', `stream-rejected|${ev.error.code}`, 'stream rejected', { code: ev.error.code, transport: flow.transport, remote: flow.remote.address });
      const status = statusForParseError(ev.error.code);
      const head = ev.head ? parseMessage(ev.head, { datagram: true }) : undefined;
      const request = head?.ok ? head.message : head?.partial;
      if (request?.kind === 'request' && request.method !== 'ACK' && request.headers.has('via')) {
        const res = buildResponse(request, status);
        res.headers.append('Warning', `399 engine "${ev.error.code}"`);
        flow.write(res.serialize());
      } else flow.write(plainResponse(status, ev.error.code));
      flow.end(ev.error.code);
      return;
    }
    this.receive(ev.bytes, flow.remote, flow.local, flow);
  }

  private receive(bytes: Buffer, source: Peer, local: Endpoint, flow?: StreamFlow): void {
    // accounted before parsing: a flood costs a map lookup per message, not a parse
    const verdict = this.limiter.check(source.address);
    if (verdict === 'drop') {
      this.stats.reject('flood');
      return;
    }
    try {
      const parsed = parseMessage(bytes, { datagram: !flow });
      if (!parsed.ok) return this.rejectMalformed(parsed.error, parsed.partial, source, flow);
      if (bytes.length > this.limits.maxMessageBytes) {
        this.stats.reject('too_large');
        return this.rejectWith(parsed.message, 413, source, flow);
      }
      if (verdict === 'reject-once') {
        this.stats.reject('flood');
        this.throttle.emit('warn', `rate-limit|${source.address}`, 'source over its message budget; answering 503 then dropping', { source: source.address });
        return this.rejectWith(parsed.message, 503, source, flow, { 'Retry-After': '5' });
      }
      const message = parsed.message;
      this.stats.in(message.kind === 'request' ? message.method : undefined);
      if (message.kind === 'request') {
        const top = message.headers.entries.find((h) => h.name === 'via');
        if (top) top.value = formatVia(stampReceived(message.topVia, source));
      }
      this.handler({ message, source, local, flowId: flow?.id, bytes: bytes.length });
    } catch (err) {
      // a defect above the transport must cost one message, never the process
      this.log('error', 'inbound message handling failed', { err: err instanceof Error ? err.stack ?? err.message : String(err), source: source.address });
    }
  }

  private rejectMalformed(error: SipParseError, partial: SipMessage | undefined, source: Peer, flow?: StreamFlow): void {
    this.stats.reject('malformed');
    this.throttle.emit('warn', `malformed|${error.code}`, 'malformed sip message', { code: error.code, reason: error.message.slice(0, 200), source: source.address, transport: source.transport });
    const status = statusForParseError(error.code);
    if (partial?.kind === 'request') this.rejectWith(partial, status, source, flow, { Warning: `399 engine "${error.code}"` });
    // a stream cannot be trusted to be in step after a malformed message: answer, then close. A
    // well-formed request for a URI scheme the engine does not serve is not malformed.
    if (error.code !== 'SIP_UNSUPPORTED_URI_SCHEME') flow?.end(error.code);
  }

  /** Answers a request the transactions never see; responses and ACKs are dropped instead. */
  private rejectWith(msg: SipMessage, status: number, source: Peer, flow?: StreamFlow, extra: Record<string, string> = {}): void {
    if (msg.kind !== 'request' || msg.method === 'ACK' || !msg.headers.has('via')) return;
    let via;
    try {
      via = msg.topVia;
    } catch {
      via = undefined; // a Via that does not parse: answered where the request came from
    }
    const res = buildResponse(msg as SipRequest, status);
    for (const [k, v] of Object.entries(extra)) res.headers.append(k, v);
    // on a stream, written now: the caller may close the flow right after
    if (flow) {
      flow.write(res.serialize());
      return;
    }
    const dest = via ? responseDestination(stampReceived(via, source), source) : source;
    this.send(res, dest).catch((err) => this.log('debug', 'could not send rejection', { err: String(err) }));
  }
}

/** A bare response for a stream we could not parse at all: nothing to copy headers from. */
function plainResponse(status: number, code: string): Buffer {
  const reason = status === 413 ? 'Request Entity Too Large' : 'Bad Request';
  return Buffer.from(`SIP/2.0 ${status} ${reason}\r\nWarning: 399 engine "${code}"\r\nContent-Length: 0\r\n\r\n`);
}

