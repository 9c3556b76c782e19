import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SinkCertificate {
  certPem: string;
  keyPem: string;
}

/**
 * A self-signed certificate for the push sink, made with the `openssl` command (present
 * wherever the sink runs; it saves a dependency such as `selfsigned`). The certificate is its
 * own CA: clients trust it by passing `certPem` as their `ca`.
 *
 * Valid for localhost, 127.0.0.1, ::1 and `extraNames`. Made once per process per name set.
 */
export function selfSignedCertificate(extraNames: string[] = []): Promise<SinkCertificate> {
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...extraNames])].sort();
  const key = names.join(',');
  let made = cache.get(key);
  if (made === undefined) {
    made = generate(names);
    made.catch(() => cache.delete(key));
    cache.set(key, made);
  }
  return made;
}

const cache = new Map<string, Promise<SinkCertificate>>();

async function generate(names: string[]): Promise<SinkCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'pushwake-sink-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    const san = names.map((n) => (isIP(n) === 0 ? `DNS:${n}` : `IP:${n}`)).join(',');
    await run('openssl', [
      'req', '-x509', '-nodes',
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-keyout', keyFile, '-out', certFile,
      '-days', '30',
      '-subj', '/CN=pushwake push sink',
      '-addext', `subjectAltName=${san}`,
    ]);
    const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { certPem, keyPem };
  } catch (err) {
    throw new Error(`push sink: could not make a self-signed certificate with openssl: ${String(err)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
