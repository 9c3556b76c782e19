import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import tls from 'node:tls';
import type { EngineLog } from './types.js';

/** The files behind SIP over TLS. */
export interface TlsFiles {
  /** PEM certificate chain presented to phones (and to upstream peers that ask for one) */
  certFile: string;
  /** PEM private key of that certificate */
  keyFile: string;
  /** PEM CA certificates trusted, besides the system ones, when pushwake connects out over TLS */
  caFile?: string;
  /** poll the files and reload when they change (e.g. a Let's Encrypt renewal); default true */
  watch?: boolean;
  /** how often they are polled; default 5 s */
  watchIntervalMs?: number;
}

export class TlsConfigError extends Error {
  readonly code = 'ENGINE_TLS_CONFIG';
}

interface Loaded {
  server: tls.SecureContext;
  cert: Buffer;
  key: Buffer;
  ca: string[];
}

function load(files: TlsFiles): Loaded {
  let cert: Buffer;
  let key: Buffer;
  let extraCa: string | undefined;
  try {
    cert = readFileSync(files.certFile);
    key = readFileSync(files.keyFile);
    extraCa = files.caFile ? readFileSync(files.caFile, 'utf8') : undefined;
  } catch (err) {
    throw new TlsConfigError(`cannot read TLS files: ${(err as Error).message}`);
  }
  try {
    const server = tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    const ca = [...tls.rootCertificates, ...(extraCa ? [extraCa] : [])];
    // validates the CA file too: a broken one fails here, not at the first outbound connection
    if (extraCa) tls.createSecureContext({ ca: extraCa });
    return { server, cert, key, ca };
  } catch (err) {
    throw new TlsConfigError(`bad TLS certificate, key or CA file: ${(err as Error).message}`);
  }
}

/**
 * The certificate and key pushwake presents, and the CAs it trusts outbound. Reloading swaps
 * them for new connections only: live connections keep the context they were made with, so a
 * renewal drops no call. A reload that fails keeps the old credentials and says why.
 */
export class TlsCredentials {
  private current: Loaded;
  private watcher?: (now: { mtimeMs: number }, prev: { mtimeMs: number }) => void;

  constructor(private readonly files: TlsFiles, private readonly log: EngineLog) {
    this.current = load(files);
  }

  get serverContext(): tls.SecureContext {
    return this.current.server;
  }

  /** Options for an outbound TLS connection: verify the peer against the trusted CAs. */
  clientOptions(host: string, port: number, serverName?: string): tls.ConnectionOptions {
    return {
      host,
      port,
      ...(serverName ? { servername: serverName } : {}),
      ca: this.current.ca,
      cert: this.current.cert,
      key: this.current.key,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    };
  }

  /** Re-reads the files; true when the new credentials are in use. */
  reload(): boolean {
    try {
      this.current = load(this.files);
      this.log('info', 'tls certificate reloaded', { certFile: this.files.certFile });
      return true;
    } catch (err) {
      this.log('error', 'tls certificate reload failed; keeping the previous one', { err: (err as Error).message });
      return false;
    }
  }

  /** Polls the cert and key files (a poll survives the symlink swaps certbot does). */
  watch(intervalMs = this.files.watchIntervalMs ?? 5000): void {
    if (this.watcher || this.files.watch === false) return;
    const onChange = (now: { mtimeMs: number }, prev: { mtimeMs: number }): void => {
      if (now.mtimeMs !== prev.mtimeMs) this.reload();
    };
    this.watcher = onChange;
    for (const f of [this.files.certFile, this.files.keyFile]) watchFile(f, { interval: intervalMs, persistent: false }, onChange);
  }

  stop(): void {
    const w = this.watcher;
    if (!w) return;
    this.watcher = undefined;
    unwatchFile(this.files.certFile, w);
    unwatchFile(this.files.keyFile, w);
  }
}
