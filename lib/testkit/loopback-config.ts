/**
 * Config overrides for a pushwake on loopback that pushes to a local push sink: the sink's APNs
 * key and CA are written into `dir`, and the embedded engine and store live there too. Shared by
 * the end-to-end lab, the SIPp lab, the demo and the benchmarks.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PushSink } from '../push-sink/index.js';

export function loopbackOverrides(sink: PushSink, dir: string, registrar: string): Record<string, unknown> {
  const keyFile = join(dir, 'apns-key.p8');
  const caFile = join(dir, 'push-sink-ca.pem');
  writeFileSync(keyFile, sink.keyPem ?? '', { mode: 0o600 });
  writeFileSync(caFile, sink.caCertPem);
  const serviceAccountFile = join(dir, 'fcm-service-account.json');
  writeFileSync(serviceAccountFile, JSON.stringify(sink.fcm.serviceAccount), { mode: 0o600 });
  return {
    sip: { listen: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp'] }] },
    engine: { mode: 'embedded', port: 0 },
    upstream: { registrar },
    registration: { defaultTopic: 'com.example.phone.voip' },
    apns: { keyFile, keyId: sink.keyId ?? '', teamId: sink.teamId ?? '', host: '127.0.0.1', port: sink.port, caFile },
    fcm: { serviceAccountFile, endpoint: sink.url, caFile },
    store: { kind: 'embedded', path: join(dir, 'store') },
    // a free port of its own: tests and benchmarks run many pushwakes at once
    admin: { listen: '127.0.0.1:0' },
  };
}
