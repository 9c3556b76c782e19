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
 * What became of a push. `status` is APNs' HTTP status, or 0 when the outcome was decided
 * without an APNs answer (connection error, timeout, a push refused before sending).
 */
export type PushOutcome =
  | { kind: 'delivered'; apnsId: string; status: 200 }
  /** 410 Unregistered / ExpiredToken, 400 BadDeviceToken, 400 DeviceTokenNotForTopic. */
  | { kind: 'token-dead'; status: number; reason: string }
  /** 429, 5xx, 403 ExpiredProviderToken, connection errors and timeouts. */
  | { kind: 'retryable'; status: number; reason: string; retryAfterMs?: number }
  /** Any other refusal (bad payload, bad topic, bad provider key...): retrying cannot help. */
  | { kind: 'rejected'; status: number; reason: string };

export interface PushSender {
  /** Never rejects for APNs or network failures: they come back as an outcome. */
  send(push: VoipPush): Promise<PushOutcome>;
  close(): Promise<void>;
}

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
  if (status === 410) return { kind: 'token-dead', status, reason };
  if (status === 400 && DEAD_TOKEN_REASONS.has(reason)) {
    return { kind: 'token-dead', status, reason };
  }
  if (status === 429 || status >= 500 || (status === 403 && reason === 'ExpiredProviderToken')) {
    const retryAfterMs = parseRetryAfter(answer.retryAfter, answer.now);
    return retryAfterMs === undefined
      ? { kind: 'retryable', status, reason }
      : { kind: 'retryable', status, reason, retryAfterMs };
  }
  return { kind: 'rejected', status, reason };
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
