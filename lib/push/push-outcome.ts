import type { PushToken } from '../domain/binding.js';

/** APNs' size limits for the JSON body, in bytes. */
export const MAX_VOIP_PAYLOAD_BYTES = 5120;
export const MAX_ALERT_PAYLOAD_BYTES = 4096;

/** One push to one device. */
export interface VoipPush {
  token: PushToken;
  /** The JSON body, already rendered from the payload template. */
  payload: Record<string, unknown>;
  /** `apns-collapse-id`, at most 64 bytes: the call's UUID, so APNs keeps one push per call. */
  collapseId: string;
  /** Epoch ms. Sent as `apns-expiration` (epoch seconds): APNs drops the push after this. */
  expiresAt: number;
  /** Default 'voip'. 'alert' is the missed-call fallback; it needs no CallKit report. */
  pushType?: 'voip' | 'alert';
  /** Default 10 (immediate). */
  priority?: 5 | 10;
}

/**
 * Stable codes for every way a push can fail, for code to branch on (as undici's `UND_ERR_*`).
 * `reason` beside them is for people: APNs' own reason text, or what went wrong.
 */
export type PushFailureCode =
  /** APNs 410 Unregistered/ExpiredToken, 400 BadDeviceToken/DeviceTokenNotForTopic, or a token that is not hex. */
  | 'PUSH_TOKEN_DEAD'
  /** APNs answered 429, 5xx or 403 ExpiredProviderToken: try again. */
  | 'PUSH_PROVIDER_BUSY'
  /** APNs refused the push for good (bad topic, bad provider key, bad payload...). */
  | 'PUSH_PROVIDER_REFUSED'
  /** The provider refused pushwake's credentials (FCM: no access token, 401/403). */
  | 'PUSH_PROVIDER_AUTH'
  /** No connection to APNs, or the stream failed before the request left. */
  | 'PUSH_CONNECT_FAILED'
  /** The request left and no answer came within `apns.requestTimeoutMs`. */
  | 'PUSH_TIMEOUT'
  /** The stream ended without an answer. */
  | 'PUSH_NO_RESPONSE'
  /** The stream was reset after the request left. */
  | 'PUSH_STREAM_CLOSED'
  | 'PUSH_PAYLOAD_TOO_LARGE'
  | 'PUSH_BAD_COLLAPSE_ID'
  /** Its `expiresAt` passed before it could leave: a phone must not ring for a call that is over. */
  | 'PUSH_EXPIRED_BEFORE_SENDING'
  | 'PUSH_SENDER_CLOSED'
  /** The wake window closed (or the call ended) before an attempt could start. */
  | 'PUSH_DEADLINE_EXCEEDED'
  /** No APNs key is configured. */
  | 'PUSH_NO_KEY';

/** What a failed push says about itself. */
interface PushFailure {
  status: number;
  code: PushFailureCode;
  reason: string;
  /**
   * The request left and no answer came (timeout, no response, stream reset): APNs may have
   * delivered it. Set by the sender; a second push for one call is what iOS punishes.
   */
  maybeDelivered?: true;
}

/**
 * What became of a push. `status` is APNs' HTTP status, or 0 when the outcome was decided
 * without an APNs answer (connection error, timeout, a push refused before sending).
 */
export type PushOutcome =
  | { kind: 'delivered'; apnsId: string; status: 200 }
  /** The token is of no use any more: forget it. */
  | ({ kind: 'token-dead' } & PushFailure)
  /** Worth another attempt within the wake window. */
  | ({ kind: 'retryable'; retryAfterMs?: number } & PushFailure)
  /** Retrying cannot help. */
  | ({ kind: 'rejected' } & PushFailure);

/** A failure decided without an APNs answer. Pure. */
export function pushFailure<K extends 'token-dead' | 'retryable' | 'rejected'>(kind: K, code: PushFailureCode, reason: string, maybeDelivered = false): PushOutcome {
  return { kind, status: 0, code, reason, ...(maybeDelivered ? { maybeDelivered: true as const } : {}) } as PushOutcome;
}

export interface PushSender {
  /** Never rejects for APNs or network failures: they come back as an outcome. */
  send(push: VoipPush): Promise<PushOutcome>;
  close(): Promise<void>;
}

/** APNs' reason for a provider token it no longer accepts: mint a new one and retry. */
export const EXPIRED_PROVIDER_TOKEN = 'ExpiredProviderToken';

/** Reasons that say the device token itself is no longer usable. */
const DEAD_TOKEN_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic']);

/**
 * Turn an APNs HTTP answer into an outcome. `body` is the raw response body (Apple sends
 * `{"reason": "..."}` on errors); `retryAfter` the raw `Retry-After` header, if any.
 */
export function classifyApnsResponse(answer: {
  status: number;
  body: string;
  apnsId: string;
  retryAfter?: string;
  now: number;
}): PushOutcome {
  const { status } = answer;
  if (status === 200) return { kind: 'delivered', apnsId: answer.apnsId, status: 200 };
  const reason = parseReason(answer.body) ?? `HTTP${status}`;
  if (status === 410) return { kind: 'token-dead', status, code: 'PUSH_TOKEN_DEAD', reason };
  if (status === 400 && DEAD_TOKEN_REASONS.has(reason)) {
    return { kind: 'token-dead', status, code: 'PUSH_TOKEN_DEAD', reason };
  }
  if (status === 429 || status >= 500 || (status === 403 && reason === EXPIRED_PROVIDER_TOKEN)) {
    const retryAfterMs = parseRetryAfter(answer.retryAfter, answer.now);
    return retryAfterMs === undefined
      ? { kind: 'retryable', status, code: 'PUSH_PROVIDER_BUSY', reason }
      : { kind: 'retryable', status, code: 'PUSH_PROVIDER_BUSY', reason, retryAfterMs };
  }
  return { kind: 'rejected', status, code: 'PUSH_PROVIDER_REFUSED', reason };
}

function parseReason(body: string): string | undefined {
  if (body === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'reason' in parsed) {
      const { reason } = parsed;
      if (typeof reason === 'string' && reason !== '') return reason.slice(0, 100);
    }
  } catch {
    // Not Apple's JSON (a proxy's HTML error page...): fall back to the status.
  }
  return undefined;
}

/** `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
