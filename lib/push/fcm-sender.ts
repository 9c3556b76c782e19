/**
 * Firebase Cloud Messaging, HTTP v1 (Android). A push is a high-priority data message whose TTL
 * is the push's lifetime; its data are the rendered payload template (FCM data values are
 * strings: nested objects are sent as JSON text).
 *
 * Credentials are a service account (its JSON key file). pushwake mints the OAuth2 access token
 * itself with the JWT-bearer grant (RFC 7523: an RS256-signed assertion posted to the account's
 * `token_uri`), caches it and refreshes it five minutes before it expires. google-auth-library
 * does the same with six more packages, and without a way to trust a private CA for the token
 * endpoint alone (the push sink's, in tests): 60 lines of node:crypto were the smaller thing.
 */
import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { pushFailure, type PushOutcome, type PushSender, type VoipPush } from './push-outcome.js';
import type { PushLogger } from './apns-sender.js';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const DEFAULT_ENDPOINT = 'https://fcm.googleapis.com';
/** A cached access token is replaced this long before it expires. */
const REFRESH_AHEAD_MS = 5 * 60_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  token_uri: string;
}

/** Read and check a service account key file. Throws with the field at fault. */
export function readServiceAccount(file: string): ServiceAccount {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`fcm.serviceAccountFile ${file}: ${(err as Error).message}`);
  }
  const a = v as Partial<ServiceAccount> | null;
  for (const field of ['project_id', 'client_email', 'private_key', 'token_uri'] as const) {
    if (typeof a?.[field] !== 'string' || a[field] === '') throw new Error(`fcm.serviceAccountFile ${file}: no ${field}`);
  }
  return a as ServiceAccount;
}

export interface FcmSenderOptions {
  serviceAccount: ServiceAccount;
  /** Send to this origin instead of Google's (tests, the push sink). */
  endpoint?: string;
  /** Use this token endpoint instead of the account's `token_uri`. */
  tokenUri?: string;
  /** Extra CA to trust, PEM (the push sink's). */
  ca?: string;
  requestTimeoutMs?: number;
  logger?: PushLogger;
  now?: () => number;
}

interface Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

export class FcmSender implements PushSender {
  private readonly key: KeyObject;
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private token: { value: string; expiresAt: number } | undefined;
  private minting: Promise<string> | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: FcmSenderOptions) {
    this.key = createPrivateKey(options.serviceAccount.private_key);
    this.now = options.now ?? Date.now;
  }

  get projectId(): string {
    return this.options.serviceAccount.project_id;
  }

  async send(push: VoipPush): Promise<PushOutcome> {
    if (this.closed) return pushFailure('rejected', 'PUSH_SENDER_CLOSED', 'FCM sender closed');
    const ttlSeconds = Math.max(0, Math.floor((push.expiresAt - this.now()) / 1000));
    if (ttlSeconds <= 0) return pushFailure('rejected', 'PUSH_EXPIRED_BEFORE_SENDING', 'the push expired before it could be sent');
    const message = {
      message: {
        token: push.token.token,
        data: dataOf(push.payload),
        android: { priority: 'HIGH', ttl: `${ttlSeconds}s`, collapse_key: push.collapseId },
      },
    };
    const body = JSON.stringify(message);
    for (let attempt = 0; attempt < 2; attempt++) {
      let bearer: string;
      try {
        bearer = await this.accessToken();
      } catch (err) {
        return this.authFailed(err as Error);
      }
      let reply: Reply;
      try {
        reply = await this.request(this.options.endpoint ?? DEFAULT_ENDPOINT, {
          ':method': 'POST', ':path': `/v1/projects/${encodeURIComponent(push.token.topic)}/messages:send`,
          authorization: `Bearer ${bearer}`, 'content-type': 'application/json; charset=utf-8',
        }, body);
      } catch (err) {
        const e = err as Error & { code?: string };
        return e.code === 'PUSH_TIMEOUT'
          ? pushFailure('retryable', 'PUSH_TIMEOUT', e.message, true)
          : pushFailure('retryable', 'PUSH_CONNECT_FAILED', e.message);
      }
      // an access token FCM no longer takes: mint a new one, and try once more
      if (reply.status === 401 && attempt === 0) {
        this.token = undefined;
        continue;
      }
      return this.outcomeOf(reply);
    }
    return pushFailure('rejected', 'PUSH_PROVIDER_AUTH', 'FCM refused a freshly minted access token');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }

  /** FCM's answer as an outcome: a token gone, worth a retry, or refused for good. */
  private outcomeOf(reply: Reply): PushOutcome {
    if (reply.status === 200) {
      const name = (safeJson(reply.body) as { name?: unknown } | undefined)?.name;
      return { kind: 'delivered', apnsId: typeof name === 'string' ? name : '', status: 200 };
    }
    const err = (safeJson(reply.body) as { error?: { status?: string; message?: string; details?: Array<{ errorCode?: string }> } } | undefined)?.error;
    const errorCode = err?.details?.find((d) => typeof d.errorCode === 'string')?.errorCode ?? err?.status ?? `HTTP ${reply.status}`;
    const reason = `${errorCode}${err?.message ? `: ${err.message.slice(0, 200)}` : ''}`;
    const failure = { status: reply.status, reason };
    if (errorCode === 'UNREGISTERED' || reply.status === 404 || (reply.status === 400 && errorCode === 'INVALID_ARGUMENT')) {
      return { kind: 'token-dead', code: 'PUSH_TOKEN_DEAD', ...failure };
    }
    if (reply.status === 429 || reply.status >= 500) {
      const retryAfter = Number(reply.headers['retry-after']);
      return { kind: 'retryable', code: 'PUSH_PROVIDER_BUSY', ...failure, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
    }
    if (reply.status === 401 || reply.status === 403) {
      this.options.logger?.error({ status: reply.status, reason, project: this.projectId }, 'FCM refused pushwake\'s credentials (check fcm.serviceAccountFile and the project)');
      return { kind: 'rejected', code: 'PUSH_PROVIDER_AUTH', ...failure };
    }
    return { kind: 'rejected', code: 'PUSH_PROVIDER_REFUSED', ...failure };
  }

  private authFailed(err: Error): PushOutcome {
    this.options.logger?.error({ err: err.message, project: this.projectId }, 'cannot get an FCM access token (check fcm.serviceAccountFile)');
    return pushFailure('rejected', 'PUSH_PROVIDER_AUTH', `no FCM access token: ${err.message}`);
  }

  /** The cached access token, or a new one (one mint at a time). */
  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt - REFRESH_AHEAD_MS > this.now()) return this.token.value;
    this.minting ??= this.mint().finally(() => {
      this.minting = undefined;
    });
    return this.minting;
  }

  private async mint(): Promise<string> {
    const account = this.options.serviceAccount;
    const tokenUri = this.options.tokenUri ?? account.token_uri;
    const iat = Math.floor(this.now() / 1000);
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: account.client_email, scope: FCM_SCOPE, aud: tokenUri, iat, exp: iat + 3600 })}`;
    const signature = createSign('RSA-SHA256').update(unsigned).sign(this.key).toString('base64url');
    const url = new URL(tokenUri);
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` }).toString();
    const reply = await this.request(url.origin, { ':method': 'POST', ':path': `${url.pathname}${url.search}`, 'content-type': 'application/x-www-form-urlencoded' }, form);
    const body = safeJson(reply.body) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } | undefined;
    if (reply.status !== 200 || typeof body?.access_token !== 'string') {
      throw new Error(`token endpoint ${tokenUri} answered ${reply.status}${body?.error ? ` ${String(body.error)}` : ''}${body?.error_description ? `: ${String(body.error_description)}` : ''}`);
    }
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    this.token = { value: body.access_token, expiresAt: this.now() + lifetime * 1000 };
    return body.access_token;
  }

  private session(origin: string): http2.ClientHttp2Session {
    const existing = this.sessions.get(origin);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const s = http2.connect(origin, this.options.ca ? { ca: this.options.ca } : {});
    s.on('error', () => s.destroy());
    s.on('close', () => {
      if (this.sessions.get(origin) === s) this.sessions.delete(origin);
    });
    s.unref();
    this.sessions.set(origin, s);
    return s;
  }

  private request(origin: string, headers: http2.OutgoingHttpHeaders, body: string): Promise<Reply> {
    const timeoutMs = this.options.requestTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session(origin).request(headers);
      } catch (err) {
        reject(err as Error);
        return;
      }
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(Object.assign(new Error(`no answer from ${origin} within ${timeoutMs} ms`), { code: 'PUSH_TIMEOUT' }));
      }, timeoutMs);
      let status = 0;
      let replyHeaders: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 0);
        replyHeaders = h;
      });
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
      });
      stream.on('end', () => {
        clearTimeout(timer);
        resolve({ status, headers: replyHeaders, body: Buffer.concat(chunks).toString('utf8') });
      });
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.end(body);
    });
  }
}

/** FCM data values are strings: top-level strings stay, everything else is JSON text. Pure. */
export function dataOf(payload: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
