/**
 * The built-in load generator, for machines without SIPp: the same two scenarios as
 * options-uac.xml and call-uac.xml, over one UDP socket, timed with the monotonic clock.
 * Requests are retransmitted like a UAC would (T1 doubling to T2) and count as failed after
 * FAIL_AFTER_MS or on any final response other than 200.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import {
  TIMED_STEPS, type FixedRateResult, type FixedRateRun, type LoadGenerator, type LoadTarget,
  type SaturationResult, type SaturationRun, type Scenario,
} from './load.js';

const T1_MS = 500;
const T2_MS = 4000;
const FAIL_AFTER_MS = 16_000;
/** How often the open-loop pacer wakes to start the calls that are due. */
const PACER_TICK_MS = 1;

export class UdpLoad implements LoadGenerator {
  readonly description = 'built-in UDP load generator (bench/engine/udp-load.ts)';

  async saturate(target: LoadTarget, run: SaturationRun): Promise<SaturationResult> {
    const session = await LoadSession.open(target, run.scenario, run.pauseMs);
    const started = performance.now();
    const endAt = started + run.seconds * 1000;
    const warmEnd = started + run.warmupSeconds * 1000;
    const counted = { completed: 0, failed: 0 };
    session.onEnd = (ok) => {
      if (performance.now() >= warmEnd) {
        if (ok) counted.completed++;
        else counted.failed++;
      }
      // closed loop: each ending starts the next, until the run is over
      if (performance.now() < endAt) session.startOne();
    };
    for (let i = 0; i < run.concurrency; i++) session.startOne();
    await sleep(run.seconds * 1000);
    const window = (performance.now() - warmEnd) / 1000;
    session.close();
    return { perSecond: counted.completed / window, completed: counted.completed, failed: counted.failed };
  }

  async fixedRate(target: LoadTarget, run: FixedRateRun): Promise<FixedRateResult> {
    const session = await LoadSession.open(target, run.scenario, run.pauseMs);
    const total = Math.round(run.rate * run.seconds);
    const started = performance.now();
    session.recordFrom = started + run.warmupSeconds * 1000;
    let ended = 0;
    let completed = 0;
    const done = new Promise<void>((resolve) => {
      session.onEnd = (ok) => {
        ended++;
        if (ok) completed++;
        if (ended === total) resolve();
      };
    });
    let launched = 0;
    const pacer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * run.rate));
      while (launched < due) {
        session.startOne();
        launched++;
      }
      if (launched >= total) clearInterval(pacer);
    }, PACER_TICK_MS);
    await done;
    clearInterval(pacer);
    session.close();
    return { completed, failed: total - completed, responseTimes: session.responseTimes };
  }
}

/** One request awaiting its final response, retransmitted until then. */
interface Outstanding {
  step: string;
  bytes: Buffer;
  sentAt: number;
  interval: number;
  timer: NodeJS.Timeout;
}

/** One OPTIONS or one call in progress, keyed by Call-ID. */
interface Flow {
  callId: string;
  fromTag: string;
  /** the callee's To tag, once its 200 to the INVITE arrived */
  toTag?: string;
  outstanding?: Outstanding;
  /** ACK resent when the 200 to the INVITE is retransmitted */
  ack?: Buffer;
  pause?: NodeJS.Timeout;
}

class LoadSession {
  onEnd: (ok: boolean) => void = () => undefined;
  /** response times are kept for requests sent at or after this (performance.now()) */
  recordFrom = 0;
  readonly responseTimes: Record<string, number[]>;
  private readonly flows = new Map<string, Flow>();
  private readonly local: string;
  private seq = 0;
  private closed = false;

  private constructor(private readonly socket: Socket, private readonly target: LoadTarget,
    private readonly scenario: Scenario, private readonly pauseMs: number) {
    const addr = socket.address();
    this.local = `${addr.address}:${addr.port}`;
    this.responseTimes = Object.fromEntries(TIMED_STEPS[scenario].map((s) => [s, []]));
    socket.on('message', (msg) => this.onResponse(msg.toString('latin1')));
  }

  static async open(target: LoadTarget, scenario: Scenario, pauseMs: number): Promise<LoadSession> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => { socket.off('error', reject); resolve(); });
    });
    // a burst of responses must not overflow the kernel's default receive buffer
    socket.setRecvBufferSize(4 * 1024 * 1024);
    return new LoadSession(socket, target, scenario, pauseMs);
  }

  startOne(): void {
    if (this.closed) return;
    const n = ++this.seq;
    const flow: Flow = { callId: `${n}-${randomBytes(6).toString('hex')}@bench`, fromTag: `b${n}` };
    this.flows.set(flow.callId, flow);
    if (this.scenario === 'options') this.send(flow, 'options', this.request(flow, 'OPTIONS', 1));
    else this.send(flow, 'invite', this.request(flow, 'INVITE', 1, OFFER_SDP));
  }

  close(): void {
    this.closed = true;
    for (const flow of this.flows.values()) this.clear(flow);
    this.flows.clear();
    this.socket.close();
  }

  private request(flow: Flow, method: string, cseq: number, body = ''): Buffer {
    const ruri = `sip:bench@${this.target.address}:${this.target.port}`;
    const lines = [
      `${method} ${ruri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
      `From: <sip:load@${this.local}>;tag=${flow.fromTag}`,
      `To: <${ruri}>${flow.toTag ? `;tag=${flow.toTag}` : ''}`,
      `Call-ID: ${flow.callId}`,
      `CSeq: ${cseq} ${method}`,
      'Max-Forwards: 70',
    ];
    if (method === 'INVITE') lines.push(`Contact: <sip:load@${this.local}>`, 'Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    return Buffer.from(lines.join('\r\n'), 'latin1');
  }

  private send(flow: Flow, step: string, bytes: Buffer): void {
    const retransmit = (): void => {
      const o = flow.outstanding;
      if (!o || this.closed) return;
      if (performance.now() - o.sentAt >= FAIL_AFTER_MS) return this.end(flow, false);
      this.transmit(o.bytes);
      o.interval = Math.min(o.interval * 2, T2_MS);
      o.timer = setTimeout(retransmit, o.interval);
    };
    flow.outstanding = { step, bytes, sentAt: performance.now(), interval: T1_MS, timer: setTimeout(retransmit, T1_MS) };
    this.transmit(bytes);
  }

  private transmit(bytes: Buffer): void {
    if (!this.closed) this.socket.send(bytes, this.target.port, this.target.address);
  }

  private onResponse(text: string): void {
    const response = parseResponse(text);
    if (!response) return;
    const flow = this.flows.get(response.callId);
    if (!flow) return;
    if (response.status < 200) return;
    const o = flow.outstanding;
    if (response.method === 'INVITE' && flow.ack && response.status === 200) return this.transmit(flow.ack);
    if (!o || o.step !== response.method.toLowerCase()) return;
    clearTimeout(o.timer);
    flow.outstanding = undefined;
    if (response.status !== 200) return this.end(flow, false);
    if (o.sentAt >= this.recordFrom) this.responseTimes[o.step]?.push(performance.now() - o.sentAt);
    if (o.step !== 'invite') return this.end(flow, true);
    flow.toTag = response.toTag;
    flow.ack = this.request(flow, 'ACK', 1);
    this.transmit(flow.ack);
    flow.pause = setTimeout(() => this.send(flow, 'bye', this.request(flow, 'BYE', 2)), this.pauseMs);
  }

  private end(flow: Flow, ok: boolean): void {
    this.clear(flow);
    this.flows.delete(flow.callId);
    this.onEnd(ok);
  }

  private clear(flow: Flow): void {
    if (flow.outstanding) clearTimeout(flow.outstanding.timer);
    if (flow.pause) clearTimeout(flow.pause);
  }
}

const OFFER_SDP = [
  'v=0', 'o=load 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 40002 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', '',
].join('\r\n');

interface ParsedResponse {
  status: number;
  callId: string;
  method: string;
  toTag?: string;
}

/** Just what the generator needs from a response: status, Call-ID, CSeq method, To tag. */
export function parseResponse(text: string): ParsedResponse | undefined {
  const status = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1];
  if (!status) return undefined;
  const header = (long: string, compact: string): string | undefined =>
    new RegExp(`^(?:${long}|${compact})[ \\t]*:[ \\t]*(.*)$`, 'im').exec(text)?.[1]?.trim();
  const callId = header('call-id', 'i');
  const method = /\d+\s+([A-Za-z]+)/.exec(header('cseq', 'cseq') ?? '')?.[1]?.toUpperCase();
  if (!callId || !method) return undefined;
  const toTag = /;\s*tag=([^;>\s]+)/i.exec(header('to', 't') ?? '')?.[1];
  return { status: Number(status), callId, method, toTag };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
