/**
 * Kamailio as the system under test: a stateful relay and nothing else. Every REGISTER goes to
 * the raw registrar with tm's t_relay_to_udp (a transaction per REGISTER: retransmissions
 * absorbed, the answer relayed back); no registrar module, no usrloc, no digest of its own, no
 * record-route. The binary is the testkit's (lib/testkit/kamailio.ts: KAMAILIO_BIN, PATH or
 * /usr/sbin), started as the testkit starts it (-DD -E -f cfg), on a free port on 127.0.0.1.
 *
 * `children` UDP worker processes read the one UDP socket. Kamailio also forks a few processes of
 * its own (timers, the TCP main process and `tcp_children` TCP workers, idle here: TCP is on
 * only because the testkit's daemon runner knows a server is up when a TCP port accepts). Its CPU
 * is the sum over the main process and every descendant, each read from /proc/<pid>/stat.
 */
import { join } from 'node:path';
import { startDaemonRetrying, type Daemon } from '../../lib/testkit/daemon.js';
import { freePort } from '../../lib/testkit/free-port.js';
import { descendantsOf, treeCpuSeconds } from './proc-cpu.js';
import type { SystemUnderTest } from './system-under-test.js';

const ADDRESS = '127.0.0.1';
const MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules/';
/**
 * MB of shared memory. tm keeps each transaction (about 8 KB: the cell, the request, the answer)
 * for its wait timer, 5 s after it ends: at 8,000 REGISTERs/s that is 40,000 cells. With 512 MB
 * Kamailio ran out and answered 500; 2 GB leaves room for the pool's fragmentation.
 */
const SHARED_MEMORY_MB = 2048;
const PRIVATE_MEMORY_MB = 16;

export interface KamailioRelayOptions {
  bin: string;
  /** the raw registrar's UDP port on 127.0.0.1 */
  registrarPort: number;
  /** UDP worker processes (Kamailio's `children`) */
  children: number;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

export function kamailioRelayConfig(port: number, registrarPort: number, children: number): string {
  return `#!KAMAILIO
# REGISTER relay for bench/register-relay.ts: stateful (tm), to ${ADDRESS}:${registrarPort}
debug=0
log_stderror=yes
children=${children}
tcp_children=1
auto_aliases=no
listen=udp:${ADDRESS}:${port}
listen=tcp:${ADDRESS}:${port}
mpath="${MODULES}"

loadmodule "tm.so"
loadmodule "sl.so"

# Timer F of the relayed transaction, as the phones' own
modparam("tm", "fr_timer", 32000)

request_route {
  if (method == "REGISTER") {
    if (!t_relay_to_udp("${ADDRESS}", "${registrarPort}")) sl_reply_error();
    exit;
  }
  sl_send_reply("405", "Method Not Allowed");
}
`;
}

export async function startKamailioSystem(opts: KamailioRelayOptions): Promise<SystemUnderTest> {
  let port = 0;
  const daemon: Daemon = await startDaemonRetrying(async () => {
    port = await freePort();
    return {
      name: 'kamailio',
      bin: opts.bin,
      files: () => ({ 'kamailio.cfg': kamailioRelayConfig(port, opts.registrarPort, opts.children) }),
      args: (dir) => ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-m', String(SHARED_MEMORY_MB), '-M', String(PRIVATE_MEMORY_MB), '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-w', dir],
      readyPorts: [{ address: ADDRESS, port }],
      keepBytes: 50_000,
    };
  });
  let processes = 0;
  const complaints = (): string[] => {
    const lines = daemon.output().split('\n').filter((l) => /\b(ERROR|WARNING|CRITICAL|ALERT|BUG)\b/.test(l));
    const byText = new Map<string, number>();
    for (const l of lines) {
      // " 2(4152) ERROR: tm [...]": the process differs from line to line, so count by what follows it
      const text = l.replace(/^\s*\d+\(\d+\)\s*/, '').slice(0, 140);
      byText.set(text, (byText.get(text) ?? 0) + 1);
    }
    const list = [...byText.entries()].slice(0, 8).map(([t, count]) => `${count} × ${t}`);
    return list.length > 0 ? [...list, '(counted in the last 50 KB of its output)'] : [];
  };
  return {
    label: `Kamailio, ${opts.children} UDP workers`,
    target: { host: ADDRESS, port },
    get cpuNote(): string {
      return `CPU: /proc/<pid>/stat utime+stime summed over Kamailio's main process and its ${processes - 1} descendants (${opts.children} UDP workers, timers, TCP)`;
    },
    cpu: () => {
      const t = treeCpuSeconds(daemon.pid);
      processes = t.processes;
      return { kamailio: t.seconds };
    },
    selfReport: () => Promise.resolve(undefined),
    complaints,
    async stop() {
      // SIGTERM to the main process ends its workers; any it left behind are killed by id
      const workers = descendantsOf(daemon.pid);
      await daemon.stop();
      killAll(workers);
    },
    kill: () => killAll([daemon.pid, ...descendantsOf(daemon.pid)]),
  };
}
