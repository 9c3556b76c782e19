/** `npm run demo` plays a whole call on this machine and draws it; the drawing must show it. */
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../lib/demo/run.js';
import { runClusterDemo } from '../../lib/demo/cluster.js';
import { findRedisServer } from '../../lib/testkit/redis-server.js';

describe('npm run demo', () => {
  it('runs one call through push, wake, answer and hang-up, and prints the ladder and the wake latency', async () => {
    const result = await runDemo({ wakeDelayMs: 50, holdMs: 100 });
    expect(result.answered).toBe(true);
    const labels = result.ladder.ordered().map((s) => (s.kind === 'message' ? `${s.from} -> ${s.to}: ${s.label}` : `${s.party}: ${s.text}`));
    const inOrder = [
      /^phone -> pushwake: REGISTER X-Token /,
      /^pushwake -> PBX: REGISTER \(relayed\)$/,
      /^PBX -> pushwake: INVITE alice$/,
      /^pushwake -> PBX: 180 Ringing$/,
      /^pushwake -> APNs sink: POST voip /,
      /^APNs sink -> phone: VoIP push /,
      /^phone -> pushwake: REGISTER X-Token, X-PushHint [0-9a-f]{16}$/,
      /^pushwake -> phone: INVITE X-PushHint [0-9a-f]{16}$/,
      /^phone -> pushwake: 200 OK \(SDP\)$/,
      /^pushwake -> PBX: 200 OK \(SDP\)$/,
      /^PBX -> pushwake: BYE$/,
      /^pushwake -> phone: BYE$/,
    ];
    let from = 0;
    for (const step of inOrder) {
      const found = labels.findIndex((l, i) => i >= from && step.test(l));
      expect(found, `${step} after step ${from} in:\n${labels.join('\n')}`).toBeGreaterThanOrEqual(0);
      from = found + 1;
    }
    // The phone is INVITEd with the hint of the push that woke it.
    const hint = labels.find((l) => l.startsWith('pushwake -> phone: INVITE'))?.split(' ').at(-1);
    expect(labels.find((l) => l.startsWith('phone -> pushwake: REGISTER X-Token, X-PushHint'))).toContain(hint);
    expect(result.latency?.pushToRegisterMs).toBeGreaterThanOrEqual(45);
    expect(result.latency?.inviteToPushMs).toBeGreaterThan(0);
    expect(result.text).toMatch(/PBX +pushwake +APNs sink +phone/);
    expect(result.text).toMatch(/INVITE in -> VoIP push out +\d+\.\d ms/);
    expect(result.text).toMatch(/REGISTER 200 -> INVITE to the phone +\d+\.\d ms/);
  });
});

describe.skipIf(!findRedisServer())('npm run demo -- --nodes 2', () => {
  it('parks the call on node A and answers it through node B, where the woken phone registered', async () => {
    const result = await runClusterDemo({ wakeDelayMs: 50, holdMs: 100 });
    expect(result.answered).toBe(true);
    const labels = result.ladder.ordered().map((s) => (s.kind === 'message' ? `${s.from} -> ${s.to}: ${s.label}` : `${s.party}: ${s.text}`));
    const inOrder = [
      /^phone -> pushwake A: REGISTER X-Token /,
      /^PBX -> pushwake A: INVITE alice$/,
      /^pushwake A -> APNs sink: POST voip /,
      /^phone -> pushwake B: REGISTER X-Token, X-PushHint /,
      /^pushwake B: binding stored; PUBLISH to the cluster/,
      /^pushwake A -> pushwake B: INVITE \+ grant$/,
      /^pushwake B -> phone: INVITE X-PushHint /,
      /^pushwake B -> pushwake A: 200 OK \(SDP\)$/,
      /^pushwake A -> PBX: 200 OK \(SDP\)$/,
      /^pushwake B -> phone: BYE$/,
    ];
    let from = 0;
    for (const step of inOrder) {
      const found = labels.findIndex((l, i) => i >= from && step.test(l));
      expect(found, `${step} after step ${from} in:\n${labels.join('\n')}`).toBeGreaterThanOrEqual(0);
      from = found + 1;
    }
    expect(result.crossNodeWakeMs).toBeGreaterThan(0);
    expect(result.text).toMatch(/PBX +pushwake A +pushwake B +APNs sink +phone/);
  }, 30_000);
});
