/**
 * Relayed REGISTERs per second (issue 14), with a load generator that is not the bottleneck:
 * pushwake against Kamailio. register-storm.ts drives drachtio-srf phones, which saturate at
 * about 440 registrations/s in the generator; here the phones are raw UDP (register-relay/).
 *
 *   npm run bench:register-relay [-- --phones 20000 --window 200 --seconds 10 --rate 1000 --digest 0]
 *
 * Processes, all on 127.0.0.1: the phones (register-relay/phones-child.ts, raw REGISTERs with
 * UAC retransmissions), the registrar (register-relay/registrar-child.ts, raw UDP, answers at
 * once, or challenges first with --digest 1), and one system under test at a time, each a relay
 * between them:
 *
 * 1. pushwake on its embedded engine, as shipped (`node dist/lib/cli.js start --config <file>`);
 * 2. pushwake on drachtio-server, when DRACHTIO_BIN (or `drachtio` on PATH) names one;
 * 3. Kamailio relaying statefully (tm), when the testkit finds its binary.
 *
 * Printed per system: registrations/s at saturation and failures; at a fixed rate the rate
 * reached, REGISTER → 200 p50/p99/max and failures; CPU per registration and cores used, for the
 * system and for the phones and registrar (so a reader can see whether the rig limited the run);
 * pushwake's heap and whether every phone that got 200 is stored.
 *
 * Exit code 0 unless the run broke (1) or passed --deadline (2). Every child is killed on every
 * way out (end, error, Ctrl-C/SIGTERM, deadline).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { drachtioBin } from '../lib/testkit/binaries.js';
import { kamailioBin } from '../lib/testkit/kamailio.js';
import { armDeadline, isEntryPoint, numberFlag, progress, stringFlag } from './support/flags.js';
import { ChildPeer, killAllChildren as killChildren } from './support/child-peer.js';
import { startKamailioSystem } from './register-relay/kamailio-system.js';
import { measureSystem, type Registrar, type RunSettings, type SystemFigures } from './register-relay/measure.js';
import type { RegistrarOptions, RegistrarReply, RegistrarRequest } from './register-relay/protocol.js';
import { startPushwakeSystem } from './register-relay/pushwake-system.js';
import { printHeader, printSkipped, printSummary, printSystem } from './register-relay/report.js';
import type { SystemUnderTest } from './register-relay/system-under-test.js';

const NAME = 'register-relay';
const repo = join(import.meta.dirname, '..');
const SYSTEMS = ['embedded', 'drachtio', 'kamailio'] as const;
type SystemName = (typeof SYSTEMS)[number];
const PHASES = ['saturation', 'fixed'] as const;

/** A comma-separated flag whose items must come from `allowed` (all of them by default). */
function listFlag(name: string, allowed: readonly string[]): string[] {
  const items = stringFlag(name, allowed.join(',')).split(',').map((x) => x.trim()).filter(Boolean);
  for (const item of items) if (!allowed.includes(item)) throw new Error(`--${name} takes ${allowed.join(', ')} (got ${item})`);
  return items;
}

/** Systems still running: killed at once if the process exits while they are. */
const running = new Set<SystemUnderTest>();

interface Plan {
  settings: RunSettings;
  systems: SystemName[];
  kamailioChildren: number;
}

function readPlan(): Plan {
  const only = listFlag('only', SYSTEMS);
  const phases = listFlag('phases', PHASES);
  const settings: RunSettings = {
    phones: Math.max(1, Math.floor(numberFlag('phones', 20_000))),
    sockets: Math.max(1, Math.floor(numberFlag('sockets', 1))),
    window: Math.max(1, Math.floor(numberFlag('window', 200))),
    seconds: numberFlag('seconds', 10),
    warmupSeconds: numberFlag('warmup', 1),
    rate: Math.max(1, numberFlag('rate', 1000)),
    digest: numberFlag('digest', 0) !== 0,
    phases: { saturation: phases.includes('saturation'), fixedRate: phases.includes('fixed') },
  };
  if (settings.window > settings.phones) throw new Error('--window must not exceed --phones (a phone has one registration in flight at a time)');
  return { settings, systems: SYSTEMS.filter((s) => only.includes(s)), kamailioChildren: Math.max(1, Math.floor(numberFlag('kamailio-children', 2))) };
}

async function startSystem(name: SystemName, registrarPort: number, kamailioChildren: number): Promise<SystemUnderTest | string> {
  if (name === 'embedded') return startPushwakeSystem({ registrarPort });
  if (name === 'drachtio') {
    const bin = drachtioBin();
    if (!bin) return 'pushwake on drachtio-server: no drachtio-server found (set DRACHTIO_BIN, or put `drachtio` on PATH)';
    return startPushwakeSystem({ registrarPort, drachtioBin: bin });
  }
  const bin = kamailioBin();
  if (!bin) return 'Kamailio: no binary found (KAMAILIO_BIN, `kamailio` on PATH, /usr/sbin/kamailio; Debian: apt-get install kamailio)';
  return startKamailioSystem({ bin, registrarPort, children: kamailioChildren });
}

async function run(plan: Plan): Promise<void> {
  if (!existsSync(join(repo, 'dist', 'lib', 'cli.js'))) throw new Error('build first: npm run build (pushwake runs as shipped, the compiled JS)');
  const runTag = randomBytes(4).toString('hex');
  const registrarOptions: RegistrarOptions = { digest: plan.settings.digest };
  const { peer: registrar, first } = await ChildPeer.start<RegistrarRequest, RegistrarReply>('registrar', join(import.meta.dirname, 'register-relay', 'registrar-child.ts'), { args: [JSON.stringify(registrarOptions)] });
  try {
    if (first.type !== 'ready') throw new Error(`registrar did not start: ${first.type === 'start-failed' ? first.error : first.type}`);
    const results: SystemFigures[] = [];
    // each system's figures are printed as soon as it is done: a later one breaking loses none
    printHeader(plan.settings);
    for (const name of plan.systems) {
      progress(NAME, `starting ${name}`);
      const sut = await startSystem(name, first.port, plan.kamailioChildren);
      if (typeof sut === 'string') {
        progress(NAME, `skipped: ${sut}`);
        printSkipped(sut);
        continue;
      }
      running.add(sut);
      try {
        const figures = await measureSystem(sut, registrar as Registrar, plan.settings, `${runTag}${results.length}`);
        results.push(figures);
        printSystem(figures);
      } finally {
        await sut.stop();
        running.delete(sut);
      }
    }
    if (results.length > 0) printSummary(results, plan.settings);
  } finally {
    await registrar.stop();
  }
}

if (isEntryPoint(import.meta.url)) {
  process.on('exit', () => {
    for (const sut of running) sut.kill();
    killChildren();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${NAME}: ${signal}; stopping`);
      process.exit(1);
    });
  }
  const disarm = armDeadline(NAME, numberFlag('deadline', 600) * 1000);
  let plan: Plan;
  try {
    plan = readPlan();
  } catch (err) {
    console.error(`${NAME}: ${(err as Error).message}`);
    process.exit(1);
  }
  run(plan).then(
    () => {
      disarm();
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`${NAME} benchmark broke:`, err);
      process.exit(1);
    },
  );
}
