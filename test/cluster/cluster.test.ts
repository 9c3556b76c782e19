/**
 * Scale-out: several `pushwake start` processes on one real redis-server. A phone woken by a push
 * re-registers at whichever node DNS gives it, and the call parked on another node still reaches
 * it, through the node that holds its flow. Every case over UDP and TCP phones, on embedded
 * engines, and on one drachtio-server per node where DRACHTIO_BIN names one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/testkit/agents.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { ClusterLab, clusterEngines } from './support/cluster-lab.js';

if (!drachtioBin()) console.log('[cluster] SKIPPED the drachtio-server runs: no DRACHTIO_BIN and no drachtio on PATH. The cluster suite runs on embedded engines only.');

describe.each(clusterEngines())('a two-node cluster on %s engines', (engine) => {
  let lab: ClusterLab | undefined;
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  describe.each(['udp', 'tcp'] as const)('%s phones', (transport) => {
    it('a REGISTER at B wakes the call parked at A: one push, the INVITE reaches the phone through B with A\'s push hint, BYE ends both', async () => {
      lab = await ClusterLab.start(engine, ['a', 'b']);
      const phone = lab.phone('alice', 'a', { transport });
      expect((await phone.register()).status).toBe(200);
      lab.wakeAt.set(phone, 'b');
      const call = lab.call('a', 'sip:alice@example.com');
      const result = await call.done;
      expect(result.status).toBe(200);
      const pushes = lab.pushesFor(phone);
      expect(pushes).toHaveLength(1);
      expect(phone.invites).toHaveLength(1);
      const aps = pushes[0]?.payload['aps'] as Record<string, unknown>;
      expect(phone.invites[0]?.pushHint).toBe(aps['pushHint']);
      expect(phone.invites[0]?.callUuid).toBe(pushes[0]?.payload['callUuid']);
      expect(phone.invites[0]?.protocol.toLowerCase()).toBe(transport);
      await lab.node('b').daemon.waitForLog('relay line', (l) => l.msg === 'relaying a peer\'s INVITE over the phone\'s flow');
      const phoneDialog = await waitFor('the phone\'s dialog', () => phone.invites[0]?.dialog);
      const phoneHungUp = new Promise<void>((resolve) => phoneDialog.on('destroy', () => resolve()));
      await result.dialog?.destroy();
      await phoneHungUp;
      await lab.node('a').daemon.waitForLog('call ended', (l) => l.msg === 'call ended' && l['how'] === 'answered-hangup');
    }, 60_000);

    it('the same INVITE forked to A and B gives one push and one answered call; the other copy never rings the phone', async () => {
      lab = await ClusterLab.start(engine, ['a', 'b']);
      const phone = lab.phone('alice', 'a', { transport });
      await phone.register();
      lab.wakeAt.set(phone, 'b');
      const callId = `fork-${transport}-${Date.now()}@pbx`;
      const viaA = lab.call('a', 'sip:alice@example.com', { 'Call-ID': callId });
      const viaB = lab.call('b', 'sip:alice@example.com', { 'Call-ID': callId });
      const first = await Promise.race([viaA.done.then((r) => ({ r, other: viaB })), viaB.done.then((r) => ({ r, other: viaA }))]);
      expect(first.r.status).toBe(200);
      expect(lab.pushesFor(phone)).toHaveLength(1);
      expect(phone.invites).toHaveLength(1);
      // the forking proxy cancels the other branch once one answered
      first.other.cancel('SIP;cause=200;text="Call completed elsewhere"');
      expect((await first.other.done).status).toBe(487);
      expect(phone.invites).toHaveLength(1);
      await first.r.dialog?.destroy();
    }, 60_000);

    it('an ended notice owed at A is delivered when the phone re-registers at B', async () => {
      lab = await ClusterLab.start(engine, ['a', 'b']);
      const phone = lab.phone('alice', 'a', { transport });
      await phone.register();
      phone.wakeOnPush = false;
      const call = lab.call('a', 'sip:alice@example.com');
      await waitFor('push', () => lab?.pushesFor(phone).length === 1);
      call.cancel();
      expect((await call.done).status).toBe(487);
      await lab.node('a').daemon.waitForLog('notice owed', (l) => l.msg === 'ended notice owed');
      phone.pushwakeHost = lab.node('b').sipHost;
      expect((await phone.register()).status).toBe(200);
      await waitFor('the ended notice', () => phone.invites.length === 1 && phone.invites[0]?.cancelled);
      expect(phone.invites[0]?.cancelReason).toContain('cause=487');
    }, 60_000);
  });
});
