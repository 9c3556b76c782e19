/**
 * Bindings at scale (issue 14): N bindings (default 1,000,000) in the embedded store. Printed: the
 * time to write them, the store's size on disk, the time from `pushwake start` (compiled JS, as
 * shipped) to ready on that store, and pushwake's heap there against an empty store, per binding.
 * Targets: ready in under 10 s; under 300 bytes of heap per binding not in a call.
 *
 *   npm run bench:bindings -- [--bindings 1000000]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import type { Binding } from '../lib/domain/binding.js';
import { LevelBindingStore } from '../lib/store/level-store.js';
import { freePort } from '../lib/testkit/free-port.js';
import { armDeadline, isEntryPoint, machineLoad, numberFlag, progress } from './support/flags.js';
import { inWindows, sleep } from './support/windowed.js';

const NAME = 'bindings-scale';
const repo = join(import.meta.dirname, '..');

function binding(i: number, now: number): Binding {
  return {
    aor: `sip:user${i}@example.com`, deviceKey: `inst:urn:uuid:${String(i).padStart(12, '0')}-0000-4000-8000-000000000000`,
    contact: `sip:user${i}@10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:50600;transport=tcp`,
    flow: { transport: 'tcp', sourceAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, sourcePort: 50600 },
    push: { provider: 'apns', token: i.toString(16).padStart(64, 'a'), topic: 'com.example.phone.voip', environment: 'production' },
    localContactUser: `pw-${i.toString(16).padStart(20, '0')}`, upstreamCallId: `reg-${i}`,
    deviceExpiresAt: now + 600_000, upstreamExpiresAt: now + 3_600_000, createdAt: now, registeredAt: now,
  };
}

/** Start pushwake on `storePath`; resolves with ms to ready and its heap there (after a GC-ish settle). */
async function readyOn(storePath: string, dir: string): Promise<{ readyMs: number; heapBytes: number }> {
  const admin = await freePort();
  const file = join(dir, `pushwake-${admin}.yaml`);
  writeFileSync(file, stringify({
    sip: { listen: [{ address: '127.0.0.1', port: await freePort(), transports: ['udp', 'tcp'] }] },
    store: { kind: 'embedded', path: storePath },
    admin: { listen: `127.0.0.1:${admin}` },
    log: { level: 'warn', format: 'json' },
  }));
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [join(repo, 'dist', 'lib', 'cli.js'), 'start', '--config', file], { cwd: dir, stdio: 'ignore' });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error('pushwake exited');
      if (await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.ok, () => false)) break;
      if (performance.now() - t0 > 120_000) throw new Error('not ready within 120 s');
      await sleep(20);
    }
    const readyMs = performance.now() - t0;
    await sleep(3000);
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    const heapBytes = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
    return { readyMs, heapBytes };
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const n = numberFlag('bindings', 1_000_000);
  if (!existsSync(join(repo, 'dist', 'lib', 'cli.js'))) throw new Error('build first: npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-bindings-'));
  try {
    const empty = await readyOn(join(dir, 'empty'), dir);
    const path = join(dir, 'full');
    const store = await LevelBindingStore.open({ path });
    const now = Date.now();
    progress(NAME, `writing ${n} bindings`);
    const t0 = performance.now();
    const ids = Array.from({ length: n }, (_, i) => i);
    await inWindows(ids, 256, (i) => store.putBinding(binding(i, now)));
    const writeS = (performance.now() - t0) / 1000;
    await store.close();
    const du = execFileSync('du', ['-sb', path]).toString().split('\t')[0] ?? '0';
    progress(NAME, 'starting pushwake on it');
    const full = await readyOn(path, dir);
    const perBinding = (full.heapBytes - empty.heapBytes) / n;
    console.log(`bindings at scale (${machineLoad()})`);
    console.log(`  bindings written        ${n} in ${writeS.toFixed(1)} s (${(n / writeS).toFixed(0)}/s, putBinding, 256 in flight)`);
    console.log(`  store on disk           ${(Number(du) / 1024 / 1024).toFixed(1)} MiB (${(Number(du) / n).toFixed(0)} bytes per binding)`);
    console.log(`  start -> ready          ${(full.readyMs / 1000).toFixed(2)} s with them, ${(empty.readyMs / 1000).toFixed(2)} s empty   (target < 10 s)`);
    console.log(`  heap                    ${(full.heapBytes / 1024 / 1024).toFixed(1)} MiB with them, ${(empty.heapBytes / 1024 / 1024).toFixed(1)} MiB empty: ${perBinding.toFixed(1)} bytes per binding   (target < 300)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isEntryPoint(import.meta.url)) {
  const disarm = armDeadline(NAME, numberFlag('deadline', 3600) * 1000);
  main().then(() => {
    disarm();
    process.exit(0);
  }, (err: unknown) => {
    console.error(`${NAME} benchmark broke:`, err);
    process.exit(1);
  });
}
