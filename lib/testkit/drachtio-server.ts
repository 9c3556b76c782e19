/**
 * Runs a real drachtio-server (DRACHTIO_BIN or `drachtio` on PATH) on loopback, configured only
 * from the command line, for the end-to-end parity runs and the engine benchmark. Nothing in this
 * repository builds it (see README).
 *
 * With `tls`, it also listens for SIP over TLS on a port of its own: a second
 * `--contact sips:127.0.0.1:PORT;transport=tls` with `--key-file`, `--cert-file` and
 * `--chain-file`. drachtio-server's sofia-sip loads the chain file as its CA list
 * (SSL_CTX_load_verify_locations) and fails the TLS transport when it cannot, so it is required
 * here; pass the CA that issued the certificate. Clients' certificates are not asked for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface DrachtioTlsFiles {
  certFile: string;
  keyFile: string;
  /** The issuing CA (and any intermediates), PEM: drachtio-server's `--chain-file`. */
  chainFile: string;
}

export interface DrachtioServerOptions {
  /** Also listen for SIP over TLS (`sips:127.0.0.1:<tlsPort>;transport=tls`) with these files. */
  tls?: DrachtioTlsFiles;
}

export interface DrachtioServer {
  pid: number;
  wirePort: number;
  /** UDP and TCP. */
  sipPort: number;
  /** SIP over TLS, when started with `tls`. */
  tlsPort?: number;
  secret: string;
  /** The tail of what the server printed (for failure reports). */
  output(): string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

/** A free port that is none of `taken` (two look-ups may hand out the same one). */
async function freePortBut(taken: number[]): Promise<number> {
  let port = await freePort();
  for (let i = 0; taken.includes(port) && i < 10; i++) port = await freePort();
  return port;
}

export async function startDrachtioServer(bin: string, secret: string, opts: DrachtioServerOptions = {}): Promise<DrachtioServer> {
  const wirePort = await freePort();
  // drachtio-server cannot start when two of its ports are the same
  const sipPort = await freePortBut([wirePort]);
  const tlsPort = opts.tls ? await freePortBut([wirePort, sipPort]) : undefined;
  const tlsArgs = opts.tls && tlsPort !== undefined
    ? [
      '--contact', `sips:127.0.0.1:${tlsPort};transport=tls`,
      '--key-file', opts.tls.keyFile,
      '--cert-file', opts.tls.certFile,
      '--chain-file', opts.tls.chainFile,
    ]
    : [];
  let out = '';
  // drachtio-server insists on a config file with an <admin> element; the rest comes from argv.
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-drachtio-'));
  const configFile = join(dir, 'drachtio.conf.xml');
  writeFileSync(configFile, '<drachtio><admin/></drachtio>\n');
  const child: ChildProcess = spawn(bin, [
    '-f', configFile,
    '--contact', `sip:127.0.0.1:${sipPort};transport=udp,tcp`,
    ...tlsArgs,
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
  // the wire port, and the TLS port too when asked for (a TLS transport that cannot load its
  // files is not there)
  for (const port of tlsPort !== undefined ? [wirePort, tlsPort] : [wirePort]) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`drachtio-server exited at start (${child.exitCode}):\n${out.slice(-4000)}`);
      const listening = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
      if (listening) break;
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(`drachtio-server did not listen on ${port}:\n${out.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    pid: child.pid ?? 0,
    wirePort,
    sipPort,
    ...(tlsPort !== undefined ? { tlsPort } : {}),
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
