/**
 * The phones of the REGISTER-relay benchmark, in one process and one event loop: raw REGISTERs
 * over one or a few UDP sockets, no SIP stack. Each registration is one REGISTER transaction
 * (two when the registrar challenges: the 401 is answered with digest, a new CSeq and the same
 * Call-ID), tracked by its Via branch and retransmitted like a UAC's non-INVITE client
 * transaction (RFC 3261 17.1.2: Timer E from T1 = 500 ms doubling to T2 = 4 s, Timer F = 32 s).
 *
 * Phone i is relay<i>@example.com with Contact <sip:relay<i>@127.0.0.1:<its socket's port>;transport=udp>,
 * one Call-ID for all its registrations and an `X-Token` of 64 hex digits of its own, so pushwake
 * stores it as a push-capable iOS phone. The phones are used in turn; one with a registration in
 * flight is skipped.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { distributionOf } from '../support/stats.js';
import { digestAuthorization } from './digest.js';
import type { FailureCause, FixedRateOutcome, FleetCounts, FleetOptions } from './protocol.js';
import { authParams, headerValue, statusOf, topBranchOf } from './sip-text.js';

const T1_MS = 500;
const T2_MS = 4000;
/** Timer F: 64 × T1. A transaction with no final response by then has failed. */
const TIMER_F_MS = 64 * T1_MS;
/** How often the open-loop pacer wakes to start the registrations that are due. */
const PACER_TICK_MS = 1;
const DOMAIN = 'example.com';
const REQUEST_URI = `sip:${DOMAIN}`;
/** What the phones ask for; within pushwake's default minExpires..maxExpires (30..7200). */
const EXPIRES = 600;
const SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;

/** The digest password of phone `user` (the raw registrar does not check it; the digest is still computed). */
export const passwordOf = (user: string): string => `secret-${user}`;

/** One registration in progress; its current transaction is the last REGISTER sent. */
interface Registration {
  phone: number;
  /** performance.now() of its first REGISTER */
  startedAt: number;
  challenged: boolean;
  /** its latency is kept (started during a fixed-rate phase) */
  timed: boolean;
  branch: string;
  bytes: Buffer;
  /** Timer F runs out at this performance.now() */
  deadline: number;
  interval: number;
  timer: NodeJS.Timeout | undefined;
}

export class PhoneFleet {
  private readonly byBranch = new Map<string, Registration>();
  private readonly cseq: Uint32Array;
  private readonly busy: Uint8Array;
  private readonly gotOk: Uint8Array;
  private readonly tokenPrefix: string;
  private readonly counts: FleetCounts = { ok: 0, failed: 0, failures: {}, transactions: 0, retransmissions: 0, inFlight: 0, distinctOk: 0, socketErrors: 0 };
  private nextPhone = 0;
  private branchSeq = 0;
  private closed = false;
  private onEnd: () => void = () => undefined;
  private timing = false;
  private latencies: number[] = [];

  private constructor(private readonly opts: FleetOptions, private readonly sockets: Socket[], private readonly ports: number[]) {
    this.cseq = new Uint32Array(opts.phones);
    this.busy = new Uint8Array(opts.phones);
    this.gotOk = new Uint8Array(opts.phones);
    // 56 random hex digits of this run, then 8 of the phone's index: 64 in all, one token per phone
    this.tokenPrefix = randomBytes(28).toString('hex');
    for (const s of sockets) {
      s.on('message', this.onMessage);
      s.on('error', () => void this.counts.socketErrors++);
    }
  }

  /** Binds the sockets on 127.0.0.1 and connects each to the target (so a send names no address). */
  static async open(opts: FleetOptions): Promise<PhoneFleet> {
    if (opts.phones < 1 || opts.sockets < 1) throw new Error('need at least one phone and one socket');
    const sockets: Socket[] = [];
    const ports: number[] = [];
    for (let i = 0; i < opts.sockets; i++) {
      const s = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, '127.0.0.1', () => {
          s.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve) => s.connect(opts.target.port, opts.target.host, () => resolve()));
      // a burst of answers must not overflow the kernel's default receive buffer
      s.setRecvBufferSize(SOCKET_BUFFER_BYTES);
      s.setSendBufferSize(SOCKET_BUFFER_BYTES);
      sockets.push(s);
      ports.push(s.address().port);
    }
    return new PhoneFleet(opts, sockets, ports);
  }

  get localPorts(): number[] {
    return [...this.ports];
  }

  snapshot(): FleetCounts {
    return { ...this.counts, failures: { ...this.counts.failures } };
  }

  /** Closed loop: `window` registrations in flight, each end starting the next, until stop(). */
  closedLoop(window: number): void {
    this.onEnd = () => void this.start();
    for (let i = 0; i < window; i++) this.start();
  }

  /** Start no more; resolves once nothing is in flight, or after `drainMs`. */
  async stop(drainMs: number): Promise<void> {
    this.onEnd = () => undefined;
    const until = performance.now() + drainMs;
    while (this.counts.inFlight > 0 && performance.now() < until) await sleep(20);
  }

  /** Open loop: `rate` registrations a second for `seconds`, paced every millisecond; resolves when all have ended. */
  async fixedRate(rate: number, seconds: number): Promise<FixedRateOutcome> {
    const total = Math.max(1, Math.round(rate * seconds));
    this.latencies = [];
    this.timing = true;
    let launched = 0;
    let lastLaunch = 0;
    let lastEnd = 0;
    this.onEnd = () => void (lastEnd = performance.now());
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const pacer = setInterval(() => {
        const now = performance.now();
        // the first goes at once, the k-th (from 0) at k / rate seconds
        const due = Math.min(total, Math.floor(((now - started) / 1000) * rate) + 1);
        while (launched < due) {
          if (!this.start()) lastEnd = now;
          launched++;
          lastLaunch = now;
        }
        if (launched >= total) {
          clearInterval(pacer);
          resolve();
        }
      }, PACER_TICK_MS);
    });
    await this.stop(TIMER_F_MS + 2000);
    this.timing = false;
    this.onEnd = () => undefined;
    return {
      counts: this.snapshot(),
      launched,
      paceSeconds: (lastLaunch - started) / 1000,
      endSeconds: (Math.max(lastEnd, lastLaunch) - started) / 1000,
      latency: distributionOf(this.latencies),
    };
  }

  close(): void {
    this.closed = true;
    for (const r of this.byBranch.values()) clearTimeout(r.timer);
    this.byBranch.clear();
    for (const s of this.sockets) s.close();
  }

  /** Starts the next idle phone's registration; false (a failure) when every phone is busy. */
  private start(): boolean {
    if (this.closed) return false;
    const n = this.opts.phones;
    let i = this.nextPhone;
    for (let tries = 0; this.busy[i] === 1; tries++) {
      if (tries >= n) {
        this.fail('no-idle-phone');
        return false;
      }
      i = (i + 1) % n;
    }
    this.nextPhone = (i + 1) % n;
    this.busy[i] = 1;
    this.counts.inFlight++;
    const r: Registration = {
      phone: i, startedAt: performance.now(), challenged: false, timed: this.timing,
      branch: '', bytes: Buffer.alloc(0), deadline: 0, interval: T1_MS, timer: undefined,
    };
    this.send(r, undefined);
    return true;
  }

  /** A new transaction for `r`: next CSeq, new branch, sent now and on Timer E. */
  private send(r: Registration, authorization: string | undefined): void {
    this.cseq[r.phone] = (this.cseq[r.phone] ?? 0) + 1;
    r.branch = `z9hG4bK${this.opts.runTag}.${(++this.branchSeq).toString(36)}`;
    r.bytes = this.request(r, authorization);
    r.deadline = performance.now() + TIMER_F_MS;
    r.interval = T1_MS;
    r.timer = setTimeout(this.onTimer, T1_MS, r);
    this.byBranch.set(r.branch, r);
    this.counts.transactions++;
    this.transmit(r);
  }

  private request(r: Registration, authorization: string | undefined): Buffer {
    const i = r.phone;
    const port = this.ports[i % this.ports.length] ?? 0;
    const user = `relay${i}`;
    const text = `REGISTER ${REQUEST_URI} SIP/2.0\r\n`
      + `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${r.branch};rport\r\n`
      + 'Max-Forwards: 70\r\n'
      + `From: <sip:${user}@${DOMAIN}>;tag=${this.opts.runTag}${i.toString(36)}\r\n`
      + `To: <sip:${user}@${DOMAIN}>\r\n`
      + `Call-ID: ${user}-${this.opts.runTag}@bench\r\n`
      + `CSeq: ${this.cseq[i] ?? 1} REGISTER\r\n`
      + `Contact: <sip:${user}@127.0.0.1:${port};transport=udp>\r\n`
      + `Expires: ${EXPIRES}\r\n`
      + `X-Token: ${this.tokenPrefix}${i.toString(16).padStart(8, '0')}\r\n`
      + (authorization ? `Authorization: ${authorization}\r\n` : '')
      + 'Content-Length: 0\r\n\r\n';
    return Buffer.from(text, 'latin1');
  }

  private transmit(r: Registration): void {
    if (!this.closed) this.sockets[r.phone % this.sockets.length]?.send(r.bytes);
  }

  /** Timer E (retransmit, doubling to T2) until Timer F (fail). */
  private readonly onTimer = (r: Registration): void => {
    if (this.closed || this.byBranch.get(r.branch) !== r) return;
    const left = r.deadline - performance.now();
    if (left <= 1) {
      this.byBranch.delete(r.branch);
      this.end(r, 'timeout');
      return;
    }
    this.counts.retransmissions++;
    this.transmit(r);
    r.interval = Math.min(r.interval * 2, T2_MS);
    r.timer = setTimeout(this.onTimer, Math.min(r.interval, left), r);
  };

  private readonly onMessage = (msg: Buffer): void => {
    const text = msg.toString('latin1');
    const status = statusOf(text);
    if (status < 200) return;
    const branch = topBranchOf(text);
    const r = branch === undefined ? undefined : this.byBranch.get(branch);
    // a response to a transaction already over (a retransmitted 200) is absorbed
    if (!r) return;
    this.byBranch.delete(r.branch);
    clearTimeout(r.timer);
    if (status < 300) return this.end(r, undefined);
    if (status !== 401 || !this.opts.digest) return this.end(r, `status-${status}`);
    if (r.challenged) return this.end(r, 'second-401');
    const challenge = authParams(headerValue(text, 'WWW-Authenticate') ?? '');
    const realm = challenge.get('realm');
    const nonce = challenge.get('nonce');
    if (realm === undefined || nonce === undefined) return this.end(r, 'status-401');
    r.challenged = true;
    const user = `relay${r.phone}`;
    const qop = challenge.get('qop');
    const opaque = challenge.get('opaque');
    const authorization = digestAuthorization(
      { realm, nonce, ...(qop !== undefined ? { qop } : {}), ...(opaque !== undefined ? { opaque } : {}) },
      { username: user, password: passwordOf(user) }, 'REGISTER', REQUEST_URI, r.branch.slice(-12),
    );
    this.send(r, authorization);
  };

  /** The registration is over: ok when `failure` is undefined. */
  private end(r: Registration, failure: FailureCause | undefined): void {
    this.busy[r.phone] = 0;
    this.counts.inFlight--;
    if (failure === undefined) {
      this.counts.ok++;
      if (this.gotOk[r.phone] === 0) {
        this.gotOk[r.phone] = 1;
        this.counts.distinctOk++;
      }
      if (r.timed) this.latencies.push(performance.now() - r.startedAt);
    } else {
      this.fail(failure);
    }
    this.onEnd();
  }

  private fail(cause: FailureCause): void {
    this.counts.failed++;
    this.counts.failures[cause] = (this.counts.failures[cause] ?? 0) + 1;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
