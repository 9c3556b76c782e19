/**
 * The deployment files: the compose file validates (with docker compose or docker-compose; no
 * container runs here, there is no Docker engine), and the dashboard and alerts use only metric
 * names pushwake serves.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../lib/config/defaults.js';
import { findBinary } from '../../lib/testkit/binaries.js';
import { SipLab } from '../e2e/support/sip-lab.js';
import { freePort } from '../../lib/testkit/free-port.js';

const run = promisify(execFile);
const deploy = join(import.meta.dirname, '..', '..', 'deploy');
const composeFile = join(deploy, 'docker-compose.yml');

/** `docker compose` (v2) when the plugin is there, else `docker-compose` (v1, Debian's). */
async function composeCommand(): Promise<string[] | undefined> {
  const docker = findBinary('DOCKER_BIN', ['docker']);
  if (docker) {
    const ok = await run(docker, ['compose', 'version']).then(() => true, () => false);
    if (ok) return [docker, 'compose'];
  }
  const v1 = findBinary('DOCKER_COMPOSE_BIN', ['docker-compose']);
  return v1 ? [v1] : undefined;
}

describe('deploy/', () => {
  it('docker-compose.yml validates, with the monitoring profile, and names what is missing from .env', async () => {
    const compose = await composeCommand();
    if (!compose) {
      console.log('[deploy] SKIPPED docker compose config: neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose).');
      return;
    }
    const [bin = '', ...pre] = compose;
    const dir = mkdtempSync(join(tmpdir(), 'pushwake-compose-'));
    try {
      const key = join(dir, 'AuthKey.p8');
      writeFileSync(key, 'not a real key');
      const env = join(dir, '.env');
      writeFileSync(env, readFileSync(join(deploy, '.env.example'), 'utf8').replace(/^APNS_KEY_FILE=.*$/m, `APNS_KEY_FILE=${key}`));
      await run(bin, [...pre, '--env-file', env, '-f', composeFile, 'config', '-q']);
      const { stdout } = await run(bin, [...pre, '--env-file', env, '-f', composeFile, '--profile', 'monitoring', 'config', '--services']);
      expect(stdout.trim().split('\n').sort()).toEqual(['drachtio', 'grafana', 'prometheus', 'pushwake', 'redis']);
      writeFileSync(env, readFileSync(env, 'utf8').replace(/^PBX_URI=.*\n/m, ''));
      const missing = await run(bin, [...pre, '--env-file', env, '-f', composeFile, 'config', '-q']).then(() => '', (err: { stderr: string }) => err.stderr);
      expect(missing).toContain('set PBX_URI in deploy/.env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('the compose file keeps Prometheus and Grafana behind the monitoring profile, and pushwake on drachtio-server and Redis', () => {
    const doc = parse(readFileSync(composeFile, 'utf8')) as { services: Record<string, { profiles?: string[]; image?: string; environment?: Record<string, string> }> };
    expect(doc.services['prometheus']?.profiles).toEqual(['monitoring']);
    expect(doc.services['grafana']?.profiles).toEqual(['monitoring']);
    expect(doc.services['drachtio']?.image).toMatch(/^drachtio\/drachtio-server/);
    expect(doc.services['pushwake']?.environment).toMatchObject({ PUSHWAKE_ENGINE_MODE: 'external', PUSHWAKE_STORE_KIND: 'redis' });
    const prometheus = parse(readFileSync(join(deploy, 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> };
    expect(prometheus.scrape_configs[0]?.static_configs[0]?.targets).toEqual([DEFAULTS.admin.listen]);
    const unit = readFileSync(join(deploy, 'systemd', 'pushwake.service'), 'utf8');
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^ExecStart=.*dist\/lib\/cli\.js start --config /m);
  });

  it('the Grafana dashboard and the alerts use only metric names pushwake serves', async () => {
    // media on (FreeSWITCH away): its families are served only then
    const lab = await SipLab.start({ engine: 'embedded', config: { media: { enabled: true, eventSocket: `127.0.0.1:${await freePort()}` } } });
    try {
      const page = await (await fetch(`${lab.pushwake.adminUrl ?? ''}/metrics`)).text();
      const served = new Set([...page.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) => {
        const name = m[1] ?? '';
        return m[2] === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
      }));
      const dashboard = readFileSync(join(deploy, 'grafana', 'pushwake.json'), 'utf8');
      const alerts = readFileSync(join(deploy, 'alerts.yml'), 'utf8');
      const used = new Set([...`${dashboard}\n${alerts}`.matchAll(/\b((?:pushwake|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1] ?? ''));
      expect(used.size).toBeGreaterThan(10);
      expect([...used].filter((n) => !served.has(n))).toEqual([]);
      const d = JSON.parse(dashboard) as { uid: string; panels: Array<{ targets: unknown[] }> };
      expect(d.uid).toBe('pushwake');
      expect(d.panels.every((p) => p.targets.length > 0)).toBe(true);
    } finally {
      await lab.stop();
    }
  }, 30_000);
});
