import { describe, expect, it } from 'vitest';
import type { PushOutcome, PushSender, VoipPush } from '../../lib/push/apns-sender.js';
import { sendWithRetry, type RetryPolicy } from '../../lib/push/retry.js';

const push: VoipPush = {
  token: { provider: 'apns', token: 'ab'.repeat(32), topic: 'com.example.app.voip', environment: 'production' },
  payload: { aps: {} },
  collapseId: 'call-1',
  expiresAt: 1_000_000 + 30_000,
};

const delivered: PushOutcome = { kind: 'delivered', apnsId: 'id-1', status: 200 };
const unavailable: PushOutcome = { kind: 'retryable', status: 503, code: 'PUSH_PROVIDER_BUSY', reason: 'ServiceUnavailable' };

/** A sender that answers from a script, on a fake clock that only sleeps move. */
function scripted(outcomes: PushOutcome[]): {
  sender: PushSender;
  policy: (overrides?: Partial<RetryPolicy>) => RetryPolicy;
  sendTimes: number[];
  sleeps: number[];
} {
  let clock = 1_000_000;
  const sendTimes: number[] = [];
  const sleeps: number[] = [];
  const sender: PushSender = {
    send: async () => {
      sendTimes.push(clock);
      const next = outcomes.shift();
      if (next === undefined) throw new Error('script exhausted');
      return next;
    },
    close: async () => {},
  };
  const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
    deadline: clock + 10_000,
    baseDelayMs: 100,
    maxAttempts: 5,
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    ...overrides,
  });
  return { sender, policy, sendTimes, sleeps };
}

describe('sending with retry', () => {
  it('a delivered push is sent once, without waiting', async () => {
    const s = scripted([delivered]);
    expect(await sendWithRetry(s.sender, push, s.policy())).toEqual(delivered);
    expect(s.sendTimes).toHaveLength(1);
    expect(s.sleeps).toEqual([]);
  });

  it('retryable answers are retried with doubling delays until delivered', async () => {
    const s = scripted([unavailable, unavailable, unavailable, delivered]);
    expect(await sendWithRetry(s.sender, push, s.policy())).toEqual(delivered);
    expect(s.sleeps).toEqual([100, 200, 400]);
  });

  it("APNs' Retry-After is waited out when longer than the backoff", async () => {
    const s = scripted([{ kind: 'retryable', status: 429, code: 'PUSH_PROVIDER_BUSY', reason: 'TooManyRequests', retryAfterMs: 1500 }, delivered]);
    expect(await sendWithRetry(s.sender, push, s.policy())).toEqual(delivered);
    expect(s.sleeps).toEqual([1500]);
  });

  it('no retry starts when it could not start before the deadline; the last outcome is returned', async () => {
    const tooLate: PushOutcome = { kind: 'retryable', status: 429, code: 'PUSH_PROVIDER_BUSY', reason: 'TooManyRequests', retryAfterMs: 60_000 };
    const s = scripted([tooLate]);
    expect(await sendWithRetry(s.sender, push, s.policy())).toEqual(tooLate);
    expect(s.sleeps).toEqual([]);
  });

  it('backoff stops at the deadline', async () => {
    const s = scripted([unavailable, unavailable, unavailable, unavailable, delivered]);
    const outcome = await sendWithRetry(s.sender, push, s.policy({ deadline: 1_000_000 + 650 }));
    expect(outcome).toEqual(unavailable);
    expect(s.sleeps).toEqual([100, 200]); // the 400 ms wait would end past the deadline
  });

  it('attempts are bounded by maxAttempts', async () => {
    const s = scripted([unavailable, unavailable, unavailable, delivered]);
    expect(await sendWithRetry(s.sender, push, s.policy({ maxAttempts: 2 }))).toEqual(unavailable);
    expect(s.sendTimes).toHaveLength(2);
  });

  it('dead tokens and rejections are not retried', async () => {
    const dead: PushOutcome = { kind: 'token-dead', status: 410, code: 'PUSH_TOKEN_DEAD', reason: 'Unregistered' };
    const rejected: PushOutcome = { kind: 'rejected', status: 400, code: 'PUSH_PROVIDER_REFUSED', reason: 'BadTopic' };
    for (const outcome of [dead, rejected]) {
      const s = scripted([outcome, delivered]);
      expect(await sendWithRetry(s.sender, push, s.policy())).toEqual(outcome);
      expect(s.sendTimes).toHaveLength(1);
    }
  });

  it('nothing is sent once the deadline has passed', async () => {
    const s = scripted([delivered]);
    const outcome = await sendWithRetry(s.sender, push, s.policy({ deadline: 1_000_000 }));
    expect(outcome).toEqual({ kind: 'rejected', status: 0, code: 'PUSH_DEADLINE_EXCEEDED', reason: 'DeadlineExceeded' });
    expect(s.sendTimes).toEqual([]);
  });

  it('an aborted call stops retrying after the current wait', async () => {
    const s = scripted([unavailable, delivered]);
    const controller = new AbortController();
    const base = s.policy();
    const outcome = await sendWithRetry(s.sender, push, {
      ...base,
      signal: controller.signal,
      sleep: async (ms) => {
        await base.sleep(ms);
        controller.abort();
      },
    });
    expect(outcome).toEqual(unavailable);
    expect(s.sendTimes).toHaveLength(1);
  });

  it('jitter draws each delay from the upper half of the backoff and caps it', async () => {
    const s = scripted([unavailable, unavailable, unavailable, delivered]);
    await sendWithRetry(s.sender, push, s.policy({ random: () => 0, baseDelayMs: 1000, maxDelayMs: 3000 }));
    expect(s.sleeps).toEqual([500, 1000, 1500]);
  });
});
