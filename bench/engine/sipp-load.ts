/**
 * SIPp as the load generator: options-uac.xml and call-uac.xml beside this file. Throughput
 * comes from SIPp's statistics CSV (-trace_stat, one row a second); response times from its
 * per-call RTT CSV (-trace_rtt), which has microsecond resolution.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../lib/testkit/free-port.js';
import {
  TIMED_STEPS, type FixedRateResult, type FixedRateRun, type LoadGenerator, type LoadTarget,
  type SaturationResult, type SaturationRun, type Scenario,
} from './load.js';

const here = dirname(fileURLToPath(import.meta.url));
const SCENARIO_FILES: Record<Scenario, string> = { options: 'options-uac.xml', call: 'call-uac.xml' };
/** SIPp gets this long past the planned end before it is killed. */
const OVERRUN_MS = 30_000;
/** SIPp's stat file name inside its working directory. */
const STAT_FILE = 'stat.csv';
const SIPP_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export class SippLoad implements LoadGenerator {
  readonly description: string;

  constructor(private readonly bin: string) {
    this.description = `SIPp ${sippVersion(bin)} (${bin})`;
  }

  async saturate(target: LoadTarget, run: SaturationRun): Promise<SaturationResult> {
    const rows = await this.runSipp(target, run.scenario, run.pauseMs, [
      // a rate SIPp never reaches: the -l limit is what holds the load
      '-r', '100000', '-rp', '1000', '-l', String(run.concurrency),
      '-timeout', `${run.seconds}s`,
    ], run.seconds * 1000, () => undefined);
    // SIPp's last row is written as -timeout aborts the calls in flight, which it counts as
    // failed: the counted window ends at the last periodic row before that.
    const periodic = rows.filter((r) => r.elapsedS < run.seconds - 0.5);
    const from = periodic.find((r) => r.elapsedS >= run.warmupSeconds);
    const to = periodic[periodic.length - 1];
    if (!from || !to || to.elapsedS <= from.elapsedS) throw new Error('SIPp wrote too few statistics rows');
    return {
      perSecond: (to.successful - from.successful) / (to.elapsedS - from.elapsedS),
      completed: to.successful - from.successful,
      failed: to.failed - from.failed,
    };
  }

  async fixedRate(target: LoadTarget, run: FixedRateRun): Promise<FixedRateResult> {
    const total = Math.round(run.rate * run.seconds);
    const responseTimes: Record<string, number[]> = Object.fromEntries(TIMED_STEPS[run.scenario].map((s) => [s, []]));
    const rows = await this.runSipp(target, run.scenario, run.pauseMs, [
      '-r', String(run.rate), '-rp', '1000', '-m', String(total),
      '-l', String(Math.max(1000, run.rate * 10)),
      '-trace_rtt', '-rtt_freq', '100',
    ], run.seconds * 1000, (dir) => {
      for (const file of readdirSync(dir).filter((f) => f.endsWith('_rtt.csv'))) {
        collectRtt(readFileSync(join(dir, file), 'utf8'), run.warmupSeconds * 1000, responseTimes);
      }
    });
    const last = rows[rows.length - 1];
    return { completed: last?.successful ?? 0, failed: last?.failed ?? 0, responseTimes };
  }

  /** Runs SIPp in a scratch directory, hands that directory to `collect`, returns the stat rows. */
  private async runSipp(target: LoadTarget, scenario: Scenario, pauseMs: number, extra: string[], plannedMs: number,
    collect: (dir: string) => void): Promise<StatRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'bench-sipp-'));
    try {
      const [localPort, mediaPort] = [await freePort(), await freePort()];
      const args = [
        `${target.address}:${target.port}`, '-sf', join(here, SCENARIO_FILES[scenario]),
        '-i', '127.0.0.1', '-p', String(localPort), '-mp', String(mediaPort), '-t', 'u1',
        ...(scenario === 'call' ? ['-set', 'pause', String(pauseMs)] : []),
        '-trace_stat', '-stf', STAT_FILE, '-fd', '1',
        '-nostdin', '-max_recv_loops', '10000', '-max_sched_loops', '10000',
        // SIPp's own socket buffers default to 64 KB: a short stall on a busy box would drop responses
        '-buff_size', String(SIPP_SOCKET_BUFFER_BYTES),
        ...extra,
      ];
      let stderr = '';
      const child = spawn(this.bin, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
      const killer = setTimeout(() => child.kill('SIGKILL'), plannedMs + OVERRUN_MS);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      clearTimeout(killer);
      const rows = parseStatCsv(readFileSync(join(dir, STAT_FILE), 'utf8'));
      // SIPp exits 1 when some calls failed: that is a figure, not an error; no rows is one
      if (rows.length === 0) throw new Error(`SIPp exited ${code} with no statistics:\n${stderr}`);
      collect(dir);
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

interface StatRow {
  /** seconds since SIPp started */
  elapsedS: number;
  successful: number;
  failed: number;
}

/** SIPp's -trace_stat CSV: `;`-separated, cumulative counters in the `(C)` columns. */
export function parseStatCsv(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim());
  const header = lines[0]?.split(';') ?? [];
  const col = (name: string): number => header.indexOf(name);
  const [iStart, iNow, iOk, iFailed] = [col('StartTime'), col('CurrentTime'), col('SuccessfulCall(C)'), col('FailedCall(C)')];
  if (iStart < 0 || iNow < 0 || iOk < 0 || iFailed < 0) return [];
  // time fields read "2026-11-20\t23:59:05.988471\t1795219145.988471": the last part is epoch seconds
  const epoch = (field: string | undefined): number => Number(field?.trim().split(/\s+/).pop());
  return lines.slice(1).map((line) => {
    const f = line.split(';');
    return { elapsedS: epoch(f[iNow]) - epoch(f[iStart]), successful: Number(f[iOk]), failed: Number(f[iFailed]) };
  }).filter((r) => Number.isFinite(r.elapsedS) && Number.isFinite(r.successful));
}

/** SIPp's -trace_rtt CSV: `Date_ms;response_time_ms;rtd_no`, Date_ms counted from SIPp's start. */
export function collectRtt(text: string, fromMs: number, into: Record<string, number[]>): void {
  for (const line of text.split('\n').slice(1)) {
    const [at, rtt, step] = line.trim().split(';');
    if (!step || Number(at) < fromMs) continue;
    into[step]?.push(Number(rtt));
  }
}

function sippVersion(bin: string): string {
  try {
    const out = execFileSync(bin, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /v\d+\.\d+\.\d+[\w-]*/.exec(out)?.[0] ?? 'unknown version';
  } catch (err) {
    // sipp -v exits non-zero on some builds; the version is still on stdout
    const out = String((err as { stdout?: unknown }).stdout ?? '');
    return /v\d+\.\d+\.\d+[\w-]*/.exec(out)?.[0] ?? 'unknown version';
  }
}
