/**
 * The FCM HTTP v1 sender against the push sink's FCM side: the OAuth2 JWT-bearer grant, a
 * high-priority data message, and FCM's errors (UNREGISTERED, 429, 401, a wrong project).
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FcmSender, dataOf } from '../../lib/push/fcm-sender.js';
import type { VoipPush } from '../../lib/push/push-outcome.js';
import { startPushSink, type PushSink } from '../../lib/push-sink/index.js';

const TOKEN = `fcm-token_${'x'.repeat(140)}`;

describe('FcmSender', () => {
  let sink: PushSink;
  beforeAll(async () => {
    sink = await startPushSink({ output: 'none' });
  });
  afterAll(async () => {
    await sink.stop();
  });
  beforeEach(() => {
    sink.clearRules();
    sink.fcm.expireAccessTokens();
  });

  const sender = (over: Partial<ConstructorParameters<typeof FcmSender>[0]> = {}): FcmSender =>
    new FcmSender({ serviceAccount: sink.fcm.serviceAccount, endpoint: sink.url, ca: sink.caCertPem, ...over });
  const push = (over: Partial<VoipPush['token']> = {}): VoipPush => ({
    token: { provider: 'fcm', token: TOKEN, topic: sink.fcm.projectId, environment: 'production', ...over },
    payload: { aps: { callerNumber: '1000', pushHint: 'h1' }, callUuid: 'u-1', callId: 'c-1' },
    collapseId: 'u-1',
    expiresAt: Date.now() + 30_000,
  });

  it('sends a high-priority data message with the push lifetime as ttl, minting one access token for many pushes', async () => {
    const s = sender();
    const before = sink.fcm.tokenRequests;
    const out = await s.send(push());
    expect(out).toMatchObject({ kind: 'delivered', status: 200 });
    expect((out as { apnsId: string }).apnsId).toMatch(new RegExp(`^projects/${sink.fcm.projectId}/messages/`));
    expect((await s.send(push())).kind).toBe('delivered');
    expect(sink.fcm.tokenRequests - before).toBe(1);
    const got = sink.pushes.at(-1);
    expect(got).toMatchObject({ provider: 'fcm', token: TOKEN, topic: sink.fcm.projectId, collapseId: 'u-1', payload: { aps: '{"callerNumber":"1000","pushHint":"h1"}', callUuid: 'u-1', callId: 'c-1' } });
    expect((got?.expiration ?? 0) - Date.now() / 1000).toBeGreaterThan(25);
    await s.close();
  });

  it('UNREGISTERED (404) means the token is dead, as APNs 410', async () => {
    sink.setRule({ token: TOKEN, respond: 'unregistered' });
    const out = await sender().send(push());
    expect(out).toMatchObject({ kind: 'token-dead', code: 'PUSH_TOKEN_DEAD', status: 404, reason: expect.stringContaining('UNREGISTERED') });
  });

  it('429 and 5xx are worth a retry, with FCM\'s Retry-After', async () => {
    sink.setRule({ token: TOKEN, respond: 'too-many-requests', retryAfterSeconds: 2, times: 1 });
    const s = sender();
    expect(await s.send(push())).toMatchObject({ kind: 'retryable', code: 'PUSH_PROVIDER_BUSY', status: 429, retryAfterMs: 2000 });
    expect((await s.send(push())).kind).toBe('delivered');
    sink.setRule({ token: TOKEN, respond: 'service-unavailable', times: 1 });
    expect(await s.send(push())).toMatchObject({ kind: 'retryable', status: 503 });
  });

  it('an access token FCM stops taking (401) is replaced at once and the push sent', async () => {
    const s = sender();
    expect((await s.send(push())).kind).toBe('delivered');
    const before = sink.fcm.tokenRequests;
    sink.fcm.expireAccessTokens();
    expect((await s.send(push())).kind).toBe('delivered');
    expect(sink.fcm.tokenRequests - before).toBe(1);
  });

  it('a token about to expire is refreshed ahead of time', async () => {
    sink.fcm.tokenLifetimeSeconds = 200; // under the 5-minute margin: every push asks for a fresh one
    try {
      const s = sender();
      const before = sink.fcm.tokenRequests;
      await s.send(push());
      await s.send(push());
      expect(sink.fcm.tokenRequests - before).toBe(2);
    } finally {
      sink.fcm.tokenLifetimeSeconds = 3600;
    }
  });

  it('a project the account cannot send for, or a key the token endpoint does not know, is an auth failure', async () => {
    expect(await sender().send(push({ topic: 'another-project' }))).toMatchObject({ kind: 'rejected', code: 'PUSH_PROVIDER_AUTH', status: 403 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = sender({ serviceAccount: { ...sink.fcm.serviceAccount, private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() } });
    const out = await stranger.send(push());
    expect(out).toMatchObject({ kind: 'rejected', code: 'PUSH_PROVIDER_AUTH' });
    expect((out as { reason: string }).reason).toContain('invalid_grant');
  });

  it('data values are strings: nested objects go as JSON text', () => {
    expect(dataOf({ a: 'x', b: { c: 1 }, d: true, e: 2 })).toEqual({ a: 'x', b: '{"c":1}', d: 'true', e: '2' });
  });
});
