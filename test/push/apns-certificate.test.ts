/**
 * APNs certificate-based authentication: the app's push certificate (PEM, or .p12 with its
 * passphrase) on the TLS connection, no provider token; good only for the app it names. Against
 * the push sink, which checks the client certificate against the CA that issued it.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApnsSender } from '../../lib/push/apns-sender.js';
import type { VoipPush } from '../../lib/push/push-outcome.js';
import { startPushSink, type PushSink } from '../../lib/push-sink/index.js';
import { createTestPki, type IssuedCertificate, type TestPki } from '../../lib/testkit/test-pki.js';

const run = promisify(execFile);
const TOKEN = 'ab'.repeat(32);

describe('APNs certificate-based authentication', () => {
  let pki: TestPki;
  let cert: IssuedCertificate;
  let sink: PushSink;
  beforeAll(async () => {
    pki = await createTestPki();
    cert = await pki.issue('voip-cert', { commonName: 'Apple VoIP Services: com.certapp.phone', names: ['certapp.example'] });
    sink = await startPushSink({ output: 'none', clientCa: pki.caCertPem });
  });
  afterAll(async () => {
    await sink.stop();
    await pki.remove();
  });

  const push = (topic: string): VoipPush => ({
    token: { provider: 'apns', token: TOKEN, topic, environment: 'production' },
    payload: { aps: {} }, collapseId: 'u-1', expiresAt: Date.now() + 30_000,
  });
  const sender = (certificate: ConstructorParameters<typeof ApnsSender>[0]['certificate']): ApnsSender =>
    new ApnsSender({ certificate, keyId: '', teamId: '', host: '127.0.0.1', port: sink.port, ca: sink.caCertPem });

  it('a PEM certificate pushes to its own app, with no provider token', async () => {
    const s = sender({ cert: cert.certPem, key: cert.keyPem });
    expect(await s.send(push('com.certapp.phone.voip'))).toMatchObject({ kind: 'delivered' });
    expect(sink.pushes.at(-1)).toMatchObject({ topic: 'com.certapp.phone.voip', providerKeyId: 'certificate:com.certapp.phone' });
    expect(await s.send(push('com.other.app.voip'))).toMatchObject({ kind: 'rejected', status: 400, reason: 'TopicDisallowed' });
    await s.close();
  });

  it('a .p12 with its passphrase works the same', async () => {
    const p12 = join(pki.dir, 'voip-cert.p12');
    await run('openssl', ['pkcs12', '-export', '-in', cert.certFile, '-inkey', cert.keyFile, '-out', p12, '-passout', 'pass:s3cret']);
    const s = sender({ pfx: readFileSync(p12), passphrase: 's3cret' });
    expect(await s.send(push('com.certapp.phone.voip'))).toMatchObject({ kind: 'delivered' });
    await s.close();
  });

  it('neither a token nor a certificate the CA vouches for: 403 MissingProviderToken', async () => {
    const stranger = await createTestPki();
    try {
      const other = await stranger.issue('other', { commonName: 'Apple VoIP Services: com.certapp.phone', names: ['x.example'] });
      const s = sender({ cert: other.certPem, key: other.keyPem });
      expect(await s.send(push('com.certapp.phone.voip'))).toMatchObject({ kind: 'rejected', status: 403, reason: 'MissingProviderToken' });
      await s.close();
    } finally {
      await stranger.remove();
    }
  });
});
