/**
 * The SIPp scenarios of sipp-scenarios/ run as written against pushwake on the embedded engine,
 * with the push sink standing in for APNs: the integrator's test kit must stay green.
 * Needs SIPp (SIPP_BIN or `sipp` on PATH); skipped with a plain message without it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sippBin } from '../../lib/testkit/binaries.js';
import { SippLab, type RegisterVariant, type SippTransport } from './support/sipp-lab.js';
import { scenario, testUsers, type SippResult } from './support/sipp-process.js';

const bin = sippBin();
if (!bin) console.log('[sipp] SKIPPED: no SIPP_BIN and no sipp on PATH (see docs/sipp.md)');

const users = testUsers();
const alice = users[0]!;

/** Exit code 0 is SIPp's "every call went as the scenario says"; show its screens otherwise. */
function expectPassed(result: SippResult): void {
  expect(result.code, result.output).toBe(0);
}

/** The lab options for phones on `transport`: pushwake listens on TLS too when they use it. */
const tlsLab = (transport: SippTransport): { tls?: boolean } => (transport === 'tls' ? { tls: true } : {});

const waitFor = async <T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

(bin ? describe : describe.skip)('SIPp test kit against pushwake', () => {
  let lab: SippLab | undefined;
  const startLab = async (opts?: Parameters<typeof SippLab.start>[1]): Promise<SippLab> => {
    lab = await SippLab.start(bin ?? 'sipp', opts);
    return lab;
  };
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  describe.each<[RegisterVariant, SippTransport]>([
    ['x-token', 'udp'],
    ['x-token', 'tcp'],
    ['xtoken-param', 'udp'],
    ['xtoken-param', 'tcp'],
    ['rfc8599', 'udp'],
    ['rfc8599', 'tcp'],
    // SIP over TLS: SIPp -t l1 to pushwake's TLS port (tlsLab)
    ['x-token', 'tls'],
    ['xtoken-param', 'tls'],
    ['rfc8599', 'tls'],
  ])('device-register-%s.xml over %s', (variant, transport) => {
    it('stores a binding with the token of each user, on the flow it came over', async () => {
      const l = await startLab(tlsLab(transport));
      expectPassed(await l.register(variant, transport, 2));
      for (const user of users.slice(0, 2)) {
        const [binding] = await l.pushwake.store.listBindings(user.aor);
        expect(binding?.push?.token).toBe(user.token);
        expect(binding?.push?.topic).toBe('com.example.phone.voip');
        expect(binding?.flow.transport).toBe(transport);
      }
    });
  });

  it('pbx-registrar-digest.xml challenges; the device answers the 401 and is stored after the 200', async () => {
    const l = await startLab({ registrar: 'pbx-registrar-digest.xml' });
    expectPassed(await l.register('x-token', 'udp', 2));
    expect(await l.pushwake.store.listBindings(alice.aor)).toHaveLength(1);
    expect(await l.pushwake.store.listBindings(users[1]!.aor)).toHaveLength(1);
  });

  describe.each<SippTransport>(['udp', 'tcp', 'tls'])('a whole call with the phone over %s', (transport) => {
    it('pbx-call.xml is answered by the phone that device-wake-answer.xml wakes with the push', async () => {
      const l = await startLab(tlsLab(transport));
      expectPassed(await l.register('x-token', transport));
      l.wakeOnPush('device-wake-answer.xml', transport);
      expectPassed(await l.pbx('pbx-call.xml'));
      const [wake] = await l.wakeResults();
      expectPassed(wake!);
      expect(l.sink.pushes).toHaveLength(1);
      expect(l.sink.pushes[0]).toMatchObject({ token: alice.token, pushType: 'voip', topic: 'com.example.phone.voip' });
      expect(l.sink.pushes[0]?.payload['aps']).toMatchObject({ callerNumber: '1000', callerName: 'PBX caller' });
      // the woken phone's REGISTER came over `transport`, and the INVITE went back on that flow
      const [binding] = await l.pushwake.store.listBindings(alice.aor);
      expect(binding?.flow.transport).toBe(transport);
      await waitFor('call over', () => l.pushwake.calls.size === 0);
    });
  });

  it('a caller that cancels during the wake: pbx-call-cancel.xml gets 487, device-late-wake.xml gets INVITE+CANCEL with a Reason', async () => {
    const l = await startLab();
    expectPassed(await l.register('x-token', 'udp'));
    expectPassed(await l.pbx('pbx-call-cancel.xml', ['-d', '300']));
    const [push] = l.sink.pushes;
    expect(push?.token).toBe(alice.token);
    const hint = String((push?.payload['aps'] as Record<string, unknown>)['pushHint']);
    await waitFor('call over', () => l.pushwake.calls.size === 0);
    const late = await l.wake('device-late-wake.xml', 'udp', alice.token, hint);
    expectPassed(await late.done);
    expect(l.sink.pushes).toHaveLength(1);
  });

  it('a phone that declines (device-wake-decline.xml) gives the PBX 603 (pbx-call-declined.xml)', async () => {
    const l = await startLab();
    expectPassed(await l.register('xtoken-param', 'tcp'));
    l.wakeOnPush('device-wake-decline.xml', 'tcp');
    expectPassed(await l.pbx('pbx-call-declined.xml'));
    expectPassed((await l.wakeResults())[0]!);
  });

  it('a busy phone (device-wake-busy.xml) gives the PBX 486 (pbx-call-busy.xml)', async () => {
    const l = await startLab();
    expectPassed(await l.register('rfc8599', 'udp'));
    l.wakeOnPush('device-wake-busy.xml', 'udp');
    expectPassed(await l.pbx('pbx-call-busy.xml'));
    expectPassed((await l.wakeResults())[0]!);
  });

  it('the push sink\'s --on-push hook with phone.sh wakes the phone that answers', async () => {
    const l = await startLab({
      onPushCommand: 'SIPP={sipp} PUSHWAKE_SIP={pushwake} PHONE_MODE=answer PHONE_TRANSPORT=t1 PHONE_LOG_DIR={dir}/phones '
        + `${scenario('phone.sh')} {token} {pushHint}`,
    });
    expectPassed(await l.register('x-token', 'tcp'));
    expectPassed(await l.pbx('pbx-call.xml'));
    const exit = await waitFor('phone.sh exit', () => l.hookExits[0]);
    expect(exit.exitCode, exit.command).toBe(0);
    expect(exit.token).toBe(alice.token);
  });

  it('phone.sh over TLS (PHONE_TRANSPORT=l1, PHONE_TLS_CERT/KEY) wakes the phone that answers on its TLS connection', async () => {
    const l = await startLab({
      tls: true,
      onPushCommand: 'SIPP={sipp} PUSHWAKE_SIP={pushwakeTls} PHONE_MODE=answer PHONE_TRANSPORT=l1 PHONE_TLS_CERT={tlsCert} PHONE_TLS_KEY={tlsKey} '
        + `PHONE_LOG_DIR={dir}/phones ${scenario('phone.sh')} {token} {pushHint}`,
    });
    expectPassed(await l.register('x-token', 'tls'));
    expectPassed(await l.pbx('pbx-call.xml'));
    const exit = await waitFor('phone.sh exit', () => l.hookExits[0]);
    expect(exit.exitCode, exit.command).toBe(0);
    expect(exit.token).toBe(alice.token);
    const [binding] = await l.pushwake.store.listBindings(alice.aor);
    expect(binding?.flow.transport).toBe('tls');
  });

  it('the phone scenarios fail when the INVITE lacks the pushed X-PushHint', async () => {
    const l = await startLab();
    expectPassed(await l.register('x-token', 'udp'));
    const call = l.pbx('pbx-call.xml');
    await waitFor('push', () => l.sink.pushes.length === 1);
    const phone = await l.wake('device-wake-answer.xml', 'udp', alice.token, '00000000deadbeef');
    const result = await phone.done;
    expect(result.code, result.output).toBe(1);
    expect(result.output).toContain("is not the pushed hint '00000000deadbeef'");
    expect((await call).code).toBe(1);
  });

  it('device-wake.xml fails at once for a token that is not in users.csv', async () => {
    const l = await startLab();
    const result = await (await l.wake('device-wake-answer.xml', 'udp', 'ff'.repeat(32), '0123456789abcdef')).done;
    expect(result.code, result.output).toBe(1);
    expect(result.output).toContain('is not in users.csv');
  });

  it('load: 20 calls at 5 per second to 20 users, each woken and answered', async () => {
    const l = await startLab();
    expectPassed(await l.register('x-token', 'udp', 20));
    l.wakeOnPush('device-wake-answer.xml', 'udp');
    expectPassed(await l.pbx('pbx-call.xml', ['-m', '20', '-r', '5', '-l', '40', '-timeout', '60s']));
    const wakes = await l.wakeResults();
    expect(wakes).toHaveLength(20);
    for (const wake of wakes) expectPassed(wake);
    expect(new Set(l.sink.pushes.map((p) => p.token))).toEqual(new Set(users.slice(0, 20).map((u) => u.token)));
  }, 90_000);
});
