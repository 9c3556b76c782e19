/** Starts an engine plus a drachtio-srf app connected to it, and tears both down. */
import Srf from 'drachtio-srf';
import { EngineStats } from '../../../lib/engine/transport/engine-stats.js';
import { startEmbeddedEngine, type EmbeddedEngine, type EmbeddedEngineOptions } from '../../../lib/engine/index.js';
import { TestUa, type Target } from './test-ua.js';

export const SECRET = 'cymru';

/*
 * The part of drachtio-srf (5.x) the engine tests use, typed from what its lib/*.js does at
 * runtime. Its bundled lib/@types/index.d.ts is not used: it misses register/options/subscribe,
 * types createUAC's cbRequest as `(req)` where it is `(err, req)`, srf.request with a bogus
 * `method, [body]` signature, and header lookups as always returning a string.
 * Callbacks follow drachtio-srf's Node convention `(err, value)`: `value` is absent when `err` is set.
 */

/** The methods drachtio-srf knows (the `sip-methods` list it routes and validates against). */
export type SipMethod =
  | 'INVITE' | 'BYE' | 'REGISTER' | 'INFO' | 'SUBSCRIBE' | 'OPTIONS' | 'MESSAGE'
  | 'NOTIFY' | 'CANCEL' | 'UPDATE' | 'PRACK' | 'ACK' | 'REFER' | 'PUBLISH';

/** Headers the app adds to a message; drachtio-srf writes each value out as given. */
export type TestHeaders = Record<string, string>;

/** drachtio-srf's SipMessage (sip-parser/message.js): what requests and responses delegate to. */
export interface TestSipMessage {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Header lookup, any case or compact form; undefined when the header is absent. */
  get(name: string): string | undefined;
  has(name: string): boolean;
}

/** Sends the ACK (final response to an INVITE) or PRACK (reliable 1xx) for a response received. */
export type TestAck = (opts?: { headers?: TestHeaders; body?: string }) => void;

/** drachtio-srf's Request (request.js): one from the network, or one the app sent. */
export interface TestSrfRequest extends TestSipMessage {
  readonly method: string;
  readonly uri: string;
  readonly source: 'network' | 'application';
  readonly source_address: string;
  readonly source_port: number;
  readonly protocol: string;
  /** The engine connection a network request came in on (absent on requests the app sent). */
  readonly server?: { address?: string; hostport: string };
  /** A network INVITE: a CANCEL for it arrived (the engine has already answered 200/487). */
  on(event: 'cancel', listener: (cancel: TestSipMessage) => void): this;
  /** A request the app sent: each response to it, provisional ones included. */
  on(event: 'response', listener: (res: TestSrfResponse, ack: TestAck) => void): this;
  /** Sends a CANCEL for an INVITE the app sent; throws for a request from the network. */
  cancel(opts?: { headers?: TestHeaders }, callback?: (err: Error | null, cancel: TestSrfRequest) => void): void;
}

export interface TestResponseOptions {
  headers?: TestHeaders;
  body?: string;
}

/** Told whether the engine took the response; `err` is the engine's refusal text or a local Error. */
export type TestSendCallback = (err: Error | string | null, sent: TestSipMessage) => void;

/**
 * drachtio-srf's Response (response.js): the app's answer to a network request, and also what a
 * request the app sent hands to on('response').
 */
export interface TestSrfResponse extends TestSipMessage {
  readonly status: number;
  readonly reason: string;
  /** True once a final (>= 200) response went out. */
  readonly finalResponseSent: boolean;
  send(status: number, callback?: TestSendCallback): void;
  send(status: number, opts: TestResponseOptions, callback?: TestSendCallback): void;
  send(status: number, reason: string, opts?: TestResponseOptions, callback?: TestSendCallback): void;
}

/** Options for a request inside a dialog (dialog.js validates `method` against sip-methods). */
export interface TestDialogRequestOptions {
  method: SipMethod;
  headers?: TestHeaders;
  body?: string;
}

/** Dialog events that hand over a request the app must answer with res.send. */
export type TestDialogRequestEvent =
  | 'modify' | 'info' | 'update' | 'refer' | 'options' | 'message' | 'publish' | 'notify' | 'subscribe';

/** drachtio-srf's Dialog (dialog.js), from createUAS or createUAC. */
export interface TestDialog {
  /** The engine's dialog id. */
  readonly id: string;
  readonly type: 'uas' | 'uac';
  readonly sip: { callId: string; localTag: string; remoteTag: string };
  readonly local: { uri: string; sdp: string; contact: string };
  readonly remote: { uri: string; sdp: string };
  /** False once the dialog has ended. */
  readonly connected: boolean;
  /** The dialog ended from the far end (BYE, ACK timeout, terminating NOTIFY); `reason` comes with a BYE. */
  on(event: 'destroy', listener: (req: TestSrfRequest, reason?: string) => void): this;
  /** Notifications that need no answer from the app. */
  on(event: 'ack' | 'refresh' | 'hold' | 'unhold', listener: (req: TestSrfRequest) => void): this;
  on(event: TestDialogRequestEvent, listener: (req: TestSrfRequest, res: TestSrfResponse) => void): this;
  /** Resolves with the first response, which may be provisional. */
  request(opts: TestDialogRequestOptions): Promise<TestSrfResponse>;
  request(opts: TestDialogRequestOptions, callback: (err: Error | null, res: TestSrfResponse) => void): this;
  /** Sends a re-INVITE with `sdp` ('hold' / 'unhold' rewrite the current one); resolves with the answer SDP. */
  modify(sdp: string, opts?: { headers?: TestHeaders }): Promise<string>;
  /** Sends BYE (or a terminating NOTIFY); resolves with the request sent, once it is answered. */
  destroy(opts?: { headers?: TestHeaders }): Promise<TestSrfRequest>;
}

/** A handler for a routed method; drachtio-srf ignores what it returns. */
export type TestSrfHandler = (req: TestSrfRequest, res: TestSrfResponse, next: (err?: Error) => void) => void;

/** srf.invite(handler), srf.register(handler), ...: one per sip-methods entry, lower-cased. */
export type TestSrfRoutes = Record<Lowercase<SipMethod>, (handler: TestSrfHandler) => void>;

export interface TestCredentials {
  username: string;
  password: string;
}

/** srf.request options; Call-ID, CSeq, From and To in `headers` are kept. */
export interface TestRequestOptions {
  method: SipMethod;
  headers?: TestHeaders;
  body?: string;
  /** Answer a 401/407 challenge with these. */
  auth?: TestCredentials;
  /** Next hop, while the Request-URI stays `uri`. */
  proxy?: string;
}

export interface TestUasOptions {
  localSdp?: string;
  headers?: TestHeaders;
}

export interface TestUacOptions {
  localSdp?: string;
  headers?: TestHeaders;
  auth?: TestCredentials;
  proxy?: string;
}

export interface TestUacProgress {
  /** The INVITE is on the wire (`req`), or could not be sent (`err`). */
  cbRequest?: (err: Error | null, req: TestSrfRequest) => void;
  /** Each 1xx to the INVITE. */
  cbProvisional?: (res: TestSrfResponse) => void;
}

/** What srf.proxyRequest resolves with. */
export interface TestProxyResult {
  connected: boolean;
  finalStatus?: number;
  responses: { address: string; port: number; msgs: { time: string; status: number; msg: TestSipMessage }[] }[];
}

export interface TestConnectOptions {
  host: string;
  port: number;
  secret: string;
  reconnect?: { maxAttempts?: number };
}

/** Emitted after authentication: `hostport` is the engine's SIP address list (absent on failure). */
export type TestConnectListener = (
  err: Error | null, hostport: string, serverVersion?: string | null, localHostports?: string | null,
) => void;

/** drachtio-srf's Srf (srf.js) as the engine tests use it. */
export interface TestSrf extends TestSrfRoutes {
  connect(opts: TestConnectOptions): void;
  disconnect(): void;
  on(event: 'connect', listener: TestConnectListener): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'connect', listener: TestConnectListener): this;
  use(handler: TestSrfHandler): void;
  use(method: Lowercase<SipMethod>, handler: TestSrfHandler): void;
  /** Sends a request outside a dialog; resolves (or calls back) once the engine has sent it. */
  request(uri: string, opts: TestRequestOptions): Promise<TestSrfRequest>;
  request(uri: string, opts: TestRequestOptions, callback: (err: Error | null, req: TestSrfRequest) => void): this;
  /** Answers an INVITE 200 (a SUBSCRIBE 202); rejects with a 487 SipError if it was cancelled first. */
  createUAS(req: TestSrfRequest, res: TestSrfResponse, opts: TestUasOptions): Promise<TestDialog>;
  /** Sends an INVITE; rejects with a SipError carrying `status` for a final non-2xx. */
  createUAC(uri: string, opts: TestUacOptions, progress?: TestUacProgress): Promise<TestDialog>;
  proxyRequest(req: TestSrfRequest, destination: string | string[]): Promise<TestProxyResult>;
}

export interface Harness {
  engine: EmbeddedEngine;
  srf: TestSrf;
  udp: Target;
  tcp: Target;
  /** set when the engine listens on TLS */
  tls?: Target;
  uas: TestUa[];
  ua(transport: 'udp' | 'tcp'): Promise<TestUa>;
  close(): Promise<void>;
}

/**
 * DRACHTIO_COMPARE=<wirePort>:<sipPort> runs the same scenarios against a real drachtio-server
 * on 127.0.0.1 (secret "cymru"), to check the engine mirrors it. Tests that need engine-only
 * knobs (limits, timers) are not meaningful in that mode.
 */
function realServer(): EmbeddedEngine | undefined {
  const spec = process.env['DRACHTIO_COMPARE'];
  if (!spec) return undefined;
  const [wire, sip] = spec.split(':').map(Number);
  return {
    wirePort: wire!,
    sipAddresses: [{ transport: 'udp', address: '127.0.0.1', port: sip! }, { transport: 'tcp', address: '127.0.0.1', port: sip! }],
    connectionCount: 0,
    stats: new EngineStats(),
    connectionsByTransport: () => ({}),
    reloadTls: () => false,
    openAppLink: () => {
      throw new Error('a real drachtio-server has no in-process link');
    },
    stop: async () => undefined,
  };
}

export async function startEngine(overrides: Partial<EmbeddedEngineOptions> = {}): Promise<EmbeddedEngine> {
  const real = realServer();
  if (real) return real;
  return startEmbeddedEngine({
    sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp'] }],
    wire: { secret: SECRET },
    timers: { t1: 100, t2: 400, t4: 500 },
    ...overrides,
  });
}

export function connectSrf(port: number, secret = SECRET): Promise<TestSrf> {
  // drachtio-srf's own .d.ts is wrong or silent on much of what the tests call (see TestSrf).
  const srf = new Srf() as unknown as TestSrf;
  return new Promise((resolve, reject) => {
    srf.on('error', () => undefined);
    srf.connect({ host: '127.0.0.1', port, secret, reconnect: { maxAttempts: 1 } });
    srf.once('connect', (err: Error | null) => (err ? reject(err) : resolve(srf)));
  });
}

export async function startHarness(overrides: Partial<EmbeddedEngineOptions> = {}): Promise<Harness> {
  const engine = await startEngine(overrides);
  const srf = await connectSrf(engine.wirePort);
  const find = (t: 'udp' | 'tcp' | 'tls'): Target | undefined => {
    const a = engine.sipAddresses.find((x) => x.transport === t);
    return a ? { address: a.address, port: a.port } : undefined;
  };
  const tls = find('tls');
  const h: Harness = {
    engine, srf, udp: find('udp')!, tcp: find('tcp')!, ...(tls ? { tls } : {}), uas: [],
    async ua(t) {
      const ua = t === 'udp' ? await TestUa.udp(h.udp) : await TestUa.tcp(h.tcp);
      h.uas.push(ua);
      return ua;
    },
    async close() {
      for (const ua of h.uas) ua.close();
      try { srf.disconnect(); } catch { /* already gone */ }
      await engine.stop();
    },
  };
  return h;
}

/** srf.use-style route registration resolves asynchronously over the wire; give it a tick. */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
