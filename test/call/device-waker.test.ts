import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceWaker } from '../../lib/call/device-waker.js';
import type { CallIdentity } from '../../lib/call/call-types.js';
import { silentLogger } from '../../lib/log.js';
import { compilePayloadTemplate, DEFAULT_PAYLOAD_TEMPLATE } from '../../lib/push/payload.js';
import type { PushOutcome, PushSender, VoipPush } from '../../lib/push/push-outcome.js';
import { LevelBindingStore } from '../../lib/store/level-store.js';
import type { BindingStore } from '../../lib/store/binding-store.js';
import { binding } from './call-fixture.js';

const call: CallIdentity = {
  callId: 'c1@pbx',
  inviteKey: 'c1@pbx\nalice',
  callUuid: '11111111-2222-3333-4444-555555555555',
  pushHint: 'h1',
  aor: 'sip:alice@example.com',
  caller: { callerNumber: '1000', callerName: 'Bob', withVideo: true },
};

class ScriptedSender implements PushSender {
  readonly sent: VoipPush[] = [];
  constructor(private readonly script: PushOutcome[]) {}
  send(push: VoipPush): Promise<PushOutcome> {
    this.sent.push(push);
    return Promise.resolve(this.script.shift() ?? { kind: 'delivered', apnsId: 'x', status: 200 });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('DeviceWaker', () => {
  let dir: string;
  let store: LevelBindingStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waker-'));
    store = await LevelBindingStore.open({ path: dir });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const waker = (sender: PushSender): DeviceWaker =>
    new DeviceWaker(sender, compilePayloadTemplate(DEFAULT_PAYLOAD_TEMPLATE), store, { ttlMs: 30_000, retryBaseDelayMs: 1, retryMaxAttempts: 4 }, silentLogger());

  it('sends one VoIP push with the call UUID as collapse id and a short expiry', async () => {
    const sender = new ScriptedSender([]);
    const out = await waker(sender).wake(binding(1), call, Date.now() + 10_000);
    expect(out.kind).toBe('sent');
    expect(sender.sent).toHaveLength(1);
    expect(sender.sent[0]?.collapseId).toBe(call.callUuid);
    expect(sender.sent[0]?.payload).toMatchObject({ aps: { callerNumber: '1000', withVideo: true, pushHint: 'h1' }, callUuid: call.callUuid, callId: 'c1@pbx' });
    expect((sender.sent[0]?.expiresAt ?? 0) - Date.now()).toBeLessThanOrEqual(30_000);
  });

  it('never pushes the same device twice for one call', async () => {
    const sender = new ScriptedSender([]);
    const w = waker(sender);
    expect((await w.wake(binding(1), call, Date.now() + 10_000)).kind).toBe('sent');
    expect((await w.wake(binding(1), call, Date.now() + 10_000)).kind).toBe('duplicate');
    expect(sender.sent).toHaveLength(1);
  });

  it('retries 429 and 5xx within the wake window', async () => {
    const sender = new ScriptedSender([
      { kind: 'retryable', status: 429, code: 'PUSH_PROVIDER_BUSY', reason: 'TooManyRequests' },
      { kind: 'retryable', status: 500, code: 'PUSH_PROVIDER_BUSY', reason: 'InternalServerError' },
    ]);
    expect((await waker(sender).wake(binding(1), call, Date.now() + 10_000)).kind).toBe('sent');
    expect(sender.sent).toHaveLength(3);
  });

  it('a dead token is removed from the binding and the wake fails', async () => {
    const b = binding(1);
    await store.putBinding(b);
    const sender = new ScriptedSender([{ kind: 'token-dead', status: 410, code: 'PUSH_TOKEN_DEAD', reason: 'Unregistered' }]);
    const out = await waker(sender).wake(b, call, Date.now() + 10_000);
    expect(out).toMatchObject({ kind: 'failed', code: 'WAKE_PUSH_FAILED' });
    expect((await store.getBinding(b.aor, b.deviceKey))?.push).toBeUndefined();
  });

  it('a push the sender marks maybe-delivered is not retried and the device is awaited', async () => {
    // the code is the sender's, the flag is what the waker reads: no reason text is matched
    const sender = new ScriptedSender([{ kind: 'retryable', status: 0, code: 'PUSH_TIMEOUT', reason: 'anything at all', maybeDelivered: true }]);
    const out = await waker(sender).wake(binding(1), call, Date.now() + 10_000);
    expect(out.kind).toBe('sent');
    expect(sender.sent).toHaveLength(1);
  });

  it('a connection failure without an answer is retried: the request never left', async () => {
    const sender = new ScriptedSender([{ kind: 'retryable', status: 0, code: 'PUSH_CONNECT_FAILED', reason: 'ConnectionError(ECONNREFUSED)' }]);
    expect((await waker(sender).wake(binding(1), call, Date.now() + 10_000)).kind).toBe('sent');
    expect(sender.sent).toHaveLength(2);
  });

  it('a call that ends while the push claim is in the store is not pushed: it would be a ghost call', async () => {
    const sender = new ScriptedSender([]);
    const signal = { aborted: false };
    const claiming: BindingStore = new Proxy(store, {
      get: (target, prop, receiver) => prop === 'claimPush'
        ? async (...args: Parameters<BindingStore['claimPush']>) => {
          const won = await target.claimPush(...args);
          signal.aborted = true; // the caller hung up meanwhile
          return won;
        }
        : Reflect.get(target, prop, receiver),
    });
    const w = new DeviceWaker(sender, compilePayloadTemplate(DEFAULT_PAYLOAD_TEMPLATE), claiming, { ttlMs: 30_000, retryBaseDelayMs: 1, retryMaxAttempts: 3 }, silentLogger());
    expect(await w.wake(binding(1), call, Date.now() + 10_000, signal)).toEqual({ kind: 'failed', code: 'WAKE_CALL_OVER', why: 'call over before the push' });
    expect(sender.sent).toHaveLength(0);
  });

  it('a refused push fails the wake without retrying', async () => {
    const sender = new ScriptedSender([{ kind: 'rejected', status: 400, code: 'PUSH_PROVIDER_REFUSED', reason: 'BadTopic' }]);
    expect((await waker(sender).wake(binding(1), call, Date.now() + 10_000)).kind).toBe('failed');
    expect(sender.sent).toHaveLength(1);
  });

  it('a binding without a token is not pushed', async () => {
    const sender = new ScriptedSender([]);
    expect((await waker(sender).wake(binding(1, { push: undefined }), call, Date.now() + 10_000)).kind).toBe('failed');
    expect(sender.sent).toHaveLength(0);
  });
});
