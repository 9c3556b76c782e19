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
import { join } from 'node:path';
import { startDaemonRetrying } from './daemon.js';
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

/** A free port that is none of `taken` (two look-ups may hand out the same one). */
async function freePortBut(taken: number[]): Promise<number> {
  let port = await freePort();
  for (let i = 0; taken.includes(port) && i < 10; i++) port = await freePort();
  return port;
}

export async function startDrachtioServer(bin: string, secret: string, opts: DrachtioServerOptions = {}): Promise<DrachtioServer> {
  let ports = { wirePort: 0, sipPort: 0, tlsPort: undefined as number | undefined };
  const daemon = await startDaemonRetrying(async () => {
    const wirePort = await freePort();
    // drachtio-server cannot start when two of its ports are the same
    const sipPort = await freePortBut([wirePort]);
    const tlsPort = opts.tls ? await freePortBut([wirePort, sipPort]) : undefined;
    ports = { wirePort, sipPort, tlsPort };
    const tlsArgs = opts.tls && tlsPort !== undefined
      ? ['--contact', `sips:127.0.0.1:${tlsPort};transport=tls`, '--key-file', opts.tls.keyFile, '--cert-file', opts.tls.certFile, '--chain-file', opts.tls.chainFile]
      : [];
    return {
      name: 'drachtio-server',
      bin,
      // it insists on a config file with an <admin> element; the rest comes from argv
      files: () => ({ 'drachtio.conf.xml': '<drachtio><admin/></drachtio>\n' }),
      args: (dir) => [
        '-f', join(dir, 'drachtio.conf.xml'),
        '--contact', `sip:127.0.0.1:${sipPort};transport=udp,tcp`,
        ...tlsArgs,
        '--address', '127.0.0.1',
        '--port', String(wirePort),
        '--secret', secret,
        '--loglevel', process.env['DRACHTIO_LOGLEVEL'] ?? 'notice',
        '--sofia-loglevel', '0',
        '--disable-nat-detection',
      ],
      // the wire port, and the TLS port too when asked for (a TLS transport that cannot load its files is not there)
      readyPorts: [wirePort, ...(tlsPort !== undefined ? [tlsPort] : [])].map((port) => ({ address: '127.0.0.1', port })),
    };
  });
  const { wirePort, sipPort, tlsPort } = ports;
  return { pid: daemon.pid, wirePort, sipPort, ...(tlsPort !== undefined ? { tlsPort } : {}), secret, output: daemon.output, stop: daemon.stop };
}
