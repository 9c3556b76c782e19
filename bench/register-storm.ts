/**
 * A REGISTER storm (issue 14): every phone re-registers at once, as after a network outage or a
 * PBX restart. pushwake runs as the product ships (`node dist/lib/cli.js start`, compiled JS), in
 * a process of its own, on the embedded engine and, in the same run, on drachtio-server when
 * DRACHTIO_BIN names one. The upstream registrar challenges every REGISTER with digest, then
 * accepts the answered one.
 *
 *   npm run bench:register-storm [-- --phones 20000 --window 200 --rate 1000 --latency-count 5000 --profile]
 *
 * Printed per engine: relayed REGISTERs/s at saturation (all phones, `--window` in flight), p50/p99
 * of the phone's REGISTER -> 200 at `--rate`/s, pushwake's CPU per REGISTER and heap (from its own
 * /metrics), and whether every phone that got 200 is stored. `--profile` runs pushwake with
 * --cpu-prof during the storm and prints where its CPU went.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { underLoadConfig } from './support/load-config.js';
import { startPushSink } from '../lib/push-sink/index.js';
import { Pbx, Phone, startAgentHost } from '../lib/testkit/agents.js';
import { drachtioBin } from '../lib/testkit/binaries.js';
import { runCleanups, type Cleanup } from '../lib/testkit/cleanups.js';
import { startDrachtioServer } from '../lib/testkit/drachtio-server.js';
import { freePort } from '../lib/testkit/free-port.js';
import { armDeadline, isEntryPoint, machineLoad, numberFlag, progress, stringFlag } from './support/flags.js';
import { distributionOf, ms, type Distribution } from './support/stats.js';
import { inWindows, sleep } from './support/windowed.js';

const NAME = 'register-storm';
const repo = join(import.meta.dirname, '..');

interface StormResult {
  engine: 'embedded' | 'drachtio';
  phones: number;
  ok: number;
  failed: number;
  saturationPerSec: number;
  latency: Distribution;
  latencyRate: number;
  latencyFailed: number;
  cpuPerRegisterMs: number;
  /** pushwake's CPU per registration in the fixed-rate phase */
  cpuPerRegisterAtRateMs: number;
  heapMiB: number;
  stored: number;
  profile?: Array<{ where: string; percent: number }>;
}

/** pushwake as shipped: compiled JS in a process of its own; its log lines are read for readiness. */
async function startPushwake(configFile: string, config: Record<string, unknown>, profileDir?: string): Promise<{ child: ChildProcess; admin: string }> {
  writeFileSync(configFile, stringify(config));
  const child = spawn(process.execPath, [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(repo, 'dist', 'lib', 'cli.js'), 'start', '--config', configFile], {
    cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PUSHWAKE_LOG_LEVEL: 'warn' },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-5_000)));
  const admin = `http://${(config['admin'] as { listen: string }).listen}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`pushwake exited: ${err}${out}`);
    const ready = await fetch(`${admin}/readyz`).then((r) => r.ok, () => false);
    if (ready) return { child, admin };
    await sleep(100);
  }
  throw new Error('pushwake did not become ready');
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** The figures pushwake reports about itself. */
async function selfFigures(admin: string): Promise<{ cpuSeconds: number; heapBytes: number; bindings: number }> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const status = (await (await fetch(`${admin}/api/status`)).json()) as { bindings: number };
  return { cpuSeconds: value('process_cpu_seconds_total'), heapBytes: value('nodejs_heap_size_used_bytes'), bindings: status.bindings };
}

async function runStorm(engine: 'embedded' | 'drachtio', opts: { phones: number; window: number; rate: number; latencyCount: number; profile: boolean }): Promise<StormResult> {
  const cleanups: Cleanup[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-storm-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const agents = await startAgentHost({ perSourceRatePerSec: 10_000_000 });
    cleanups.push(() => agents.stop());
    const sink = await startPushSink({ output: 'none' });
    cleanups.push(() => sink.stop());
    let drachtio;
    if (engine === 'drachtio') {
      drachtio = await startDrachtioServer(drachtioBin() ?? '', 'storm');
      const d = drachtio;
      cleanups.push(() => d.stop());
    }
    const sipPort = drachtio?.sipPort ?? (await freePort());
    const adminPort = await freePort();
    const config = underLoadConfig({ sink, dir, registrar: `sip:${agents.host}`, sipPort, adminPort, drachtio });
    const profileDir = opts.profile ? join(dir, 'profile') : undefined;
    const pw = await startPushwake(join(dir, 'pushwake.yaml'), config, profileDir);
    cleanups.push(() => stop(pw.child));
    const pbx = new Pbx(agents.app, 'sip:unused');
    pbx.challenge = true;
    agents.app.onRequest('register', (req, res) => pbx.handleRegister(req, res));
    const phones = Array.from({ length: opts.phones }, (_, i) => {
      const p = new Phone(agents.app, `storm${i}`, 'example.com', 'udp', `127.0.0.1:${sipPort}`, 'x-token', agents.host);
      p.credentials = { username: `storm${i}`, password: `secret-storm${i}` };
      return p;
    });

    progress(NAME, `${engine}: ${opts.phones} phones register at once (${opts.window} in flight)`);
    const cpu0 = await selfFigures(pw.admin);
    const t0 = performance.now();
    const statuses = await inWindows(phones, opts.window, async (p) => (await p.register().catch(() => ({ status: 0 }))).status);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu1 = await selfFigures(pw.admin);
    const ok = statuses.filter((s) => s === 200).length;

    progress(NAME, `${engine}: ${opts.latencyCount} re-registrations at ${opts.rate}/s`);
    const samples: number[] = [];
    let latencyFailed = 0;
    const started = performance.now();
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < opts.latencyCount; i++) {
      const due = started + (i * 1000) / opts.rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const p = phones[i % phones.length] as Phone;
      const sent = performance.now();
      pending.push(p.register().then((r) => {
        if (r.status === 200) samples.push(performance.now() - sent);
        else latencyFailed++;
      }, () => void latencyFailed++));
    }
    await Promise.all(pending);
    const latencyRate = opts.latencyCount / ((performance.now() - started) / 1000);
    const after = await selfFigures(pw.admin);
    // /api/status counts the store now (the metric is recounted at most every 30 s)
    const stored = after.bindings;
    await stop(pw.child);
    const profile = profileDir ? summarizeProfile(profileDir) : undefined;
    const keep = stringFlag('profile-keep', '');
    if (profileDir && keep) {
      mkdirSync(keep, { recursive: true });
      for (const f of readdirSync(profileDir)) copyFileSync(join(profileDir, f), join(keep, `${engine}-${f}`));
      progress(NAME, `${engine}: profile kept in ${keep}`);
    }
    return {
      engine, phones: opts.phones, ok, failed: opts.phones - ok, saturationPerSec: ok / elapsed,
      latency: distributionOf(samples), latencyRate, latencyFailed,
      cpuPerRegisterMs: ((cpu1.cpuSeconds - cpu0.cpuSeconds) * 1000) / Math.max(1, opts.phones),
      cpuPerRegisterAtRateMs: ((after.cpuSeconds - cpu1.cpuSeconds) * 1000) / Math.max(1, opts.latencyCount),
      heapMiB: after.heapBytes / 1024 / 1024, stored,
      ...(profile ? { profile } : {}),
    };
  } finally {
    await runCleanups(cleanups);
  }
}

/** Self time of a --cpu-prof profile, by where it was spent (pushwake's own code by module, or the dependency). */
function summarizeProfile(dir: string): Array<{ where: string; percent: number }> {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return [];
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const time = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    total += dt;
    const url = byId.get(id)?.callFrame.url ?? '';
    const fn = byId.get(id)?.callFrame.functionName ?? '';
    const where = url === '' ? (fn === '(garbage collector)' ? 'GC' : fn === '(idle)' ? 'idle' : `native ${fn || '(program)'}`)
      : url.includes('/node_modules/') ? `dep ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'}`
      : url.includes('/dist/lib/') ? `pushwake ${/dist\/lib\/([^/]+)/.exec(url)?.[1] ?? '?'}`
      : url.startsWith('node:') ? `node ${url.slice(5).split('/')[0]}` : 'other';
    time.set(where, (time.get(where) ?? 0) + dt);
  });
  const busy = total - (time.get('idle') ?? 0);
  return [...time.entries()].filter(([w]) => w !== 'idle').map(([where, t]) => ({ where, percent: (100 * t) / Math.max(1, busy) })).sort((a, b) => b.percent - a.percent).slice(0, 15);
}

export function printStorm(results: StormResult[]): void {
  console.log(`register storm: REGISTERs through pushwake to a digest-challenging registrar (${machineLoad()})`);
  console.log('  engine     phones  200s   failed  saturation/s  p50 @rate   p99 @rate   (rate, failed)   CPU/REGISTER (storm, @rate)  heap      stored');
  for (const r of results) {
    console.log(`  ${r.engine.padEnd(9)}  ${String(r.phones).padStart(6)}  ${String(r.ok).padStart(5)}  ${String(r.failed).padStart(6)}  ${r.saturationPerSec.toFixed(0).padStart(12)}  ${ms(r.latency.p50).padEnd(10)}  ${ms(r.latency.p99).padEnd(10)}  (${r.latencyRate.toFixed(0)}/s, ${r.latencyFailed})      ${r.cpuPerRegisterMs.toFixed(3)} ms, ${r.cpuPerRegisterAtRateMs.toFixed(3)} ms    ${r.heapMiB.toFixed(1)} MiB  ${r.stored}${r.stored < r.ok ? ' LOST' : ''}`);
  }
  console.log('  a REGISTER here is the phone\'s whole registration: its first REGISTER, the registrar\'s 401 relayed back, the answered REGISTER, its 200');
  for (const r of results) {
    if (!r.profile) continue;
    console.log(`  where pushwake's CPU went during the storm (${r.engine}, self time, % of busy):`);
    for (const p of r.profile) console.log(`    ${p.percent.toFixed(1).padStart(5)}%  ${p.where}`);
  }
}

if (isEntryPoint(import.meta.url)) {
  const disarm = armDeadline(NAME, numberFlag('deadline', 1800) * 1000);
  const opts = {
    phones: numberFlag('phones', 20_000),
    window: numberFlag('window', 200),
    rate: numberFlag('rate', 1000),
    latencyCount: numberFlag('latency-count', 5000),
    profile: process.argv.includes('--profile') || stringFlag('profile', '') === '1',
  };
  (async () => {
    if (!existsSync(join(repo, 'dist', 'lib', 'cli.js'))) throw new Error('build first: npm run build (the storm runs the compiled JS the product ships)');
    const results: StormResult[] = [await runStorm('embedded', opts)];
    if (drachtioBin()) results.push(await runStorm('drachtio', opts));
    else progress(NAME, 'no DRACHTIO_BIN: drachtio-server is not measured in this run');
    return results;
  })().then(
    (results) => {
      disarm();
      printStorm(results);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`${NAME} benchmark broke:`, err);
      process.exit(1);
    },
  );
}
