/**
 * Scale-out: several `pushwake start` processes on one real redis-server. A phone woken by a push
 * re-registers at whichever node DNS gives it, and the call parked on another node still reaches
 * it, through the node that holds its flow. Every case over UDP and TCP phones, on embedded
 * engines, and on one drachtio-server per node where DRACHTIO_BIN names one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/testkit/agents.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { RELAY_HEADER, signGrant } from '../../lib/cluster/relay-grant.js';
import { ClusterLab, clusterEngines } from './support/cluster-lab.js';

/** Poll an async condition every 200 ms. */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

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

    it('kill -9 of B leaves its phones pushable through A: A pushes, the phone re-registers at A and is rung there', async () => {
      lab = await ClusterLab.start(engine, ['a', 'b']);
      const phone = lab.phone('alice', 'b', { transport });
      await phone.register();
      await lab.node('b').daemon.kill('SIGKILL');
      lab.wakeAt.set(phone, 'a');
      const result = await lab.call('a', 'sip:alice@example.com').done;
      expect(result.status).toBe(200);
      expect(lab.pushesFor(phone)).toHaveLength(1);
      expect(phone.invites).toHaveLength(1);
      await result.dialog?.destroy();
    }, 60_000);
  });

  it('an awake phone without push is rung through the node that holds its flow; once that node is gone it is not tried', async () => {
    lab = await ClusterLab.start(engine, ['a', 'b']);
    const desk = lab.phone('desk', 'b', { transport: 'tcp', push: 'none' });
    await desk.register();
    const result = await lab.call('a', 'sip:desk@example.com').done;
    expect(result.status).toBe(200);
    expect(desk.invites).toHaveLength(1);
    await result.dialog?.destroy();
    await lab.node('b').daemon.kill('SIGKILL');
    // B's presence expires after cluster.nodeTimeoutSeconds (2 s here), and A sees it at its next beat
    await lab.node('a').daemon.waitForLog('B gone', (l) => l.msg.startsWith('cluster: peer gone') && l['peer'] === 'b', 10_000);
    const started = Date.now();
    const after = await lab.call('a', 'sip:desk@example.com').done;
    expect(after.status).toBe(480);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(desk.invites).toHaveLength(1);
    expect(lab.sink.pushes).toHaveLength(0);
  }, 60_000);

  it('an INVITE with a forged or foreign relay grant is refused 403 and never reaches the phone', async () => {
    lab = await ClusterLab.start(engine, ['a', 'b']);
    const phone = lab.phone('alice', 'b', { transport: 'tcp' });
    await phone.register();
    const contact = `sip:pw-anything@${lab.node('b').sipHost}`;
    const garbage = await lab.call('b', contact, { [RELAY_HEADER]: 'not-a-grant' }).done;
    expect(garbage.status).toBe(403);
    const flow = { transport: 'tcp' as const, sourceAddress: '127.0.0.1', sourcePort: Number(lab.agents.host.split(':')[1]) };
    const foreign = signGrant(Buffer.from('another cluster entirely, another key'), { nodeId: 'b', fromNodeId: 'a', flow, contact: `sip:${phone.contactUser}@${lab.agents.host}`, aor: phone.aor, deviceKey: 'x', expiresAt: Date.now() + 10_000 });
    expect((await lab.call('b', contact, { [RELAY_HEADER]: foreign }).done).status).toBe(403);
    expect(phone.invites).toHaveLength(0);
    await lab.node('b').daemon.waitForLog('refusal', (l) => l.msg === 'relay request refused' && String(l['why']).includes('bad signature'));
  }, 60_000);

  it('Redis killed -9 and restarted under REGISTER traffic: no crash, 503s meanwhile, bindings kept, and a cross-node wake works after', async () => {
    lab = await ClusterLab.start(engine, ['a', 'b']);
    const phone = lab.phone('alice', 'a', { transport: 'tcp' });
    await phone.register();
    const others = [0, 1, 2].map((i) => lab?.phone(`u${i}`, i % 2 === 0 ? 'a' : 'b', { transport: 'udp' }) ).filter((p) => p !== undefined);
    let stopTraffic = false;
    const statuses: number[] = [];
    const traffic = (async () => {
      while (!stopTraffic) {
        for (const p of others) statuses.push((await p.register()).status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await lab.restartRedis(1_000);
    for (const id of ['a', 'b']) {
      // both of each node's connections: the store's and the cluster's
      await lab.node(id).daemon.waitForLog('cluster back', (l) => l.msg === 'cluster: Redis connection is back', 10_000);
      await lab.node(id).daemon.waitForLog('store back', (l) => l.msg === 'binding store connection is back', 10_000);
    }
    const backAt = statuses.length;
    await waitFor('REGISTERs answered 200 again', () => statuses.slice(backAt).filter((s) => s === 200).length >= 3, 10_000);
    stopTraffic = true;
    await traffic;
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses).toContain(503);
    for (const node of lab.nodes.values()) expect(node.daemon.alive).toBe(true);
    // the binding made before the restart is still there: B finds it and pushes; the phone wakes at A
    lab.wakeAt.set(phone, 'a');
    const result = await lab.call('b', 'sip:alice@example.com').done;
    expect(result.status).toBe(200);
    expect(lab.pushesFor(phone)).toHaveLength(1);
    await lab.node('a').daemon.waitForLog('relay line', (l) => l.msg === 'relaying a peer\'s INVITE over the phone\'s flow');
    await result.dialog?.destroy();
  }, 90_000);

  it('on Redis Sentinel: the cluster follows a failover of the master; bindings kept, cross-node wakes work after', async () => {
    lab = await ClusterLab.start(engine, ['a', 'b'], { sentinel: true });
    const set = lab.sentinel;
    if (!set) throw new Error('no sentinel');
    const phone = lab.phone('alice', 'a', { transport: 'tcp' });
    expect((await phone.register()).status).toBe(200);
    // replication is asynchronous: let the replica have the binding before the master dies
    await new Promise((r) => setTimeout(r, 300));
    await set.master.kill();
    await until('Sentinel to promote the replica', async () => (await set.masterPort()) === set.replica.port, 20_000);
    const other = lab.phone('bob', 'b', { transport: 'tcp' });
    await until('REGISTERs served on the new master', async () => (await other.register()).status === 200, 20_000);
    lab.wakeAt.set(phone, 'a');
    const result = await lab.call('b', 'sip:alice@example.com').done;
    expect(result.status).toBe(200);
    expect(lab.pushesFor(phone)).toHaveLength(1);
    await result.dialog?.destroy();
  }, 90_000);

  it('while Redis is down: a REGISTER gets 503 with Retry-After, a phone whose flow this node holds is still rung (no push), others get 503', async () => {
    lab = await ClusterLab.start(engine, ['a', 'b']);
    const here = lab.phone('alice', 'a', { transport: 'tcp' });
    const there = lab.phone('bob', 'b', { transport: 'tcp' });
    await here.register();
    await there.register();
    await lab.redis.kill();
    const reg = await lab.phone('carol', 'a', { transport: 'tcp' }).register();
    expect(reg.status).toBe(503);
    expect(reg.get('Retry-After')).toBe('5');
    const rung = await lab.call('a', 'sip:alice@example.com').done;
    expect(rung.status).toBe(200);
    expect(here.invites).toHaveLength(1);
    expect(lab.sink.pushes).toHaveLength(0);
    await rung.dialog?.destroy();
    expect((await lab.call('a', 'sip:bob@example.com').done).status).toBe(503);
    await lab.node('a').daemon.waitForLog('fallback line', (l) => l.msg.startsWith('store unavailable: ringing awake phones'));
    for (const node of lab.nodes.values()) expect(node.daemon.alive).toBe(true);
  }, 60_000);
});
