/**
 * Running SIPp from tests: one child process per scenario run, bounded in time (SIPp's own
 * -timeout plus a kill here), its output tail kept for the failure message, and every child
 * tracked so afterEach can end what a failed test left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shipped scenarios, run as written. */
export const SCENARIO_DIR = fileURLToPath(new URL('../../../sipp-scenarios/', import.meta.url));
export const scenario = (name: string): string => join(SCENARIO_DIR, name);
export const USERS_CSV = scenario('users.csv');

export interface TestUser {
  user: string;
  domain: string;
  token: string;
  aor: string;
}

/** users.csv as the scenarios read it: data lines in order (SIPp's [field0]..[field3]). */
export function testUsers(): TestUser[] {
  return readFileSync(USERS_CSV, 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const [user = '', domain = '', token = ''] = line.split(';');
      return { user, domain, token, aor: `sip:${user}@${domain}` };
    });
}

export interface SippResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last few KB of stdout+stderr and of the -trace_err file: SIPp's final screens and errors. */
  output: string;
}

export interface SippRun {
  readonly done: Promise<SippResult>;
  kill(): void;
}

const OUTPUT_TAIL = 6000;

export class SippRunner {
  private readonly running = new Set<ChildProcess>();

  constructor(private readonly bin: string, private readonly workDir: string) {}

  /**
   * Start sipp with `args` (scenario files by name are resolved in sipp-scenarios/). SIPp's
   * output files (-trace_err) go to the work dir. `killAfterMs` is the hard stop behind SIPp's
   * own -timeout.
   */
  start(name: string, args: string[], killAfterMs = 60_000): SippRun {
    const errorFile = join(this.workDir, `${name}-${this.running.size}-${Date.now()}.err`);
    const child = spawn(this.bin, [...args, '-nostdin', '-trace_err', '-error_file', errorFile], {
      cwd: this.workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.running.add(child);
    let tail = '';
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('latin1')).slice(-OUTPUT_TAIL);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const done = new Promise<SippResult>((resolve) => {
      child.on('error', (err) => {
        tail += `\nspawn failed: ${err.message}`;
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.running.delete(child);
        let errors = '';
        try {
          errors = readFileSync(errorFile, 'latin1').slice(-OUTPUT_TAIL);
        } catch {
          // no -trace_err file: nothing went wrong enough to write one
        }
        resolve({ code, signal, output: `[${name}] ${args.join(' ')}\n${squeeze(tail)}\n${errors}` });
      });
    });
    return { done, kill: () => child.kill('SIGKILL') };
  }

  /** Run to the end and return the result. */
  run(name: string, args: string[], killAfterMs?: number): Promise<SippResult> {
    return this.start(name, args, killAfterMs).done;
  }

  /** End every sipp still running (afterEach). */
  async killAll(): Promise<void> {
    const exits = [...this.running].map((child) => new Promise<void>((resolve) => child.once('close', () => resolve())));
    for (const child of this.running) child.kill('SIGKILL');
    await Promise.all(exits);
  }
}

/** SIPp redraws its screens; blank lines and table rules only make the failure message longer. */
function squeeze(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^-+\s*$/.test(line.trim()))
    .join('\n');
}

export { freePort } from '../../../lib/testkit/free-port.js';
