/**
 * The APNs sender: one HTTP/2 connection per APNs host, one stream per push.
 *
 * Why not `@parse/node-apn` (v8.1.0, read in node_modules/@parse/node-apn/lib/client.js)?
 * It can reach a local TLS server (`address`, `port`, `ca`) and sets every header we need, but:
 * - it never reports `Retry-After`: it reads `headers['Retry-After']` while node:http2 hands
 *   header names in lower case, and it deletes `retryAfter` from every error it returns;
 * - it retries 429/5xx itself (`connectionRetryLimit`, sleeping with its own setTimeout), which
 *   a call-deadline-aware retry (see retry.ts) cannot see or stop;
 * - its JWT is signed from `Date.now()` and refreshed after 55 min, so the cache cannot be
 *   tested with an injected clock, and a timeout comes back without any status.
 * What remains is small: node:http2 plus an ES256 JWT (provider-token.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { ApnsEnvironment, PushToken } from '../domain/binding.js';
import {
  classifyApnsResponse,
  EXPIRED_PROVIDER_TOKEN,
  MAX_ALERT_PAYLOAD_BYTES,
  MAX_VOIP_PAYLOAD_BYTES,
  pushFailure,
  type PushOutcome,
  type PushSender,
  type VoipPush,
} from './push-outcome.js';
import { ProviderToken } from './provider-token.js';
import { bracketHost } from '../net-address.js';

export type { PushOutcome, PushSender, VoipPush } from './push-outcome.js';
export { MAX_ALERT_PAYLOAD_BYTES, MAX_VOIP_PAYLOAD_BYTES } from './push-outcome.js';

const MAX_COLLAPSE_ID_BYTES = 64;
const DEVICE_TOKEN = /^[0-9a-f]{64,200}$/i;

export const APNS_HOSTS: Readonly<Record<ApnsEnvironment, string>> = {
  production: 'api.push.apple.com',
  development: 'api.sandbox.push.apple.com',
};

/** Structured logger; a pino logger fits. */
export interface PushLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface ApnsSenderOptions {
  /**
   * Certificate-based authentication instead of a .p8 key: the app's push certificate as a
   * .p12 (`pfx`, with `passphrase`) or PEM (`cert` and `key`), presented on the TLS connection.
   */
  certificate?: { pfx?: Buffer; passphrase?: string; cert?: string; key?: string };
  /** The .p8 key, PEM text. Either this or `signingKeyFile`. */
  signingKey?: string;
  /** Path of the .p8 key file. */
  signingKeyFile?: string;
  /** Key ID of the .p8 key (JWT `kid`). */
  keyId: string;
  /** Apple Team ID (JWT `iss`). */
  teamId: string;
  /** Send every push to this host instead of Apple's (tests, the push sink). Default: Apple's
   * host for the token's environment. */
  host?: string;
  /** Default 443. */
  port?: number;
  /** Extra CA to trust, PEM text (e.g. the push sink's self-signed certificate). */
  ca?: string;
  /** Same, from a file. */
  caFile?: string;
  /** Time allowed for one push from request to APNs' answer. Default 5000 ms: a VoIP push is
   * only worth sending for a few seconds of a ringing call. */
  requestTimeoutMs?: number;
  /** JWT reuse period; default 40 min, allowed 20–50 min. */
  tokenRefreshMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  logger?: PushLogger;
}

/** A token as it may appear in logs: enough to tell devices apart, useless to push to. */
export function tokenPrefix(token: PushToken | string): string {
  const hex = typeof token === 'string' ? token : token.token;
  return hex.length <= 8 ? hex : `${hex.slice(0, 8)}…`;
}

/** Where a push for this environment goes: `https://host:port`. */
export function apnsOrigin(
  environment: ApnsEnvironment,
  override: { host?: string; port?: number } = {},
): string {
  const host = override.host ?? APNS_HOSTS[environment];
  const port = override.port ?? 443;
  const bracketed = bracketHost(host);
  return `https://${bracketed}:${port}`;
}

/** `apns-topic` for a push type: VoIP pushes go to `<bundle>.voip`, alerts to `<bundle>`. */
export function topicFor(pushType: 'voip' | 'alert', topic: string): string {
  const bundle = topic.endsWith('.voip') ? topic.slice(0, -'.voip'.length) : topic;
  return pushType === 'voip' ? `${bundle}.voip` : bundle;
}

const silentLogger: PushLogger = { debug() {}, warn() {}, error() {} };

export class ApnsSender implements PushSender {
  private readonly providerToken: ProviderToken | undefined;
  private readonly ca: string | undefined;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly log: PushLogger;
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  /** PING probes after timeouts. Request timers are owned by their exchange. */
  private readonly probeTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: ApnsSenderOptions) {
    const signingKey =
      options.signingKey ??
      (options.signingKeyFile === undefined
        ? undefined
        : readFileSync(options.signingKeyFile, 'utf8'));
    if (signingKey === undefined && !options.certificate) throw new Error('ApnsSender needs signingKey, signingKeyFile or certificate');
    this.now = options.now ?? Date.now;
    this.providerToken = signingKey === undefined ? undefined : new ProviderToken({
      signingKey,
      keyId: options.keyId,
      teamId: options.teamId,
      now: this.now,
      ...(options.tokenRefreshMs === undefined ? {} : { refreshAfterMs: options.tokenRefreshMs }),
    });
    this.ca =
      options.ca ?? (options.caFile === undefined ? undefined : readFileSync(options.caFile, 'utf8'));
    this.timeoutMs = options.requestTimeoutMs ?? 5000;
    this.log = options.logger ?? silentLogger;
  }

  async send(push: VoipPush): Promise<PushOutcome> {
    const refused = this.refuseBeforeSending(push);
    if (refused !== undefined) return this.logged(push, refused);
    try {
      const outcome = await this.exchange(push);
      if (outcome.kind === 'retryable' && outcome.reason === EXPIRED_PROVIDER_TOKEN) {
        this.providerToken?.invalidate();
      }
      return this.logged(push, outcome);
    } catch (err) {
      return this.logged(push, pushFailure('retryable', 'PUSH_CONNECT_FAILED', connectionReason(err)));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.probeTimers) clearTimeout(timer);
    this.probeTimers.clear();
    const closing = [...this.sessions.values()].map(
      (session) => new Promise<void>((resolve) => session.close(() => resolve())),
    );
    this.sessions.clear();
    await Promise.all(closing);
  }

  /** Pushes APNs would refuse anyway, or that must not leave at all. */
  private refuseBeforeSending(push: VoipPush): PushOutcome | undefined {
    if (this.closed) return pushFailure('rejected', 'PUSH_SENDER_CLOSED', 'SenderClosed');
    // Also keeps anything but hex out of the request path.
    if (!DEVICE_TOKEN.test(push.token.token)) {
      return pushFailure('token-dead', 'PUSH_TOKEN_DEAD', 'BadDeviceToken');
    }
    if (push.expiresAt <= this.now()) {
      // A phone must not ring for a call that is over (seed 003).
      return pushFailure('rejected', 'PUSH_EXPIRED_BEFORE_SENDING', 'ExpiredBeforeSending');
    }
    if (Buffer.byteLength(push.collapseId) > MAX_COLLAPSE_ID_BYTES) {
      return pushFailure('rejected', 'PUSH_BAD_COLLAPSE_ID', 'BadCollapseId');
    }
    return undefined;
  }

  private exchange(push: VoipPush): Promise<PushOutcome> {
    const pushType = push.pushType ?? 'voip';
    const body = JSON.stringify(push.payload);
    const limit = pushType === 'voip' ? MAX_VOIP_PAYLOAD_BYTES : MAX_ALERT_PAYLOAD_BYTES;
    if (Buffer.byteLength(body) > limit) {
      return Promise.resolve(pushFailure('rejected', 'PUSH_PAYLOAD_TOO_LARGE', 'PayloadTooLarge'));
    }
    const apnsId = randomUUID();
    const session = this.sessionFor(push.token.environment);
    const stream = session.request(this.requestHeaders(push, pushType, apnsId));
    return new Promise<PushOutcome>((resolve) => {
      const answer = new ApnsAnswer(apnsId);
      let settled = false;
      // A hard bound on the whole exchange (stream.setTimeout would only bound idle gaps).
      const timer = setTimeout(() => {
        // The push may or may not have reached APNs; the caller decides whether to retry.
        stream.close(http2.constants.NGHTTP2_CANCEL);
        this.probe(session);
        settle(pushFailure('retryable', 'PUSH_TIMEOUT', 'Timeout', true));
      }, this.timeoutMs);
      const settle = (outcome: PushOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      stream.setEncoding('utf8');
      stream.on('response', (headers) => answer.headers(headers));
      stream.on('data', (chunk: string) => answer.data(chunk));
      stream.on('end', () => settle(answer.outcome(this.now())));
      stream.on('error', (err) => settle(pushFailure('retryable', 'PUSH_CONNECT_FAILED', connectionReason(err))));
      stream.on('close', () => settle(pushFailure('retryable', 'PUSH_STREAM_CLOSED', `StreamClosed(${stream.rstCode ?? 0})`, true)));
      stream.end(body);
    });
  }

  private requestHeaders(push: VoipPush, pushType: 'voip' | 'alert', apnsId: string): http2.OutgoingHttpHeaders {
    return {
      ':method': 'POST',
      ':path': `/3/device/${push.token.token.toLowerCase()}`,
      // certificate auth: the TLS client certificate is the credential, no provider token
      ...(this.providerToken ? { authorization: `bearer ${this.providerToken.current()}` } : {}),
      'apns-id': apnsId,
      'apns-push-type': pushType,
      'apns-priority': String(push.priority ?? 10),
      'apns-topic': topicFor(pushType, push.token.topic),
      'apns-expiration': String(Math.floor(push.expiresAt / 1000)),
      'apns-collapse-id': push.collapseId,
      'content-type': 'application/json',
    };
  }

  private sessionFor(environment: ApnsEnvironment): http2.ClientHttp2Session {
    const origin = apnsOrigin(environment, this.options);
    const existing = this.sessions.get(origin);
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const cert = this.options.certificate;
    const session = http2.connect(origin, {
      ...(this.ca === undefined ? {} : { ca: this.ca }),
      ...(cert?.pfx ? { pfx: cert.pfx, ...(cert.passphrase !== undefined ? { passphrase: cert.passphrase } : {}) } : {}),
      ...(cert?.cert && cert.key ? { cert: cert.cert, key: cert.key } : {}),
    });
    const forget = (): void => {
      if (this.sessions.get(origin) === session) this.sessions.delete(origin);
    };
    session.on('error', (err) => {
      this.log.warn({ origin, err: connectionReason(err) }, 'apns connection error');
      forget();
    });
    // APNs sends GOAWAY before closing idle or rotated connections: open a new one next time.
    session.on('goaway', forget);
    session.on('close', forget);
    this.sessions.set(origin, session);
    return session;
  }

  /**
   * After a timeout, tell a slow answer from a dead connection: a connection that cannot even
   * answer a PING in time is destroyed so the next push opens a fresh one.
   */
  private probe(session: http2.ClientHttp2Session): void {
    if (session.destroyed) return;
    const timer = setTimeout(() => {
      this.probeTimers.delete(timer);
      session.destroy();
    }, this.timeoutMs);
    this.probeTimers.add(timer);
    const settled = (): void => {
      clearTimeout(timer);
      this.probeTimers.delete(timer);
    };
    try {
      const sent = session.ping((err) => {
        settled();
        if (err !== null) session.destroy();
      });
      if (!sent) settled();
    } catch {
      settled();
      session.destroy();
    }
  }

  private logged(push: VoipPush, outcome: PushOutcome): PushOutcome {
    const fields = {
      token: tokenPrefix(push.token),
      environment: push.token.environment,
      collapseId: push.collapseId,
      outcome: outcome.kind,
      status: outcome.status,
      ...(outcome.kind === 'delivered' ? { apnsId: outcome.apnsId } : { reason: outcome.reason }),
    };
    if (outcome.kind === 'delivered') this.log.debug(fields, 'apns push delivered');
    else if (outcome.kind === 'rejected') this.log.error(fields, 'apns push rejected');
    else this.log.warn(fields, 'apns push not delivered');
    return outcome;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** APNs' answer to one push as it streams in: status and headers, then a bounded body. */
class ApnsAnswer {
  private status = 0;
  private retryAfter: string | undefined;
  private text = '';

  constructor(private apnsId: string) {}

  headers(h: http2.IncomingHttpHeaders): void {
    this.status = Number(h[':status'] ?? 0);
    this.retryAfter = headerValue(h['retry-after']);
    this.apnsId = headerValue(h['apns-id']) ?? this.apnsId;
  }

  data(chunk: string): void {
    if (this.text.length < 4096) this.text += chunk;
  }

  /** The stream ended: no status means no answer came, and the push may have been delivered. */
  outcome(now: number): PushOutcome {
    if (this.status === 0) return pushFailure('retryable', 'PUSH_NO_RESPONSE', 'NoResponse', true);
    return classifyApnsResponse({ status: this.status, body: this.text, apnsId: this.apnsId, now, ...(this.retryAfter === undefined ? {} : { retryAfter: this.retryAfter }) });
  }
}

function connectionReason(err: unknown): string {
  if (!(err instanceof Error)) return 'ConnectionError';
  // A stream cancelled because its connection failed carries the connection's error as cause.
  const root = err.cause instanceof Error ? err.cause : err;
  const code = (root as NodeJS.ErrnoException).code;
  return `ConnectionError(${code ?? root.message})`;
}
