/**
 * Runs a real drachtio-server (DRACHTIO_BIN or `drachtio` on PATH) on loopback, configured only
 * from the command line, for the end-to-end parity runs and the engine benchmark. Nothing in this
 * repository builds it (see README).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface DrachtioServer {
  pid: number;
  wirePort: number;
  sipPort: number;
  secret: string;
  /** The tail of what the server printed (for failure reports). */
  output(): string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

export async function startDrachtioServer(bin: string, secret: string): Promise<DrachtioServer> {
  const wirePort = await freePort();
  // two look-ups may hand out the same free port; drachtio-server then cannot start
  let sipPort = await freePort();
  for (let i = 0; sipPort === wirePort && i < 10; i++) sipPort = await freePort();
  let out = '';
  // drachtio-server insists on a config file with an <admin> element; the rest comes from argv.
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-drachtio-'));
  const configFile = join(dir, 'drachtio.conf.xml');
  writeFileSync(configFile, '<drachtio><admin/></drachtio>\n');
  const child: ChildProcess = spawn(bin, [
    '-f', configFile,
    '--contact', `sip:127.0.0.1:${sipPort};transport=udp,tcp`,
    '--address', '127.0.0.1',
    '--port', String(wirePort),
    '--secret', secret,
    '--loglevel', process.env['DRACHTIO_LOGLEVEL'] ?? 'notice',
    '--sofia-loglevel', '0',
    '--disable-nat-detection',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer): void => { out = (out + d.toString()).slice(-100_000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    rmSync(dir, { recursive: true, force: true });
    resolve();
  }));
  const until = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`drachtio-server exited at start (${child.exitCode}):\n${out.slice(-4000)}`);
    const listening = await new Promise<boolean>((resolve) => {
      const s = connect(wirePort, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (listening) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`drachtio-server did not listen on ${wirePort}:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid ?? 0,
    wirePort,
    sipPort,
    secret,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(force);
    },
  };
}
