/**
 * A tiny SIP user agent for engine tests, built on the engine's own messages layer.
 * It talks UDP (own socket) or TCP (one outbound connection, no listener of its own).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import {
  buildResponse, generateBranch, generateCallId, generateTag, parseMessage, SipRequest, SipStreamFramer,
  type SipMessage, type SipResponse,
} from '../../../lib/engine/messages/index.js';

export interface Target {
  address: string;
  port: number;
}

export interface RequestOptions {
  callId?: string;
  fromTag?: string;
  to?: string;
  toTag?: string;
  from?: string;
  cseq?: number;
  branch?: string;
  contact?: string | null;
  headers?: Record<string, string>;
  body?: string;
}

type Waiter = { pred: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void; timer: NodeJS.Timeout };

export class TestUa {
  readonly received: SipMessage[] = [];
  /** what arrived that does not parse (e.g. a 400 to a request that had no From to copy) */
  readonly unparsed: string[] = [];
  private readonly waiters: Waiter[] = [];
  private closed = false;

  private constructor(
    readonly transport: 'udp' | 'tcp' | 'tls',
    readonly target: Target,
    readonly local: Target,
    private readonly write: (bytes: Buffer) => void,
    private readonly closeFn: () => void,
  ) {}

  static async udp(target: Target, localAddress = '127.0.0.1'): Promise<TestUa> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, localAddress, () => r()));
    const ua: TestUa = new TestUa('udp', target, { address: localAddress, port: sock.address().port },
      (b) => sock.send(b, target.port, target.address), () => sock.close());
    sock.on('message', (b) => ua.onBytes(b, true));
    return ua;
  }

  static async tcp(target: Target, localAddress = '127.0.0.1'): Promise<TestUa> {
    const sock = net.connect({ host: target.address, port: target.port, localAddress });
    await new Promise<void>((r, j) => { sock.once('connect', () => r()); sock.once('error', j); });
    return TestUa.overStream('tcp', sock, target, localAddress);
  }

  /** Over TLS, trusting `ca` for the engine's certificate; `peerCertificate` shows what it presented. */
  static async tls(target: Target, ca: string, localAddress = '127.0.0.1'): Promise<TestUa> {
    const raw = net.connect({ host: target.address, port: target.port, localAddress });
    await new Promise<void>((r, j) => { raw.once('connect', () => r()); raw.once('error', j); });
    const sock = tls.connect({ socket: raw, ca, servername: 'localhost' });
    await new Promise<void>((r, j) => { sock.once('secureConnect', () => r()); sock.once('error', j); });
    const ua = TestUa.overStream('tls', sock, target, localAddress);
    ua.peerCertificate = sock.getPeerCertificate();
    return ua;
  }

  /** TLS only: the certificate the engine presented. */
  peerCertificate?: tls.PeerCertificate;

  private static overStream(transport: 'tcp' | 'tls', sock: net.Socket, target: Target, localAddress: string): TestUa {
    const framer = new SipStreamFramer(1 << 20);
    const ua: TestUa = new TestUa(transport, target, { address: localAddress, port: sock.localPort ?? 0 },
      (b) => sock.write(b), () => sock.destroy());
    sock.on('data', (chunk) => {
      for (const ev of framer.push(chunk)) if (ev.type === 'message') ua.onBytes(ev.bytes, false);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => { ua.closed = true; });
    return ua;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onBytes(bytes: Buffer, datagram: boolean): void {
    const r = parseMessage(bytes, { datagram });
    if (!r.ok) {
      this.unparsed.push(bytes.toString('latin1'));
      return;
    }
    const m = r.message;
    const i = this.waiters.findIndex((w) => w.pred(m));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(m);
    } else this.received.push(m);
  }

  /** Resolves with the first queued or future message matching pred. */
  next(pred: (m: SipMessage) => boolean, timeoutMs = 5000): Promise<SipMessage> {
    const i = this.received.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const j = this.waiters.findIndex((w) => w.timer === timer);
        if (j >= 0) this.waiters.splice(j, 1);
        reject(new Error('timed out waiting for a SIP message'));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, timer });
    });
  }

  async response(callId: string, status?: number | ((s: number) => boolean), method?: string, timeoutMs?: number): Promise<SipResponse> {
    const m = await this.next((x) => x.kind === 'response' && x.callId === callId
      && (status === undefined || (typeof status === 'number' ? x.status === status : status(x.status)))
      && (!method || x.cseq.method === method), timeoutMs);
    return m as SipResponse;
  }

  async request(method: string, callId?: string, timeoutMs?: number): Promise<SipRequest> {
    const m = await this.next((x) => x.kind === 'request' && x.method === method && (!callId || x.callId === callId), timeoutMs);
    return m as SipRequest;
  }

  /** Asserts nothing matching arrives within ms. */
  async nothing(pred: (m: SipMessage) => boolean, ms: number): Promise<boolean> {
    try {
      await this.next(pred, ms);
      return false;
    } catch {
      return true;
    }
  }

  makeRequest(method: string, uri: string, o: RequestOptions = {}): SipRequest {
    const req = new SipRequest(method, uri);
    req.headers.append('via', `SIP/2.0/${this.transport.toUpperCase()} ${this.local.address}:${this.local.port};branch=${o.branch ?? generateBranch()};rport`);
    req.headers.append('max-forwards', '70');
    req.headers.append('from', `${o.from ?? '<sip:alice@example.com>'};tag=${o.fromTag ?? generateTag()}`);
    req.headers.append('to', `${o.to ?? `<${uri}>`}${o.toTag ? `;tag=${o.toTag}` : ''}`);
    req.headers.append('call-id', o.callId ?? generateCallId());
    req.headers.append('cseq', `${o.cseq ?? 1} ${method}`);
    if (o.contact !== null) req.headers.append('contact', o.contact ?? this.contact());
    for (const [k, v] of Object.entries(o.headers ?? {})) req.headers.append(k, v);
    if (o.body) {
      req.body = Buffer.from(o.body);
      if (!o.headers?.['Content-Type']) req.headers.append('content-type', 'application/sdp');
    }
    return req;
  }

  contact(user = 'alice'): string {
    return `<sip:${user}@${this.local.address}:${this.local.port}${this.transport === 'udp' ? '' : `;transport=${this.transport}`}>`;
  }

  send(msg: SipMessage): void {
    this.write(msg.serialize());
  }

  sendRaw(bytes: Buffer | string): void {
    this.write(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  }

  respond(req: SipRequest, status: number, o: { toTag?: string; headers?: Record<string, string>; body?: string } = {}): SipResponse {
    const res = buildResponse(req, status, undefined, o.toTag);
    if (status > 100 && status < 300 && req.method === 'INVITE') res.headers.append('contact', this.contact('bob'));
    for (const [k, v] of Object.entries(o.headers ?? {})) res.headers.append(k, v);
    if (o.body) {
      res.body = Buffer.from(o.body);
      res.headers.append('content-type', 'application/sdp');
    }
    this.send(res);
    return res;
  }

  /** ACK for a 2xx, built from the dialog the response established (RFC 3261 13.2.2.4). */
  ackFor(invite: SipRequest, res: SipResponse): SipRequest {
    const target = res.contactUri() ?? invite.uri;
    const ack = new SipRequest('ACK', target);
    ack.headers.append('via', `SIP/2.0/${this.transport.toUpperCase()} ${this.local.address}:${this.local.port};branch=${generateBranch()};rport`);
    ack.headers.append('max-forwards', '70');
    ack.headers.append('from', invite.headers.get('from')!);
    ack.headers.append('to', res.headers.get('to')!);
    ack.headers.append('call-id', invite.callId);
    ack.headers.append('cseq', `${invite.cseq.seq} ACK`);
    return ack;
  }

  /** ACK for a non-2xx final: same branch and Request-URI as the INVITE (RFC 3261 17.1.1.3). */
  ackForFailure(invite: SipRequest, res: SipResponse): SipRequest {
    const ack = this.ackFor(invite, res);
    ack.uri = invite.uri;
    ack.headers.set('via', invite.headers.get('via')!);
    return ack;
  }

  /** A request inside the dialog this UA holds with the engine. */
  inDialog(method: string, invite: SipRequest, res: SipResponse, cseq: number, body?: string): SipRequest {
    const req = this.ackFor(invite, res);
    req.method = method;
    req.headers.set('cseq', `${cseq} ${method}`);
    if (method === 'INVITE' || method === 'UPDATE') req.headers.append('contact', this.contact());
    if (body) {
      req.body = Buffer.from(body);
      req.headers.append('content-type', method === 'INFO' ? 'application/dtmf-relay' : 'application/sdp');
    }
    return req;
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) clearTimeout(w.timer);
    this.closeFn();
  }
}

export const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
