import net from 'node:net';
import type dgram from 'node:dgram';
import {
  buildResponse, parseMessage, type SipMessage, type SipParseError, type SipRequest, type FramerEvent,
} from '../messages/index.js';
import { bindListeners, type BoundListener, type ListenSpec } from './listeners.js';
import { SourceRateLimiter } from './rate-limiter.js';
import { RegisteredFlows } from './registered-flows.js';
import { responseDestination, stampReceived } from './response-routing.js';
import { TcpFlow } from './tcp-flow.js';
import { formatVia } from '../messages/index.js';
import type {
  Destination, EngineLog, Endpoint, InboundMessage, Peer, SentMessage, TransportLimits, TransportName,
} from './types.js';

export type InboundHandler = (msg: InboundMessage) => void;

/** The transport layer: listeners, the connection table, hostile-input handling at the edge. */
export class SipTransport {
  private listeners: BoundListener[] = [];
  private readonly flows = new Map<string, TcpFlow>();
  private readonly flowByPeer = new Map<string, string>();
  readonly registeredFlows = new RegisteredFlows();
  private readonly limiter: SourceRateLimiter;
  private handler: InboundHandler = () => undefined;

  constructor(private readonly limits: TransportLimits, private readonly log: EngineLog) {
    this.limiter = new SourceRateLimiter(limits.perSourceRatePerSec);
  }

  onMessage(handler: InboundHandler): void {
    this.handler = handler;
  }

  async start(specs: ListenSpec[]): Promise<Array<{ transport: TransportName; address: string; port: number }>> {
    for (const spec of specs) {
      const bound = await bindListeners(spec);
      for (const l of bound) {
        if (l.udp) this.attachUdp(l, l.udp);
        if (l.tcp) l.tcp.on('connection', (s) => this.adopt(s));
        this.listeners.push(l);
      }
    }
    return this.listeners.map((l) => ({ transport: l.transport, address: l.address, port: l.port }));
  }

  async stop(): Promise<void> {
    for (const f of [...this.flows.values()]) f.close('engine stopping');
    await Promise.all(this.listeners.map((l) => new Promise<void>((resolve) => {
      if (l.udp) l.udp.close(() => resolve());
      else if (l.tcp) l.tcp.close(() => resolve());
      else resolve();
    })));
    this.listeners = [];
  }

  /** The endpoint requests over this transport are sent from (Via sent-by, Contact). */
  localEndpoint(transport: TransportName): Endpoint | undefined {
    const l = this.listeners.find((x) => x.transport === transport);
    return l ? { address: l.address, port: l.port } : undefined;
  }

  get endpoints(): readonly BoundListener[] {
    return this.listeners;
  }

  isFlowOpen(flowId: string | undefined): boolean {
    return !!flowId && !!this.flows.get(flowId)?.isOpen;
  }

  async send(msg: SipMessage, dest: Destination): Promise<SentMessage> {
    return this.sendBytes(msg.serialize(), dest);
  }

  /** Sends bytes serialized earlier (e.g. a transaction's final response, resent). */
  async sendBytes(bytes: Buffer, dest: Destination): Promise<SentMessage> {
    if (dest.transport === 'udp') {
      const l = this.udpListenerFor(dest.address);
      if (!l?.udp) throw new Error('no udp listener');
      await new Promise<void>((resolve, reject) => l.udp!.send(bytes, dest.port, dest.address, (e) => (e ? reject(e) : resolve())));
      return { destination: dest, local: { address: l.address, port: l.port }, bytes: bytes.length };
    }
    const flow = await this.flowFor(dest);
    flow.write(bytes);
    return { destination: { ...dest, flowId: flow.id }, local: flow.local, bytes: bytes.length, flowId: flow.id };
  }

  private udpListenerFor(address: string): BoundListener | undefined {
    const v6 = net.isIPv6(address);
    return this.listeners.find((l) => l.udp && net.isIPv6(l.address) === v6) ?? this.listeners.find((l) => l.udp);
  }

  private async flowFor(dest: Destination): Promise<TcpFlow> {
    const pinned = dest.flowId ? this.flows.get(dest.flowId) : undefined;
    if (pinned?.isOpen) return pinned;
    const byPeer = this.flowByPeer.get(peerKey(dest));
    const existing = byPeer ? this.flows.get(byPeer) : undefined;
    if (existing?.isOpen) return existing;
    if (this.flows.size >= this.limits.maxTcpConnections) throw new Error('tcp connection limit reached');
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: dest.address, port: dest.port });
      s.once('connect', () => { s.off('error', reject); resolve(s); });
      s.once('error', reject);
    });
    return this.adopt(socket);
  }

  private adopt(socket: net.Socket): TcpFlow {
    if (this.flows.size >= this.limits.maxTcpConnections) {
      this.log('warn', 'tcp connection refused: limit reached', { remote: socket.remoteAddress });
      socket.destroy();
      throw new Error('tcp connection limit reached');
    }
    const flow = new TcpFlow(socket, {
      maxMessageBytes: this.limits.maxMessageBytes,
      idleMs: this.limits.tcpIdleMs,
      headerTimeoutMs: this.limits.tcpHeaderTimeoutMs,
      isPinned: (id) => this.registeredFlows.isPinned(id),
      onEvent: (f, ev) => this.onFlowEvent(f, ev),
      onClose: (f, reason) => {
        this.flows.delete(f.id);
        if (this.flowByPeer.get(peerKey(f.remote)) === f.id) this.flowByPeer.delete(peerKey(f.remote));
        this.registeredFlows.forgetFlow(f.id);
        this.log('debug', 'tcp flow closed', { flowId: f.id, reason, remote: `${f.remote.address}:${f.remote.port}` });
      },
    });
    this.flows.set(flow.id, flow);
    this.flowByPeer.set(peerKey(flow.remote), flow.id);
    return flow;
  }

  private attachUdp(l: BoundListener, sock: dgram.Socket): void {
    sock.on('message', (bytes, rinfo) => {
      const source: Peer = { transport: 'udp', address: rinfo.address, port: rinfo.port };
      this.receive(bytes, source, { address: l.address, port: l.port });
    });
    sock.on('error', (err) => this.log('error', 'udp socket error', { err: String(err) }));
  }

  private onFlowEvent(flow: TcpFlow, ev: FramerEvent): void {
    if (ev.type === 'ping') {
      flow.write(Buffer.from('\r\n'));
      return;
    }
    if (ev.type === 'error') {
      this.log('warn', 'tcp stream rejected', { code: ev.error.code, remote: flow.remote.address });
      const status = ev.error.code === 'SIP_TOO_LARGE' ? 413 : 400;
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

  private receive(bytes: Buffer, source: Peer, local: Endpoint, flow?: TcpFlow): void {
    const verdict = this.limiter.check(source.address);
    if (verdict === 'drop') return;
    const parsed = parseMessage(bytes, { datagram: !flow });
    if (!parsed.ok) return this.rejectMalformed(parsed.error, parsed.partial, source, flow);
    if (bytes.length > this.limits.maxMessageBytes) return this.rejectWith(parsed.message, 413, source, flow);
    if (verdict === 'reject-once') return this.rejectWith(parsed.message, 503, source, flow, { 'Retry-After': '5' });
    const message = parsed.message;
    if (message.kind === 'request') {
      const vias = message.headers.entries.filter((h) => h.name === 'via');
      const top = vias[0];
      if (top) top.value = formatVia(stampReceived(message.topVia, source));
    }
    this.handler({ message, source, local, flowId: flow?.id, bytes: bytes.length, receivedAt: new Date() });
  }

  private rejectMalformed(error: SipParseError, partial: SipMessage | undefined, source: Peer, flow?: TcpFlow): void {
    this.log('warn', 'malformed sip message', { code: error.code, reason: error.message, source: source.address });
    const status = error.code === 'SIP_TOO_LARGE' ? 413 : 400;
    if (partial?.kind === 'request') this.rejectWith(partial, status, source, flow, { Warning: `399 engine "${error.code}"` });
    flow?.end(error.code);
  }

  /** Answers a request the transactions never see; responses and ACKs are dropped instead. */
  private rejectWith(msg: SipMessage, status: number, source: Peer, flow?: TcpFlow, extra: Record<string, string> = {}): void {
    if (msg.kind !== 'request' || msg.method === 'ACK') return;
    let via;
    try {
      via = msg.topVia;
    } catch {
      return; // no readable Via: nowhere to send a response
    }
    const res = buildResponse(msg as SipRequest, status);
    for (const [k, v] of Object.entries(extra)) res.headers.append(k, v);
    const dest = responseDestination(stampReceived(via, source), source, flow?.id);
    this.send(res, dest).catch((err) => this.log('debug', 'could not send rejection', { err: String(err) }));
  }
}

function peerKey(p: { address: string; port: number }): string {
  return `${p.address}|${p.port}`;
}

/** A bare response for a stream we could not parse at all: nothing to copy headers from. */
function plainResponse(status: number, code: string): Buffer {
  const reason = status === 413 ? 'Request Entity Too Large' : 'Bad Request';
  return Buffer.from(`SIP/2.0 ${status} ${reason}\r\nWarning: 399 engine "${code}"\r\nContent-Length: 0\r\n\r\n`);
}
