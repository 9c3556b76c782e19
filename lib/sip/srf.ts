/**
 * A small typed layer over drachtio-srf. Its bundled .d.ts misses `srf.register`, types
 * `createUAC`'s cbRequest as `(req)` where it is `(err, req)`, and uses `any` for errors. The
 * rest of pushwake sees only these interfaces; `wrapSrf` is the one place that touches the
 * untyped object.
 */
import { createRequire } from 'node:module';
import Srf from 'drachtio-srf';
import { PendingInvites, type PendingInvite } from './pending-invites.js';

export type Headers = Record<string, string>;

/** What every SIP message exposes, requests and responses alike. */
export interface SipMessageView {
  readonly body: string;
  readonly raw?: string;
  get(name: string): string | undefined;
  has(name: string): boolean;
}

export interface SrfServerInfo {
  address?: string;
  hostport?: string;
}

/** A request from the network, handed to the app. */
export interface InboundRequest extends SipMessageView {
  readonly method: string;
  readonly uri: string;
  /** The Call-ID (set by SipApp.onRequest; drachtio-srf itself has no such property). */
  readonly callId: string;
  readonly source_address: string;
  readonly source_port: string | number;
  readonly protocol: string;
  readonly server?: SrfServerInfo;
  on(event: 'cancel', fn: (cancelRequest: SipMessageView) => void): this;
  removeListener(event: 'cancel', fn: (cancelRequest: SipMessageView) => void): this;
}

export interface ResponseOptions {
  headers?: Headers;
  body?: string;
}

/** The app's side of a server transaction. */
export interface ServerResponse {
  readonly finalResponseSent: boolean;
  send(status: number, reason: string, opts: ResponseOptions, cb?: (err: Error | null) => void): void;
  send(status: number, opts?: ResponseOptions): void;
}

/** A response from the network to a request the app sent. */
export interface InboundResponse extends SipMessageView {
  readonly status: number;
  readonly reason: string;
}

/** A request the app sent (out of dialog). */
export interface OutboundRequest extends SipMessageView {
  readonly method: string;
  on(event: 'response', fn: (res: InboundResponse) => void): this;
  cancel(opts: { headers?: Headers }, cb?: (err: Error | null) => void): void;
}

export interface DialogRequestOptions {
  method: string;
  headers?: Headers;
  body?: string;
}

export type DialogEvent = 'modify' | 'info' | 'update' | 'refer' | 'notify' | 'message' | 'options';

export interface SipDialog {
  readonly id: string;
  readonly sip: { callId: string; localTag: string; remoteTag: string };
  readonly local: { sdp: string };
  readonly remote: { sdp: string };
  /** False once drachtio-srf saw the dialog end (e.g. a BYE that came before we listened). */
  readonly connected?: boolean;
  on(event: 'destroy', fn: (bye: SipMessageView) => void): this;
  on(event: DialogEvent, fn: (req: InboundRequest, res: ServerResponse) => void): this;
  removeListener(event: string, fn: (...args: never[]) => void): this;
  /**
   * drachtio-srf calls back once per response, provisional ones included (its Promise form
   * resolves on the first, which may be a 100 Trying): use `requestFinal`.
   */
  request(opts: DialogRequestOptions, cb: (err: Error | null, res: InboundResponse) => void): unknown;
  destroy(opts?: { headers?: Headers }): Promise<unknown>;
}

/** Send an in-dialog request and resolve with its final response (ACKing a re-INVITE's 2xx). */
export function requestFinal(dialog: SipDialog, opts: DialogRequestOptions): Promise<InboundResponse> {
  return new Promise((resolve, reject) => {
    dialog.request(opts, (err, res) => {
      if (err) reject(err);
      else if (res.status >= 200) resolve(res);
    });
  });
}

export interface UacOptions {
  headers?: Headers;
  localSdp?: string;
  /** Next hop, while the Request-URI stays `uri`. */
  proxy?: string;
}

export interface UacProgress {
  /** Called once the INVITE is on the wire (or failed to go). */
  onRequestSent?: (req: OutboundRequest) => void;
  onProvisional?: (res: InboundResponse) => void;
}

/** A final non-2xx for a UAC INVITE surfaces as this error. */
export interface SipStatusError extends Error {
  status: number;
  res?: InboundResponse;
}

export const isSipStatusError = (err: unknown): err is SipStatusError =>
  err instanceof Error && typeof (err as Partial<SipStatusError>).status === 'number';

export type RequestHandler = (req: InboundRequest, res: ServerResponse) => void;

export interface OutOfDialogRequest {
  method: string;
  headers?: Headers;
  body?: string;
  /** Next hop, while the Request-URI stays the given uri. */
  proxy?: string;
}

/** Methods an app can take out of dialog. */
export type RoutedMethod = 'register' | 'invite' | 'options' | 'message' | 'subscribe' | 'info' | 'notify' | 'publish';

/** The part of drachtio-srf that pushwake uses. */
export interface SipApp {
  onRequest(method: RoutedMethod, handler: RequestHandler): void;
  /**
   * Send a request out of dialog. `onResponse` is attached before anything else can run: a
   * response may arrive in the same socket read as the engine's acknowledgement of the request.
   */
  request(uri: string, opts: OutOfDialogRequest, onResponse?: (res: InboundResponse) => void): Promise<OutboundRequest>;
  createUac(uri: string, opts: UacOptions, progress: UacProgress): Promise<SipDialog>;
  createUas(req: InboundRequest, res: ServerResponse, opts: { localSdp: string; headers?: Headers }): Promise<SipDialog>;
  /**
   * Connect and wait until the SIP server confirmed the app's routes. `onHostports` hears what the
   * server listens on as soon as it is known, before any request can be routed to the app.
   */
  connect(opts: ConnectOptions): Promise<string>;
  disconnect(): void;
  onDisconnect(fn: () => void): void;
  /** Each (re)connection to the SIP engine. */
  onConnect(fn: () => void): void;
}

export interface ConnectOptions {
  host: string;
  port: number;
  secret: string;
  onHostports?: (hostports: string) => void;
  /**
   * An engine in this process: the app's end of an in-process wire link (the embedded engine's
   * `openAppLink`), used instead of a TCP connection to host:port. Not reconnected when it closes.
   */
  inProcess?: () => InProcessSocket;
}

/**
 * What drachtio-srf's wire protocol needs of a socket, for an in-process link end; it also emits
 * `message` with each wire message, unframed.
 */
export interface InProcessSocket {
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  write(data: string, callback?: () => void): boolean;
  end(): unknown;
  destroy(): unknown;
  setNoDelay(): unknown;
  setKeepAlive(): unknown;
}

/* The untyped shape of drachtio-srf's Srf object, as far as we call it. */
interface RawSrf {
  register(fn: RequestHandler): void;
  invite(fn: RequestHandler): void;
  options(fn: RequestHandler): void;
  message(fn: RequestHandler): void;
  subscribe(fn: RequestHandler): void;
  info(fn: RequestHandler): void;
  notify(fn: RequestHandler): void;
  publish(fn: RequestHandler): void;
  request(uri: string, opts: OutOfDialogRequest, cb: (err: Error | null, req: OutboundRequest) => void): void;
  createUAC(
    uri: string,
    opts: UacOptions,
    progress: { cbRequest: (err: Error | null, req: OutboundRequest) => void; cbProvisional: (res: InboundResponse) => void },
  ): Promise<SipDialog>;
  createUAS(req: InboundRequest, res: ServerResponse, opts: { localSdp: string; headers?: Headers }): Promise<SipDialog>;
  connect(opts: { host: string; port: number; secret: string; inProcess?: () => InProcessSocket }): void;
  disconnect(): void;
  on(event: 'connect', fn: (err: Error | null, hostport: string) => void): void;
  on(event: 'error' | 'close', fn: (err?: Error) => void): void;
  removeListener(event: string, fn: (...args: never[]) => void): void;
}

/* Where drachtio-srf keeps the network INVITEs awaiting a final response (see pending-invites.ts). */
interface RawAgentView {
  agent?: { mapServer?: Map<unknown, { pendingNetworkInvites?: Map<string, PendingInvite> | PendingInvites }> };
  socket?: unknown;
}

/** Put a fork-aware PendingInvites in place of drachtio-srf's Map for this INVITE's connection. */
function trackForks(invite: InboundRequest): void {
  const raw = invite as unknown as RawAgentView;
  const server = raw.agent?.mapServer?.get(raw.socket);
  const pending = server?.pendingNetworkInvites;
  if (server && pending && !(pending instanceof PendingInvites)) server.pendingNetworkInvites = new PendingInvites(pending.entries());
}

/* The parts of drachtio-srf's agent that confirm the routes (see routesInPlace). */
interface RawAgent {
  mapServer: Map<unknown, { pendingRequests: Map<string, () => void> }>;
  wp: { send(socket: unknown, msg: string): string };
}

const ROUTES_CONFIRM_TIMEOUT_MS = 5000;

/**
 * drachtio-srf emits 'connect' right after it sends its `route|<method>` commands, without waiting
 * for their answers; a request that reaches drachtio-server before it has read them gets
 * "503 No providers available". The server reads one connection's commands in order, so once a
 * ping sent after them is answered, every route is in place. Then pushwake is ready.
 */
async function routesInPlace(raw: RawSrf): Promise<void> {
  const agent = (raw as unknown as { _app?: { client?: RawAgent } })._app?.client;
  if (!agent?.mapServer || !agent.wp) return;
  await Promise.all([...agent.mapServer.entries()].map(([socket, server]) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the SIP engine did not confirm the routes in time')), ROUTES_CONFIRM_TIMEOUT_MS);
      timer.unref();
      server.pendingRequests.set(agent.wp.send(socket, 'ping'), () => {
        clearTimeout(timer);
        resolve();
      });
    })));
}

/** Status codes newer than drachtio-srf's table (sip-status), which Response#send refuses otherwise. */
const MISSING_STATUS: Readonly<Record<number, string>> = { 555: 'Push Notification Service Not Supported' };

/**
 * Teach every loaded copy of sip-status (drachtio-srf's table of response codes) the codes above:
 * pushwake's own copy of drachtio-srf, and a host app's, which may be another. Idempotent.
 */
export function allowNewerStatusCodes(): void {
  const require = createRequire(import.meta.url);
  const tables: Array<Record<number, string>> = [];
  try {
    tables.push(createRequire(require.resolve('drachtio-srf'))('sip-status') as Record<number, string>);
  } catch {
    // resolved through the cache below
  }
  for (const [path, mod] of Object.entries(require.cache)) {
    if (/[\\/]sip-status[\\/]index\.js$/.test(path) && mod && typeof mod.exports === 'object') tables.push(mod.exports as Record<number, string>);
  }
  for (const table of tables) for (const [code, reason] of Object.entries(MISSING_STATUS)) table[Number(code)] ??= reason;
}

/* drachtio-srf's WireProtocol, as far as the in-process link reaches into it. */
interface RawWireProtocol {
  host: string;
  port: number;
  reconnectOpts: { maxAttempts?: number };
  reconnectVars: Record<string, unknown>;
  initializeRetryVars(): void;
  _evalPingOpts(opts: object): void;
  installListeners(socket: InProcessSocket): void;
  emit(event: 'msg', socket: InProcessSocket, message: string): boolean;
  connect(opts: { inProcess?: () => InProcessSocket }): void;
}

const linkedProtocols = new WeakSet<object>();

/**
 * Teach drachtio-srf's WireProtocol (every loaded copy) the `inProcess` connect option: the
 * socket comes from the engine in this process instead of net.connect. Everything past the
 * socket (framing, authenticate, routes, pings) is drachtio-srf's own. Idempotent.
 */
function allowInProcessLinks(): void {
  const require = createRequire(import.meta.url);
  const classes: Array<{ prototype: RawWireProtocol }> = [];
  try {
    classes.push(createRequire(require.resolve('drachtio-srf'))('./wire-protocol') as { prototype: RawWireProtocol });
  } catch {
    // resolved through the cache below
  }
  for (const [path, mod] of Object.entries(require.cache)) {
    if (/[\\/]drachtio-srf[\\/]lib[\\/]wire-protocol\.js$/.test(path) && mod && typeof mod.exports === 'function') classes.push(mod.exports as { prototype: RawWireProtocol });
  }
  for (const cls of classes) {
    const proto = cls.prototype;
    if (linkedProtocols.has(proto)) continue;
    linkedProtocols.add(proto);
    const viaNetwork = proto.connect;
    proto.connect = function connect(this: RawWireProtocol, opts: { inProcess?: () => InProcessSocket }): void {
      if (!opts.inProcess) return viaNetwork.call(this, opts);
      this.host = 'in-process';
      this.port = 0;
      // one attempt: the link closes only when the engine stops, and there is nothing to dial
      this.reconnectOpts = { maxAttempts: 1 };
      this.reconnectVars = {};
      this.initializeRetryVars();
      this._evalPingOpts(opts);
      const socket = opts.inProcess();
      this.installListeners(socket);
      // the link hands over whole messages: what _onData would emit once it had framed the bytes
      socket.on('message', (message: unknown) => {
        if (typeof message === 'string') this.emit('msg', socket, message);
      });
    };
  }
}

/** A new drachtio-srf Srf, with the 'error' listener without which Node would throw on socket trouble. */
export function newSrf(): Srf {
  const srf = new Srf();
  srf.on('error', () => undefined);
  return srf;
}

export function createSipApp(srf: Srf = newSrf()): SipApp {
  return sipAppOf(srf);
}

/** The typed view of a drachtio-srf Srf (the host's, when pushwake is mounted in an app). */
export function sipAppOf(srf: Srf): SipApp {
  allowNewerStatusCodes();
  return wrapSrf(srf as unknown as RawSrf);
}

/**
 * drachtio-srf's request and response, as pushwake's handlers see them: a `callId` read once (srf
 * requests have none), and for an INVITE the fork-aware pending-INVITE map in place.
 */
export function prepareRequest(req: Srf.SrfRequest, res: Srf.SrfResponse): [InboundRequest, ServerResponse] {
  const request = req as unknown as InboundRequest;
  if (req.method === 'INVITE') trackForks(request);
  if (typeof (req as { callId?: unknown }).callId !== 'string') {
    Object.defineProperty(req, 'callId', { value: request.get('Call-ID') ?? '', enumerable: true, configurable: true, writable: true });
  }
  return [request, res as unknown as ServerResponse];
}

function wrapSrf(raw: RawSrf): SipApp {
  return {
    onRequest(method, handler) {
      raw[method]((req, res) => {
        const [request, response] = prepareRequest(req as unknown as Srf.SrfRequest, res as unknown as Srf.SrfResponse);
        handler(request, response);
      });
    },
    request(uri, opts, onResponse) {
      return new Promise((resolve, reject) => {
        raw.request(uri, opts, (err, req) => {
          if (err) return reject(err);
          if (onResponse) req.on('response', onResponse);
          resolve(req);
        });
      });
    },
    createUac(uri, opts, progress) {
      return raw.createUAC(uri, opts, {
        cbRequest: (err, req) => {
          if (!err) progress.onRequestSent?.(req);
        },
        cbProvisional: (res) => progress.onProvisional?.(res),
      });
    },
    createUas(req, res, opts) {
      return raw.createUAS(req, res, opts);
    },
    connect(opts) {
      return new Promise((resolve, reject) => {
        const onConnect = (err: Error | null, hostport: string): void => {
          raw.removeListener('error', onError);
          raw.removeListener('connect', onConnect);
          if (err) return reject(err);
          // what the server listens on is known now: tell the app before requests can arrive
          opts.onHostports?.(hostport);
          void routesInPlace(raw).then(() => resolve(hostport), reject);
        };
        const onError = (err?: Error): void => {
          raw.removeListener('connect', onConnect);
          reject(err ?? new Error('drachtio connection failed'));
        };
        raw.on('connect', onConnect);
        raw.on('error', onError);
        if (opts.inProcess) allowInProcessLinks();
        raw.connect({ host: opts.host, port: opts.port, secret: opts.secret, ...(opts.inProcess ? { inProcess: opts.inProcess } : {}) });
      });
    },
    disconnect() {
      try {
        raw.disconnect();
      } catch {
        // drachtio-srf asserts when its connection is already gone: then there is nothing to close
      }
    },
    onDisconnect(fn) {
      // drachtio-srf says 'close' when its connection to the server goes (it has no 'disconnect')
      raw.on('close', () => fn());
    },
    onConnect(fn) {
      raw.on('connect', (err) => {
        if (!err) fn();
      });
    },
  };
}
