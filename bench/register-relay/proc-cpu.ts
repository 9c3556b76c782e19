/**
 * CPU time of other processes, read from /proc (Linux): utime + stime of `/proc/<pid>/stat`,
 * which counts every thread of the process (LevelDB's, libuv's pool, V8's GC threads). A process
 * tree (Kamailio: its main process and the workers it forks) is the sum over the root and every
 * descendant found at the time of the reading.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 on every Linux we run). */
const TICKS_PER_SECOND = ((): number => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim();
  const v = Number(out);
  return Number.isFinite(v) && v > 0 ? v : 100;
})();

interface ProcStat {
  ppid: number;
  ticks: number;
}

/** The fields after the command name; the name is in parentheses and may hold spaces. */
function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // after the name: state(3) ppid(4) ... utime(14) stime(15), numbered as in proc(5)
    const ppid = Number(fields[1]);
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? { ppid, ticks } : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by one process (all its threads); NaN when it is gone. */
export function processCpuSeconds(pid: number): number {
  const s = readStat(pid);
  return s ? s.ticks / TICKS_PER_SECOND : Number.NaN;
}

/** Every live descendant of `root` (children, their children, ...), by a scan of /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (!s) continue;
    const list = children.get(s.ppid);
    if (list) list.push(pid);
    else children.set(s.ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU seconds of `root` and all its descendants, and how many processes that was. */
export function treeCpuSeconds(root: number): { seconds: number; processes: number } {
  const pids = [root, ...descendantsOf(root)];
  let ticks = 0;
  let processes = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (!s) continue;
    ticks += s.ticks;
    processes++;
  }
  return { seconds: ticks / TICKS_PER_SECOND, processes };
}
