import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PushToken } from '../../lib/domain/binding.js';
import {
  apnsOrigin,
  ApnsSender,
  tokenPrefix,
  type ApnsSenderOptions,
  type VoipPush,
} from '../../lib/push/apns-sender.js';
import { sendWithRetry } from '../../lib/push/retry.js';
import {
  generateApnsTestKey,
  selfSignedCertificate,
  startPushSink,
  type PushSink,
} from '../../lib/push-sink/index.js';

const TOKEN = 'a1'.repeat(32);
const pushToken: PushToken = {
  provider: 'apns',
  token: TOKEN,
  topic: 'com.example.app.voip',
  environment: 'development',
};

function voipPush(overrides: Partial<VoipPush> = {}): VoipPush {
  return {
    token: pushToken,
    payload: { aps: { callerNumber: '+4930123456', callerName: 'Alice', withVideo: false, pushHint: 'h1' } },
    collapseId: '0b6e3c55-4a3c-4f0e-9d3e-0d1f6e6f2a11',
    expiresAt: Date.now() + 30_000,
    ...overrides,
  };
}

let sink: PushSink;
let untrustedCaPem = '';
/** The sink's clock: real time, moved forward by tests that need a token to age. */
let clockOffset = 0;
const sinkClock = (): number => Date.now() + clockOffset;
const senders: ApnsSender[] = [];

function senderFor(options: Partial<ApnsSenderOptions> = {}): ApnsSender {
  const sender = new ApnsSender({
    signingKey: sink.keyPem,
    keyId: sink.keyId ?? '',
    teamId: sink.teamId ?? '',
    host: sink.host,
    port: sink.port,
    ca: sink.caCertPem,
    requestTimeoutMs: 2000,
    ...options,
  });
  senders.push(sender);
  return sender;
}

beforeAll(async () => {
  sink = await startPushSink({ output: 'none', now: sinkClock });
  untrustedCaPem = (await selfSignedCertificate(['untrusted.invalid'])).certPem;
});
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  sink.clearRules();
  sink.pushes.length = 0;
  clockOffset = 0;
});
afterAll(async () => {
  await sink.stop();
});

describe('ApnsSender against the push sink', () => {
  it('delivers a VoIP push with the headers APNs needs and a valid provider token', async () => {
    const push = voipPush();
    const outcome = await senderFor().send(push);
    expect(outcome).toMatchObject({ kind: 'delivered', status: 200 });
    const [received] = sink.pushes;
    expect(outcome.kind === 'delivered' && outcome.apnsId).toBe(received?.apnsId);
    expect(received).toMatchObject({
      token: TOKEN,
      topic: 'com.example.app.voip',
      pushType: 'voip',
      priority: 10,
      expiration: Math.floor(push.expiresAt / 1000),
      collapseId: push.collapseId,
      payload: push.payload,
    });
    // The sink verified the ES256 signature, kid and iss before accepting.
    expect(received?.providerTokenIssuedAt).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('sends alert pushes to the bundle topic, with the asked priority', async () => {
    await senderFor().send(voipPush({ pushType: 'alert', priority: 5 }));
    expect(sink.pushes[0]).toMatchObject({ topic: 'com.example.app', pushType: 'alert', priority: 5 });
  });

  it('adds .voip to a bare bundle topic for VoIP pushes', async () => {
    await senderFor().send(voipPush({ token: { ...pushToken, topic: 'com.example.app' } }));
    expect(sink.pushes[0]?.topic).toBe('com.example.app.voip');
  });

  it('410 Unregistered means the token is dead', async () => {
    sink.setRule({ token: TOKEN, respond: 'unregistered' });
    expect(await senderFor().send(voipPush())).toEqual({ kind: 'token-dead', status: 410, code: 'PUSH_TOKEN_DEAD', reason: 'Unregistered' });
  });

  it('400 BadDeviceToken means the token is dead', async () => {
    sink.setRule({ token: TOKEN, respond: 'bad-device-token' });
    expect(await senderFor().send(voipPush())).toEqual({ kind: 'token-dead', status: 400, code: 'PUSH_TOKEN_DEAD', reason: 'BadDeviceToken' });
  });

  it('400 DeviceTokenNotForTopic means the token is dead', async () => {
    sink.setRule({ token: TOKEN, respond: { status: 400, reason: 'DeviceTokenNotForTopic' } });
    expect(await senderFor().send(voipPush())).toMatchObject({ kind: 'token-dead', reason: 'DeviceTokenNotForTopic' });
  });

  it('429 is retryable and carries Retry-After', async () => {
    sink.setRule({ token: TOKEN, respond: 'too-many-requests', retryAfterSeconds: 3 });
    expect(await senderFor().send(voipPush())).toEqual({
      kind: 'retryable',
      status: 429,
      code: 'PUSH_PROVIDER_BUSY',
      reason: 'TooManyRequests',
      retryAfterMs: 3000,
    });
  });

  it('500 and 503 are retryable', async () => {
    const sender = senderFor();
    sink.setRule({ token: TOKEN, respond: 'internal-error' });
    expect(await sender.send(voipPush())).toEqual({ kind: 'retryable', status: 500, code: 'PUSH_PROVIDER_BUSY', reason: 'InternalServerError' });
    sink.setRule({ token: TOKEN, respond: 'service-unavailable' });
    expect(await sender.send(voipPush())).toMatchObject({ kind: 'retryable', status: 503 });
  });

  it('a push signed with the wrong key is rejected with 403 InvalidProviderToken', async () => {
    const stranger = generateApnsTestKey();
    const outcome = await senderFor({ signingKey: stranger.keyPem }).send(voipPush());
    expect(outcome).toEqual({ kind: 'rejected', status: 403, code: 'PUSH_PROVIDER_REFUSED', reason: 'InvalidProviderToken' });
  });

  it('other 4xx answers are rejected, not retried', async () => {
    sink.setRule({ token: TOKEN, respond: { status: 400, reason: 'TopicDisallowed' } });
    expect(await senderFor().send(voipPush())).toEqual({ kind: 'rejected', status: 400, code: 'PUSH_PROVIDER_REFUSED', reason: 'TopicDisallowed' });
  });

  it('a slow APNs times out as retryable, and the connection stays usable', async () => {
    sink.setRule({ token: TOKEN, delayMs: 1500, times: 1 });
    const sender = senderFor({ requestTimeoutMs: 200 });
    expect(await sender.send(voipPush())).toEqual({ kind: 'retryable', status: 0, code: 'PUSH_TIMEOUT', reason: 'Timeout', maybeDelivered: true });
    expect(await sender.send(voipPush())).toMatchObject({ kind: 'delivered' });
  });

  it('a refused connection is retryable', async () => {
    const closedPort = await unusedPort();
    const outcome = await senderFor({ port: closedPort }).send(voipPush());
    expect(outcome).toMatchObject({ kind: 'retryable', status: 0 });
    expect(outcome.kind === 'retryable' && outcome.reason).toContain('ECONNREFUSED');
  });

  it('an untrusted server certificate is retryable, not a throw', async () => {
    const outcome = await senderFor({ ca: untrustedCaPem }).send(voipPush());
    expect(outcome).toMatchObject({ kind: 'retryable', status: 0 });
  });

  it('reuses one provider token across pushes and signs a new one after the refresh period', async () => {
    const sender = senderFor({ now: sinkClock, tokenRefreshMs: 20 * 60_000 });
    await sender.send(voipPush());
    clockOffset += 60_000;
    await sender.send(voipPush({ expiresAt: sinkClock() + 30_000 }));
    clockOffset += 20 * 60_000;
    await sender.send(voipPush({ expiresAt: sinkClock() + 30_000 }));
    const [first, second, third] = sink.pushes;
    expect(second?.providerTokenFingerprint).toBe(first?.providerTokenFingerprint);
    expect(third?.providerTokenFingerprint).not.toBe(first?.providerTokenFingerprint);
    // issued-at is whole seconds of a clock that kept running between the pushes: 21 min, give or take the second it crossed
    const age = (third?.providerTokenIssuedAt ?? 0) - (first?.providerTokenIssuedAt ?? 0);
    expect(Math.abs(age - 21 * 60)).toBeLessThanOrEqual(1);
  });

  it('an ExpiredProviderToken answer is retryable and the next push carries a fresh token', async () => {
    let clock = Date.now() - 2 * 3600_000; // the host clock was wrong when the token was signed
    const sender = senderFor({ now: () => clock });
    const expired = await sender.send(voipPush({ expiresAt: Date.now() + 30_000 }));
    expect(expired).toEqual({ kind: 'retryable', status: 403, code: 'PUSH_PROVIDER_BUSY', reason: 'ExpiredProviderToken' });
    clock = Date.now();
    expect(await sender.send(voipPush())).toMatchObject({ kind: 'delivered' });
  });

  it('sendWithRetry rides out a 429 from the sink', async () => {
    sink.setRule({ token: TOKEN, respond: 'too-many-requests', times: 1, retryAfterSeconds: 0 });
    const outcome = await sendWithRetry(senderFor(), voipPush(), {
      deadline: Date.now() + 5000,
      baseDelayMs: 50,
      maxAttempts: 3,
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
    expect(outcome).toMatchObject({ kind: 'delivered' });
    expect(sink.pushes).toHaveLength(1);
  });
});

describe('ApnsSender refusing before sending', () => {
  it('a malformed token is dead and never reaches the network', async () => {
    const sender = senderFor({ port: 1 });
    const outcome = await sender.send(voipPush({ token: { ...pushToken, token: '../../etc?x=1' } }));
    expect(outcome).toEqual({ kind: 'token-dead', status: 0, code: 'PUSH_TOKEN_DEAD', reason: 'BadDeviceToken' });
  });

  it('a push whose expiry has passed is not sent', async () => {
    const outcome = await senderFor().send(voipPush({ expiresAt: Date.now() - 1 }));
    expect(outcome).toEqual({ kind: 'rejected', status: 0, code: 'PUSH_EXPIRED_BEFORE_SENDING', reason: 'ExpiredBeforeSending' });
    expect(sink.pushes).toHaveLength(0);
  });

  it('a payload over 5120 bytes is rejected locally', async () => {
    const outcome = await senderFor().send(voipPush({ payload: { pad: 'x'.repeat(5200) } }));
    expect(outcome).toEqual({ kind: 'rejected', status: 0, code: 'PUSH_PAYLOAD_TOO_LARGE', reason: 'PayloadTooLarge' });
  });

  it('a closed sender refuses to send', async () => {
    const sender = senderFor();
    await sender.close();
    expect(await sender.send(voipPush())).toMatchObject({ kind: 'rejected', code: 'PUSH_SENDER_CLOSED' });
  });
});

describe('APNs addressing and logging', () => {
  it('picks Apple hosts by environment unless overridden', () => {
    expect(apnsOrigin('production')).toBe('https://api.push.apple.com:443');
    expect(apnsOrigin('development')).toBe('https://api.sandbox.push.apple.com:443');
    expect(apnsOrigin('production', { host: '::1', port: 8443 })).toBe('https://[::1]:8443');
  });

  it('logs only a short token prefix', () => {
    expect(tokenPrefix(pushToken)).toBe('a1a1a1a1…');
    expect(tokenPrefix('abc')).toBe('abc');
  });
});

async function unusedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
