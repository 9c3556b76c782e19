/**
 * Runs a real drachtio-server (the binary named by DRACHTIO_BIN) on loopback, configured only from
 * the command line, for the end-to-end suite's parity runs. Nothing here builds it: see README.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { drachtioBin } from '../../support/binaries.js';

export interface DrachtioProcess {
  wirePort: number;
  sipPort: number;
  secret: string;
  /** Everything the server printed (for failure reports). */
  output(): string;
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 for both TCP and UDP. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const addr = s.address();
        s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port');
}

export async function startDrachtioServer(bin = drachtioBin()): Promise<DrachtioProcess> {
  if (!bin) throw new Error('no drachtio-server: set DRACHTIO_BIN or put drachtio on PATH');
  const [wirePort, sipPort] = [await freePort(), await freePort()];
  const secret = 'pushwake-e2e';
  let out = '';
  // drachtio-server insists on a config file with an <admin> element; the rest comes from argv.
  const dir = mkdtempSync(join(tmpdir(), 'drachtio-'));
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
    '--stdout',
    '--disable-nat-detection',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-200_000); });
  child.stderr?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-200_000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    rmSync(dir, { recursive: true, force: true });
    resolve();
  }));
  const until = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`drachtio-server exited at start (${child.exitCode}):\n${out.slice(-4000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(wirePort, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`drachtio-server did not listen on ${wirePort}:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    wirePort,
    sipPort,
    secret,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
