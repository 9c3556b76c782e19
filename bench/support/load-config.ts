/**
 * The config of a pushwake under load, as register-storm.ts and register-relay.ts run it as
 * shipped: loopback, every message from 127.0.0.1 (so the engine's flood budgets are lifted and
 * 127.0.0.0/8 is trusted), the admin API on its own port, warnings only. On drachtio-server when
 * one is given.
 */
import type { PushSink } from '../../lib/push-sink/index.js';
import { mergeTrees } from '../../lib/testkit/cleanups.js';
import { loopbackOverrides } from '../../lib/testkit/loopback-config.js';

export function underLoadConfig(opts: {
  sink: PushSink;
  dir: string;
  registrar: string;
  sipPort: number;
  adminPort: number;
  drachtio?: { wirePort: number; secret: string } | undefined;
}): Record<string, unknown> {
  const { drachtio } = opts;
  return mergeTrees(loopbackOverrides(opts.sink, opts.dir, opts.registrar), {
    sip: { listen: [{ address: '127.0.0.1', port: opts.sipPort, transports: ['udp', 'tcp'] }] },
    ...(drachtio ? { engine: { mode: 'external', host: '127.0.0.1', port: drachtio.wirePort, secret: drachtio.secret } } : {
      engine: { perSourceRatePerSec: 1_000_000, trustedSourceRatePerSec: 1_000_000, untrustedRatePerSec: 10_000_000, maxTransactions: 2_000_000 },
    }),
    upstream: { trustedSources: ['127.0.0.0/8'] },
    admin: { listen: `127.0.0.1:${opts.adminPort}` },
    log: { level: 'warn', format: 'json' },
  });
}
