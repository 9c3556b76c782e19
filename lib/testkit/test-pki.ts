/**
 * A throwaway certificate authority for TLS tests, made with the `openssl` command at test time
 * (no key is ever committed). It issues leaf certificates for given names, including expired
 * ones, so tests can exercise good, expired and wrong-name certificates.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export interface TestPki {
  dir: string;
  caCertFile: string;
  caCertPem: string;
  /** A leaf certificate for these DNS names / IPs; `expired` makes one valid only in 2020. */
  issue(label: string, opts?: { names?: string[]; expired?: boolean; commonName?: string }): Promise<IssuedCertificate>;
  remove(): Promise<void>;
}

const CA_CONFIG = (dir: string): string => `
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
default_md = sha256
policy = any_name
copy_extensions = copy
unique_subject = no
default_days = 2
[ any_name ]
commonName = supplied
`;

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'pushwake-pki-'));
  await mkdir(join(dir, 'issued'));
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(join(dir, 'ca.cnf'), CA_CONFIG(dir));
  const caKey = join(dir, 'ca.key');
  const caCertFile = join(dir, 'ca.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', caKey, '-out', caCertFile, '-days', '2', '-subj', '/CN=pushwake test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const caCertPem = await readFile(caCertFile, 'utf8');
  return {
    dir,
    caCertFile,
    caCertPem,
    async issue(label, opts = {}) {
      const names = opts.names ?? ['localhost', '127.0.0.1', '::1'];
      const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      const keyFile = join(dir, `${label}.key`);
      const csr = join(dir, `${label}.csr`);
      const certFile = join(dir, `${label}.pem`);
      await run('openssl', [
        'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', csr, '-subj', `/CN=${opts.commonName ?? names[0] ?? label}`, '-addext', `subjectAltName=${san}`,
      ]);
      const now = Date.now();
      const [start, end] = opts.expired
        ? [new Date('2020-01-01T00:00:00Z'), new Date('2020-01-02T00:00:00Z')]
        : [new Date(now - 3600_000), new Date(now + 2 * 86_400_000)];
      await run('openssl', [
        'ca', '-batch', '-config', join(dir, 'ca.cnf'), '-cert', caCertFile, '-keyfile', caKey, '-in', csr, '-out', certFile,
        '-notext', '-startdate', stamp(start), '-enddate', stamp(end),
      ]);
      return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
