import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Benchmark knobs from the command line (`--rate 100` or `--rate=100`) or the environment
 * (`BENCH_RATE=100`); the command line wins.
 */
export function numberFlag(name: string, fallback: number, argv: readonly string[] = process.argv.slice(2)): number {
  const raw = stringFlag(name, undefined, argv);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number (got ${JSON.stringify(raw)})`);
  return v;
}

export function stringFlag(name: string, fallback: string, argv?: readonly string[]): string;
export function stringFlag(name: string, fallback: undefined, argv?: readonly string[]): string | undefined;
export function stringFlag(name: string, fallback: string | undefined, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === `--${name}`) return argv[i + 1] ?? fallback;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback;
}

/** True when this module is the script node was asked to run (not imported by bench/run.ts). */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && resolve(script) === fileURLToPath(moduleUrl);
}

/**
 * Give up on a run that takes longer than `ms`: say so and exit 2. The pushwake child stops on
 * its own when this process goes (it watches its IPC channel). Returns the disarm function.
 */
export function armDeadline(name: string, ms: number): () => void {
  const timer = setTimeout(() => {
    console.error(`${name}: still running after ${Math.round(ms / 1000)} s; giving up (raise --deadline to allow more)`);
    process.exit(2);
  }, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

/** A progress line on stderr, so stdout holds only the figures. */
export function progress(name: string, text: string): void {
  process.stderr.write(`[${name}] ${text}\n`);
}

/** Cores and the 1-minute load average: other work on the machine inflates every latency. */
export function machineLoad(): string {
  const cores = availableParallelism();
  const load = loadavg()[0] ?? 0;
  const busy = load > cores / 2 ? ' (other work is running: latencies will be inflated)' : '';
  return `${cores} cores, load average ${load.toFixed(2)}${busy}`;
}
