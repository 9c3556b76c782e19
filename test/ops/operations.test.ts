/**
 * Operating pushwake: the admin server (health, readiness, Prometheus metrics) with exact counter
 * increments for a woken call, a cancelled call and a 410; every CLI command against a running
 * pushwake; SIGHUP reload of a live knob, a restart-only knob and a bad file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallAttempt, startAgentHost, waitFor } from '../../lib/testkit/agents.js';
import { freePort } from '../../lib/testkit/free-port.js';
import { loopbackOverrides } from '../../lib/testkit/loopback-config.js';
import { mergeTrees, runCleanups, type Cleanup } from '../../lib/testkit/cleanups.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { startDrachtioServer } from '../../lib/testkit/drachtio-server.js';
import { loadConfig } from '../../lib/config/load.js';
import { createLogger } from '../../lib/log.js';
import { startPushwake } from '../../lib/pushwake.js';
import { PushwakeDaemon } from '../../lib/testkit/pushwake-daemon.js';
import { startPushSink } from '../../lib/push-sink/index.js';
import { SipLab } from '../e2e/support/sip-lab.js';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..');

/** `name{labels} value` lines of a Prometheus text page, by series. */
function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return series(await res.text());
}

const delta = (before: Map<string, number>, after: Map<string, number>, key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);

describe('the admin server', () => {
  let lab: SipLab;
  let url: string;
  beforeEach(async () => {
    lab = await SipLab.start({ engine: 'embedded' });
    url = lab.pushwake.adminUrl ?? '';
  });
  afterEach(async () => {
    await lab.stop();
  });

  it('answers /healthz and /readyz, and /metrics has every family the dashboards use', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { engine: { ok: true }, store: { ok: true }, apns: { ok: true } } });
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const family of [
      'pushwake_registrations_total', 'pushwake_bindings', 'pushwake_pushes_total', 'pushwake_push_request_seconds', 'pushwake_wake_seconds',
      'pushwake_calls_total', 'pushwake_parked_calls', 'pushwake_ended_notices_total', 'pushwake_sip_messages_total', 'pushwake_sip_connections',
      'pushwake_sip_rejected_total', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes',
    ]) expect(text, family).toContain(`# TYPE ${family} `);
  });

  it('counts a woken call, a cancelled call and a 410 exactly', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    const t0 = await scrape(url);
    const woken = await lab.pbx.call('sip:alice@example.com').done;
    expect(woken.status).toBe(200);
    await woken.dialog?.destroy();
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
    const t1 = await scrape(url);
    expect(delta(t0, t1, 'pushwake_pushes_total{provider="apns",result="delivered",reason="none"}')).toBe(1);
    expect(delta(t0, t1, 'pushwake_calls_total{ending="answered-hangup"}')).toBe(1);
    expect(delta(t0, t1, 'pushwake_registrations_total{result="ok"}')).toBe(1);
    expect(delta(t0, t1, 'pushwake_wake_seconds_count')).toBe(1);
    expect(delta(t0, t1, 'pushwake_push_request_seconds_count{provider="apns"}')).toBe(1);
    expect(delta(t0, t1, 'pushwake_sip_messages_total{direction="in",method="INVITE"}')).toBeGreaterThanOrEqual(1);

    phone.wakeOnPush = false;
    const cancelled = lab.pbx.call('sip:alice@example.com');
    await waitFor('push', () => lab.pushesFor(phone).length === 2);
    cancelled.cancel();
    expect((await cancelled.done).status).toBe(487);
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
    await phone.register();
    await waitFor('notice delivered', () => phone.invites.some((i) => i.cancelled));
    const t2 = await scrape(url);
    expect(delta(t1, t2, 'pushwake_calls_total{ending="caller-cancelled"}')).toBe(1);
    expect(delta(t1, t2, 'pushwake_pushes_total{provider="apns",result="delivered",reason="none"}')).toBe(1);
    // the notice's INVITE+CANCEL ends when its 487 comes back
    const noticeKey = 'pushwake_ended_notices_total{mode="invite-cancel",result="delivered"}';
    for (let i = 0; i < 50 && delta(t1, await scrape(url), noticeKey) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(delta(t1, await scrape(url), noticeKey)).toBe(1);

    // APNs says 410: the token is dropped, and the phone, whose own registration is alive, is rung over its flow
    lab.sink.setRule({ token: phone.token, respond: 'unregistered' });
    const after410 = await lab.pbx.call('sip:alice@example.com').done;
    expect(after410.status).toBe(200);
    await after410.dialog?.destroy();
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
    const t3 = await scrape(url);
    expect(delta(t2, t3, 'pushwake_pushes_total{provider="apns",result="token-dead",reason="PUSH_TOKEN_DEAD"}')).toBe(1);
    expect(delta(t2, t3, 'pushwake_pushes_total{provider="apns",result="delivered",reason="none"}')).toBe(0);
    expect(delta(t2, t3, 'pushwake_calls_total{ending="answered-hangup"}')).toBe(1);
    expect(t3.get('pushwake_parked_calls')).toBe(0);
    expect(t3.get('pushwake_bindings')).toBe(1);
  }, 60_000);

  it('every CLI command works against the running pushwake, tables for people and --json for scripts', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    const cli = async (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => {
      try {
        const r = await run(process.execPath, ['--import', 'tsx', join(repo, 'lib', 'cli.ts'), ...args, '--admin', url], { cwd: repo });
        return { ...r, code: 0 };
      } catch (err) {
        const e = err as { stdout: string; stderr: string; code: number };
        return { stdout: e.stdout, stderr: e.stderr, code: e.code };
      }
    };
    const status = await cli('status', '--json');
    expect(JSON.parse(status.stdout)).toMatchObject({ store: 'embedded', bindings: 1, calls: 0, engine: { mode: 'embedded', connected: true } });
    expect((await cli('status')).stdout).toMatch(/^bindings +1$/m);
    const list = await cli('bindings', 'list', '--json');
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ aor: 'sip:alice@example.com', push: expect.objectContaining({ token: `${phone.token.slice(0, 8)}…` }) })]);
    expect((await cli('bindings', 'list')).stdout).toMatch(/^aor +deviceKey/m);
    expect((await cli('bindings', 'show', 'sip:alice@example.com')).stdout).toMatch(/^deviceKey +inst:/m);
    phone.wakeOnPush = false;
    const parked = lab.pbx.call('sip:alice@example.com');
    await waitFor('push', () => lab.pushesFor(phone).length === 1);
    const calls = await cli('calls', '--json');
    expect(JSON.parse(calls.stdout)).toEqual([expect.objectContaining({ aor: 'sip:alice@example.com', state: 'parked' })]);
    parked.cancel();
    await parked.done;
    const refused = await cli('push', '--aor', 'sip:alice@example.com');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes-ring-the-phone');
    const pushed = await cli('push', '--aor', 'sip:alice@example.com', '--yes-ring-the-phone', '--json');
    expect(JSON.parse(pushed.stdout)).toMatchObject({ results: [{ result: 'delivered' }] });
    expect(lab.pushesFor(phone).at(-1)?.payload['aps']).toMatchObject({ callerName: 'pushwake test push' });
    const reload = await cli('reload', '--json');
    expect(JSON.parse(reload.stdout)).toMatchObject({ error: expect.stringContaining('without a config file') });
    expect(reload.code).toBe(1);
    expect((await cli('bindings', 'delete', 'sip:alice@example.com')).stdout).toContain('removed 1 binding');
    const gone = await cli('bindings', 'show', 'sip:alice@example.com');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('no bindings for sip:alice@example.com');
    const nowhere = await run(process.execPath, ['--import', 'tsx', join(repo, 'lib', 'cli.ts'), 'status', '--admin', `http://127.0.0.1:${await freePort()}`], { cwd: repo }).catch((err: { stderr: string; code: number }) => err);
    expect('stderr' in nowhere ? nowhere.stderr : '').toMatch(/cannot reach pushwake's admin server at http:\/\/127\.0\.0\.1:\d+ \(from --admin\): ECONNREFUSED/);
  }, 90_000);
});

describe('a token on the admin API', () => {
  it('guards the API and /metrics; health endpoints stay open', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { admin: { listen: '127.0.0.1:0', token: 's3cret-token' } } });
    try {
      const url = lab.pushwake.adminUrl ?? '';
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const denied = await fetch(`${url}/metrics`);
      expect(denied.status).toBe(401);
      expect(await denied.json()).toMatchObject({ error: { code: 'ADMIN_UNAUTHORIZED' } });
      expect((await fetch(`${url}/api/status`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${url}/api/status`, { headers: { Authorization: 'Bearer s3cret-token' } })).status).toBe(200);
      expect((await fetch(`${url}/api/nothing`, { headers: { Authorization: 'Bearer s3cret-token' } })).status).toBe(404);
      const badBody = await fetch(`${url}/api/push`, { method: 'POST', headers: { Authorization: 'Bearer s3cret-token' }, body: '{nope' });
      expect(await badBody.json()).toMatchObject({ error: { code: 'ADMIN_BAD_REQUEST' } });
      const huge = await fetch(`${url}/api/push`, { method: 'POST', headers: { Authorization: 'Bearer s3cret-token' }, body: `{"pad":"${'x'.repeat(70 * 1024)}"}` });
      expect(huge.status).toBe(413);
      expect(await huge.json()).toMatchObject({ error: { code: 'ADMIN_BODY_TOO_LARGE' } });
    } finally {
      await lab.stop();
    }
  }, 30_000);
});

describe('reload (SIGHUP)', () => {
  it('applies a live knob, names a restart-only one, and refuses a bad file whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushwake-reload-'));
    const sink = await startPushSink({ output: 'none' });
    const file = join(dir, 'pushwake.yaml');
    const base = mergeTrees(loopbackOverrides(sink, dir, 'sip:127.0.0.1:5999'), {
      sip: { listen: [{ address: '127.0.0.1', port: await freePort(), transports: ['udp', 'tcp'] }] },
      call: { wakeTimeoutMs: 20_000 },
    });
    const daemon = await PushwakeDaemon.start(file, base);
    try {
      writeFileSync(file, stringify(mergeTrees(base, { call: { wakeTimeoutMs: 9000 }, upstream: { trustedSources: ['10.1.2.3'] }, sip: { listen: [{ address: '127.0.0.1', port: 1, transports: ['udp'] }] } })));
      daemon.signal('SIGHUP');
      const reloaded = await daemon.waitForLog('reload', (l) => l.msg === 'config reloaded');
      expect(reloaded['applied']).toEqual(['upstream.trustedSources', 'call.wakeTimeoutMs']);
      // the live knob took effect: the PBX on 127.0.0.1 is no longer a trusted source
      const agents = await startAgentHost();
      try {
        const sipPort = (base['sip'] as { listen: Array<{ port: number }> }).listen[0]?.port ?? 0;
        const call = await new CallAttempt(agents.app, 'sip:alice@example.com', `sip:127.0.0.1:${sipPort}`, {}).done;
        expect(call.status).toBe(403);
      } finally {
        await agents.stop();
      }
      expect(reloaded['restartNeeded']).toEqual(['sip.listen']);
      await daemon.waitForLog('restart warning', (l) => l.msg.startsWith('config keys changed that only a restart applies') && JSON.stringify(l['keys']) === '["sip.listen"]');
      writeFileSync(file, 'call:\n  wakeTimeoutMs: fast\n');
      daemon.signal('SIGHUP');
      const refused = await daemon.waitForLog('refusal', (l) => l.msg.startsWith('config reload refused'));
      expect(refused['err']).toBe('config call.wakeTimeoutMs: must be an integer from 1000 to 300000 (got "fast")');
      expect(refused['key']).toBe('call.wakeTimeoutMs');
      expect(daemon.alive).toBe(true);
      const admin = daemon.lines.find((l) => l.msg === 'pushwake started')?.['admin'];
      const status = (await (await fetch(`${String(admin)}/api/status`)).json()) as Record<string, unknown>;
      expect(status['store']).toBe('embedded');
    } finally {
      await daemon.stop();
      await sink.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('npm start on the embedded defaults', () => {
  it('answers /healthz, /readyz and /metrics on 127.0.0.1:8089, with every family', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushwake-defaults-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PUSHWAKE_')));
    const daemon = await PushwakeDaemon.startWith(['start'], { cwd: dir, env });
    try {
      const started = await daemon.waitForLog('started', (l) => l.msg === 'pushwake started');
      expect(started['admin']).toBe('http://127.0.0.1:8089');
      expect(daemon.lines.some((l) => l.msg === 'listening for SIP on udp/127.0.0.1:5060')).toBe(true);
      expect((await fetch('http://127.0.0.1:8089/healthz')).status).toBe(200);
      expect((await fetch('http://127.0.0.1:8089/readyz')).status).toBe(200);
      const text = await (await fetch('http://127.0.0.1:8089/metrics')).text();
      for (const family of ['pushwake_registrations_total', 'pushwake_bindings', 'pushwake_pushes_total', 'pushwake_wake_seconds', 'pushwake_calls_total', 'pushwake_sip_connections']) {
        expect(text).toContain(`# TYPE ${family} `);
      }
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

if (!drachtioBin()) console.log('[ops] SKIPPED the readiness-on-engine-loss test: no DRACHTIO_BIN and no drachtio on PATH.');
describe.skipIf(!drachtioBin())('readiness follows the SIP engine connection (drachtio-server)', () => {
  it('/readyz turns red, with a warning, when drachtio-server goes', async () => {
    const cleanups: Cleanup[] = [];
    try {
      const drachtio = await startDrachtioServer(drachtioBin() ?? '', 'readyz');
      cleanups.push(() => drachtio.stop());
      const sink = await startPushSink({ output: 'none' });
      cleanups.push(() => sink.stop());
      const dir = mkdtempSync(join(tmpdir(), 'pushwake-readyz-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const config = loadConfig({
        env: {},
        overrides: mergeTrees(loopbackOverrides(sink, dir, 'sip:127.0.0.1:9'), {
          engine: { mode: 'external', host: '127.0.0.1', port: drachtio.wirePort, secret: drachtio.secret },
        }),
      });
      const lines: string[] = [];
      const log = createLogger('warn', new Writable({ write(chunk: Buffer, _e, done) { lines.push(chunk.toString()); done(); } }));
      const pushwake = await startPushwake(config, { log });
      cleanups.push(() => pushwake.stop());
      const readyz = async (): Promise<{ status: number; body: { checks?: { engine?: { ok?: boolean } } } }> => {
        const res = await fetch(`${pushwake.adminUrl ?? ''}/readyz`);
        return { status: res.status, body: (await res.json()) as { checks?: { engine?: { ok?: boolean } } } };
      };
      expect((await readyz()).status).toBe(200);
      await drachtio.stop();
      await waitFor('readyz red', async () => (await readyz()).status === 503);
      expect((await readyz()).body.checks?.engine?.ok).toBe(false);
      expect(lines.join('')).toContain('lost the SIP engine connection');
    } finally {
      await runCleanups(cleanups);
    }
  });
});
