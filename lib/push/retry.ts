import { pushFailure, type PushOutcome, type PushSender, type VoipPush } from './push-outcome.js';

/** What stops retries: an AbortSignal, or any object with the same `aborted` flag. */
export interface StopSignal {
  readonly aborted: boolean;
}

export interface RetryPolicy {
  /** Epoch ms after which no attempt starts: the moment the push stops standing for a live
   * call (typically the call's wake timeout, or the push's expiry, whichever is earlier). */
  deadline: number;
  /** Delay before the 2nd attempt; it doubles for each attempt after that. */
  baseDelayMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Cap on one delay from the backoff (not from Retry-After). Default 10 s. */
  maxDelayMs?: number;
  /** Clock, epoch ms. */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Source in [0, 1) for jitter: a delay is drawn from [d/2, d]. Default: no jitter. */
  random?: () => number;
  /** Aborting (the call ended) stops before the next attempt. */
  signal?: StopSignal;
}

/**
 * Send a push, retrying `retryable` outcomes with exponential backoff while a retry can still
 * start before the deadline. APNs' Retry-After is honoured as a lower bound on the delay. Returns
 * the last outcome. When the deadline has already passed, nothing is sent and the outcome is
 * `rejected` with code `PUSH_DEADLINE_EXCEEDED`.
 */
export async function sendWithRetry(
  sender: PushSender,
  push: VoipPush,
  policy: RetryPolicy,
): Promise<PushOutcome> {
  if (policy.now() >= policy.deadline || isAborted(policy)) {
    return pushFailure('rejected', 'PUSH_DEADLINE_EXCEEDED', 'DeadlineExceeded');
  }
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  let outcome = await sender.send(push);
  for (let attempt = 2; attempt <= maxAttempts; attempt++) {
    if (outcome.kind !== 'retryable') return outcome;
    const delay = retryDelay(attempt - 1, outcome.retryAfterMs, policy);
    if (policy.now() + delay >= policy.deadline) return outcome;
    await policy.sleep(delay);
    if (isAborted(policy) || policy.now() >= policy.deadline) return outcome;
    outcome = await sender.send(push);
  }
  return outcome;
}

/** Delay after the `failures`-th failed attempt (1-based). */
export function retryDelay(
  failures: number,
  retryAfterMs: number | undefined,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>,
): number {
  const cap = policy.maxDelayMs ?? 10_000;
  const backoff = Math.min(cap, policy.baseDelayMs * 2 ** (failures - 1));
  const jittered = policy.random === undefined ? backoff : backoff / 2 + (policy.random() * backoff) / 2;
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

function isAborted(policy: RetryPolicy): boolean {
  return policy.signal?.aborted === true;
}
