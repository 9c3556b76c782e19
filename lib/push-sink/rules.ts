import { readFile } from 'node:fs/promises';

/** A canned APNs failure, or any status and reason. */
export type SinkResponse =
  | 'unregistered' // 410 Unregistered (with a timestamp)
  | 'bad-device-token' // 400 BadDeviceToken
  | 'too-many-requests' // 429 TooManyRequests
  | 'internal-error' // 500 InternalServerError
  | 'service-unavailable' // 503 ServiceUnavailable
  | { status: number; reason: string };

/**
 * How the sink treats pushes to one token ('*': every token without a rule of its own).
 * A rule applies only to requests that pass validation, as with APNs. JSON form, e.g.
 * `{"token": "ab12…", "respond": "too-many-requests", "times": 2, "retryAfterSeconds": 1}`.
 */
export interface PushSinkRule {
  token: string;
  /** Absent: accept the push (use with `delayMs` for a slow APNs). */
  respond?: SinkResponse;
  /** Apply to this many requests, then drop the rule. Absent: forever. */
  times?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Sent as `Retry-After` (seconds) with the answer. */
  retryAfterSeconds?: number;
}

export interface SinkAnswer {
  status: number;
  reason?: string;
  delayMs: number;
  retryAfterSeconds?: number;
}

const CANNED: Record<Exclude<SinkResponse, object>, { status: number; reason: string }> = {
  unregistered: { status: 410, reason: 'Unregistered' },
  'bad-device-token': { status: 400, reason: 'BadDeviceToken' },
  'too-many-requests': { status: 429, reason: 'TooManyRequests' },
  'internal-error': { status: 500, reason: 'InternalServerError' },
  'service-unavailable': { status: 503, reason: 'ServiceUnavailable' },
};

/** Rules live in a bounded table: a test or a rules file, not traffic, fills it. */
const MAX_RULES = 10_000;

export class SinkRules {
  private readonly rules = new Map<string, PushSinkRule & { remaining?: number }>();

  set(rule: PushSinkRule): void {
    const [checked] = parsePushSinkRules([rule]);
    if (checked === undefined) return;
    if (checked.times === 0) {
      this.rules.delete(checked.token);
      return;
    }
    if (!this.rules.has(checked.token) && this.rules.size >= MAX_RULES) {
      throw new Error(`push sink: more than ${MAX_RULES} rules`);
    }
    this.rules.set(checked.token, {
      ...checked,
      ...(checked.times === undefined ? {} : { remaining: checked.times }),
    });
  }

  /** Drop the rule of one token, or every rule. */
  clear(token?: string): void {
    if (token === undefined) this.rules.clear();
    else this.rules.delete(normaliseToken(token));
  }

  /** The answer for one request to `token`, counting it against the rule's `times`. */
  take(token: string): SinkAnswer {
    const key = this.rules.has(token) ? token : '*';
    const rule = this.rules.get(key);
    if (rule === undefined) return { status: 200, delayMs: 0 };
    if (rule.remaining !== undefined) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules.delete(key);
    }
    const response = rule.respond === undefined ? { status: 200 } : resolve(rule.respond);
    return {
      ...response,
      delayMs: rule.delayMs ?? 0,
      ...(rule.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: rule.retryAfterSeconds }),
    };
  }
}

function resolve(response: SinkResponse): { status: number; reason: string } {
  return typeof response === 'string' ? CANNED[response] : response;
}

/** APNs tokens are hex, case-insensitive; FCM tokens are case-sensitive text and kept as given. */
function normaliseToken(token: string): string {
  return /^[0-9a-fA-F]+$/.test(token) ? token.toLowerCase() : token;
}

/** Check rules from JSON: an array of rules, or `{"rules": [...]}`. Throws naming the fault. */
export function parsePushSinkRules(json: unknown): PushSinkRule[] {
  const list =
    typeof json === 'object' && json !== null && !Array.isArray(json) && 'rules' in json
      ? json.rules
      : json;
  if (!Array.isArray(list)) throw new Error('push sink rules: expected an array of rules');
  return list.map((item: unknown, i) => parseRule(item, `rules[${i}]`));
}

function parseRule(item: unknown, where: string): PushSinkRule {
  if (typeof item !== 'object' || item === null) throw new Error(`${where}: not an object`);
  const r = item as Record<string, unknown>;
  if (typeof r['token'] !== 'string' || !/^(\*|[0-9a-fA-F]{1,200}|[A-Za-z0-9_:-]{20,4096})$/.test(r['token'])) {
    throw new Error(`${where}.token: expected an APNs device token (hex), an FCM registration token, or "*"`);
  }
  const rule: PushSinkRule = { token: normaliseToken(r['token']) };
  const respond = r['respond'];
  if (respond !== undefined) {
    if (typeof respond === 'string' && respond in CANNED) {
      rule.respond = respond as keyof typeof CANNED;
    } else if (
      typeof respond === 'object' &&
      respond !== null &&
      'status' in respond &&
      'reason' in respond &&
      Number.isInteger(respond.status) &&
      typeof respond.reason === 'string'
    ) {
      rule.respond = { status: Number(respond.status), reason: respond.reason };
    } else {
      throw new Error(`${where}.respond: expected one of ${Object.keys(CANNED).join(', ')} or {status, reason}`);
    }
  }
  for (const field of ['times', 'delayMs', 'retryAfterSeconds'] as const) {
    const value = r[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new Error(`${where}.${field}: expected a non-negative integer`);
    }
    rule[field] = value;
  }
  return rule;
}

export async function loadPushSinkRules(file: string): Promise<PushSinkRule[]> {
  const text = await readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`push sink rules file ${file}: ${String(err)}`);
  }
  return parsePushSinkRules(json);
}
