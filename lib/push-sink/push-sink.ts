/**
 * The push sink: a local stand-in for APNs. It speaks the provider API over HTTP/2 + TLS
 * (`POST /3/device/<token>`), checks requests as Apple does, answers with Apple's statuses and
 * reasons, and records what it accepted. End-to-end tests point the APNs sender at it, and
 * `pushwake push-sink` runs it for integrators, with an `onPush` command to play the phone.
 */
import { randomUUID, createPublicKey } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import http2 from 'node:http2';
import { generateApnsTestKey } from './apns-test-key.js';
import { OnPushHook, hookVarsOf, type HookExit, type OnPushHookOptions } from './on-push-hook.js';
import type { ProviderKey } from './provider-token-check.js';
import { checkApnsRequest, type AcceptedRequest } from './request-check.js';
import { loadPushSinkRules, SinkRules, type PushSinkRule, type SinkAnswer } from './rules.js';
import { selfSignedCertificate } from './tls-cert.js';
import { FcmSide, type FcmReply } from './fcm.js';
import { hostPort } from '../net-address.js';

export interface PushSinkOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port (read it back from `port`). */
  port?: number;
  /** Server certificate. Default: a self-signed one, made with openssl, for localhost,
   * 127.0.0.1, ::1 and `host`. */
  tls?: { certPem: string; keyPem: string };
  /**
   * The key provider tokens must be signed with: its public key (or the .p8 private key, from
   * which the public key is derived), Key ID and Team ID. Default: a fresh key pair, returned
   * on the sink. 'unchecked' accepts any `authorization` header, or none.
   */
  providerKey?: { publicKeyPem?: string; keyPem?: string; keyId: string; teamId: string } | 'unchecked';
  /** Rules to start with; `rulesFile` ones are added after them. */
  rules?: PushSinkRule[];
  /** JSON file of rules: an array, or `{"rules": [...]}`. */
  rulesFile?: string;
  /** Where each accepted push is written as one JSON line. Default 'stdout'. */
  output?: 'stdout' | 'none' | { jsonlFile: string };
  /** Shell command run per accepted push, after the 200 is sent. A string is the command with
   * default concurrency (4). */
  onPush?: string | OnPushHookOptions;
  /** Accepted pushes kept in `pushes`, oldest dropped first. Default 1000. */
  maxRecorded?: number;
  /** Clock, epoch ms, for provider token ages and timestamps. Default `Date.now`. */
  now?: () => number;
  /** The Firebase project id of the sink's FCM side. Default `pushwake-sink`. */
  fcmProjectId?: string;
  /**
   * Accept certificate-based authentication too: client certificates this CA issued (PEM), whose
   * subject CN names the app as Apple's do ("Apple VoIP Services: <bundle id>").
   */
  clientCa?: string;
}

/**
 * One accepted push, as recorded and printed: the request as APNs accepted it, when it came, the
 * `apns-id` the sink answered with, and the provider token it was signed with, flattened.
 */
export type ReceivedPush = Omit<AcceptedRequest, 'apnsId' | 'providerToken'> & {
  /** apns, or fcm (then topic is the project id, pushType 'fcm-data', payload the data map). */
  provider?: 'apns' | 'fcm';
  /** Epoch ms. */
  receivedAt: number;
  /** The `apns-id` the sink answered with. */
  apnsId: string;
  /** `iat` of the provider token, epoch seconds. */
  providerTokenIssuedAt?: number;
  /** `kid` of the key the provider token was signed with. */
  providerKeyId?: string;
  /** Short hash of the `authorization` header: equal for pushes sent with the same JWT. */
  providerTokenFingerprint?: string;
};

export interface PushSink {
  host: string;
  port: number;
  /** `https://host:port`, the origin to give the APNs sender. */
  url: string;
  /** PEM of the server certificate, which is self-signed: trust it as the CA. */
  caCertPem: string;
  /** The APNs signing key (.p8 PEM), when the sink generated it or was given it. */
  keyPem?: string;
  /** Key ID and Team ID provider tokens must carry; absent with providerKey 'unchecked'. */
  keyId?: string;
  teamId?: string;
  publicKeyPem?: string;
  /** Accepted pushes, oldest first (bounded by `maxRecorded`). */
  pushes: ReceivedPush[];
  on(event: 'push', listener: (push: ReceivedPush) => void): void;
  on(event: 'hook-exit', listener: (exit: HookExit) => void): void;
  /** The FCM side: its service account (write it where fcm.serviceAccountFile points) and its state. */
  fcm: FcmSide;
  /**
   * Another APNs key (another team's app): the sink accepts pushes signed with it, for `topics`
   * only when given. Resolves with the key pushwake should sign with.
   */
  addProviderKey(opts?: { topics?: string[] }): { keyPem: string; keyId: string; teamId: string };
  /** Add or replace the rule for `rule.token`. */
  setRule(rule: PushSinkRule): void;
  /** Drop the rule of one token, or all rules. */
  clearRules(token?: string): void;
  /** Close connections and the listener, kill running hook commands, flush the JSONL file. */
  stop(): Promise<void>;
}

/** Bodies are read up to this size; anything larger is answered 413 anyway. */
const BODY_READ_CAP = 8192;

/** What the sink keeps and tells about each accepted push: the list, the output, listeners, the hook. */
class PushRecorder {
  readonly pushes: ReceivedPush[] = [];
  readonly events = new EventEmitter();
  private readonly jsonl: WriteStream | undefined;
  private readonly hook: OnPushHook | undefined;

  constructor(private readonly options: PushSinkOptions, private readonly now: () => number) {
    const output = options.output ?? 'stdout';
    this.jsonl = typeof output === 'object' ? createWriteStream(output.jsonlFile, { flags: 'a' }) : undefined;
    const hookOptions = typeof options.onPush === 'string' ? { command: options.onPush } : options.onPush;
    this.hook = hookOptions === undefined
      ? undefined
      : new OnPushHook(
          hookOptions,
          (exit) => this.emit('hook-exit', exit),
          (token) => process.stderr.write(`push sink: onPush queue full, dropped push to ${token.slice(0, 8)}…\n`),
        );
  }

  record(accepted: AcceptedRequest, apnsId: string, provider: 'apns' | 'fcm' = 'apns'): void {
    const push: ReceivedPush = {
      provider,
      receivedAt: this.now(),
      token: accepted.token,
      topic: accepted.topic,
      pushType: accepted.pushType,
      priority: accepted.priority,
      ...(accepted.expiration === undefined ? {} : { expiration: accepted.expiration }),
      ...(accepted.collapseId === undefined ? {} : { collapseId: accepted.collapseId }),
      apnsId,
      payload: accepted.payload,
      ...(accepted.providerToken === undefined
        ? {}
        : { providerTokenIssuedAt: accepted.providerToken.issuedAt, providerTokenFingerprint: accepted.providerToken.fingerprint, providerKeyId: accepted.providerToken.keyId }),
    };
    this.pushes.push(push);
    if (this.pushes.length > (this.options.maxRecorded ?? 1000)) this.pushes.shift();
    const line = `${JSON.stringify(push)}\n`;
    if (this.jsonl !== undefined) this.jsonl.write(line);
    else if ((this.options.output ?? 'stdout') === 'stdout') process.stdout.write(line);
    this.emit('push', push);
    this.hook?.enqueue(hookVarsOf(accepted));
  }

  /** A listener that throws must not take the sink down. */
  emit(event: string, value: unknown): void {
    try {
      this.events.emit(event, value);
    } catch (err) {
      process.stderr.write(`push sink: ${event} listener threw: ${String(err)}\n`);
    }
  }

  async stop(): Promise<void> {
    await this.hook?.stop();
    const jsonl = this.jsonl;
    if (jsonl !== undefined) await new Promise<void>((resolve) => jsonl.end(() => resolve()));
    this.events.removeAllListeners();
  }
}

/** APNs' answer on the wire: 200 with no body, else JSON with the reason (and a timestamp for 410). */
function answer(stream: http2.ServerHttp2Stream, apnsId: string, result: SinkAnswer, now: number): void {
  if (stream.destroyed || stream.closed) return;
  const headers: http2.OutgoingHttpHeaders = { ':status': result.status, 'apns-id': apnsId };
  if (result.retryAfterSeconds !== undefined) headers['retry-after'] = String(result.retryAfterSeconds);
  if (result.status === 200) {
    stream.respond(headers, { endStream: true });
    return;
  }
  headers['content-type'] = 'application/json';
  stream.respond(headers);
  const body = result.status === 410 ? { reason: result.reason ?? 'Unregistered', timestamp: now } : { reason: result.reason ?? `HTTP${result.status}` };
  stream.end(JSON.stringify(body));
}

/** One HTTP/2 server and what it owns: sessions, delayed answers. */
class SinkServer {
  private readonly server: http2.Http2SecureServer;
  private readonly delays = new Set<NodeJS.Timeout>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  fcm: FcmSide | undefined;
  /** Keys of further apps (addProviderKey). */
  readonly extraKeys: ProviderKey[] = [];

  constructor(
    tls: { certPem: string; keyPem: string },
    private readonly keys: ResolvedKey | undefined,
    private readonly rules: SinkRules,
    private readonly recorder: PushRecorder,
    private readonly now: () => number,
    clientCa?: string,
  ) {
    this.server = http2.createSecureServer({
      key: tls.keyPem, cert: tls.certPem,
      // certificate auth is checked per request; token-auth clients present no certificate
      ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}),
    });
    this.server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => session.destroy());
    });
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  async listen(port: number, host: string): Promise<number> {
    this.server.listen(port, host);
    await Promise.race([once(this.server, 'listening'), once(this.server, 'error').then(([err]) => Promise.reject(err))]);
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  async close(): Promise<void> {
    for (const timer of this.delays) clearTimeout(timer);
    this.delays.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    await closed;
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('error', () => stream.destroy());
    stream.on('data', (chunk: Buffer) => {
      if (size < BODY_READ_CAP) chunks.push(chunk);
      size += chunk.length;
    });
    stream.on('end', () => {
      const body = Buffer.concat(chunks).subarray(0, BODY_READ_CAP);
      const request = { method: String(headers[':method'] ?? ''), path: String(headers[':path'] ?? ''), headers, body, bodyTruncated: size > BODY_READ_CAP };
      if (this.fcm && FcmSide.handles(request.path)) return this.fcmStream(stream, request.path, headers, body.toString('utf8'));
      const check = checkApnsRequest(request, this.keys ? [this.keys.check, ...this.extraKeys] : undefined, this.now(), clientCertOf(stream));
      if (!check.ok) {
        answer(stream, randomUUID(), { status: check.status, reason: check.reason, delayMs: 0 }, this.now());
        return;
      }
      this.respond(stream, check.push);
    });
  }

  /** An FCM request: the token endpoint, or a message. */
  private fcmStream(stream: http2.ServerHttp2Stream, path: string, headers: http2.IncomingHttpHeaders, body: string): void {
    const fcm = this.fcm as FcmSide;
    const reply = (r: FcmReply): void => {
      if (stream.destroyed) return;
      stream.respond({ ':status': r.status, 'content-type': 'application/json; charset=utf-8', ...(r.headers ?? {}) });
      stream.end(JSON.stringify(r.body));
    };
    if (path === '/token') return reply(fcm.token(String(headers['content-type'] ?? ''), body));
    let delayMs = 0;
    const { reply: r, accepted } = fcm.send(path, String(headers['authorization'] ?? ''), body, (token) => {
      const a = this.rules.take(token);
      delayMs = a.delayMs;
      return a;
    });
    const done = (): void => {
      reply(r);
      if (accepted) {
        this.recorder.record({
          token: accepted.token, topic: accepted.project, pushType: 'fcm-data', priority: 10, expiration: Math.floor(this.now() / 1000) + accepted.ttlSeconds,
          ...(accepted.collapseKey ? { collapseId: accepted.collapseKey } : {}), payload: accepted.data,
        }, (r.body as { name?: string }).name ?? '', 'fcm');
      }
    };
    if (delayMs <= 0) return done();
    const timer = setTimeout(() => {
      this.delays.delete(timer);
      done();
    }, delayMs);
    this.delays.add(timer);
  }

  /** Answer per the rules for its token, at once or after the rule's delay. */
  private respond(stream: http2.ServerHttp2Stream, accepted: AcceptedRequest): void {
    const apnsId = accepted.apnsId ?? randomUUID();
    const result = this.rules.take(accepted.token);
    const send = (): void => {
      answer(stream, apnsId, result, this.now());
      if (result.status === 200) this.recorder.record(accepted, apnsId);
    };
    if (result.delayMs <= 0) return send();
    const timer = setTimeout(() => {
      this.delays.delete(timer);
      send();
    }, result.delayMs);
    this.delays.add(timer);
  }
}

export async function startPushSink(options: PushSinkOptions = {}): Promise<PushSink> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  const tls = options.tls ?? (await selfSignedCertificate([host]));
  const keys = resolveProviderKey(options.providerKey);
  const rules = new SinkRules();
  for (const rule of options.rules ?? []) rules.set(rule);
  if (options.rulesFile !== undefined) {
    for (const rule of await loadPushSinkRules(options.rulesFile)) rules.set(rule);
  }
  const recorder = new PushRecorder(options, now);
  const server = new SinkServer(tls, keys, rules, recorder, now, options.clientCa);
  const port = await server.listen(options.port ?? 0, host);
  const fcm = new FcmSide(`https://${hostPort(host, port)}`, options.fcmProjectId ?? 'pushwake-sink', now);
  server.fcm = fcm;
  let stopping: Promise<void> | undefined;
  return {
    host,
    port,
    url: `https://${hostPort(host, port)}`,
    caCertPem: tls.certPem,
    ...(keys?.keyPem === undefined ? {} : { keyPem: keys.keyPem }),
    ...(keys === undefined ? {} : { keyId: keys.check.keyId, teamId: keys.check.teamId, publicKeyPem: keys.publicKeyPem }),
    pushes: recorder.pushes,
    on(event: 'push' | 'hook-exit', listener: ((push: ReceivedPush) => void) | ((exit: HookExit) => void)): void {
      recorder.events.on(event, listener as (value: unknown) => void);
    },
    fcm,
    addProviderKey: (opts = {}) => {
      const k = generateApnsTestKey();
      server.extraKeys.push({ publicKey: createPublicKey(k.keyPem), keyId: k.keyId, teamId: k.teamId, ...(opts.topics ? { topics: opts.topics } : {}) });
      return { keyPem: k.keyPem, keyId: k.keyId, teamId: k.teamId };
    },
    setRule: (rule) => rules.set(rule),
    clearRules: (token) => rules.clear(token),
    stop: () => (stopping ??= server.close().then(() => recorder.stop())),
  };
}

/** The key provider tokens are checked against; undefined when the sink checks none. */
interface ResolvedKey {
  check: ProviderKey;
  keyPem?: string;
  publicKeyPem: string;
}

function resolveProviderKey(option: PushSinkOptions['providerKey']): ResolvedKey | undefined {
  if (option === 'unchecked') return undefined;
  const given = option ?? generateApnsTestKey();
  const source = given.publicKeyPem ?? given.keyPem;
  if (source === undefined) throw new Error('push sink: providerKey needs publicKeyPem or keyPem');
  const publicKey = createPublicKey(source);
  return {
    check: { publicKey, keyId: given.keyId, teamId: given.teamId },
    ...(given.keyPem === undefined ? {} : { keyPem: given.keyPem }),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The client certificate of a request's connection, when one was presented and the CA vouches for it. */
function clientCertOf(stream: http2.ServerHttp2Stream): { bundle: string } | undefined {
  const socket = stream.session?.socket as (import('node:tls').TLSSocket) | undefined;
  if (!socket?.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  const bundle = /^Apple (?:VoIP|Push) Services: (\S+)$/.exec(name ?? '')?.[1];
  return bundle ? { bundle } : undefined;
}
