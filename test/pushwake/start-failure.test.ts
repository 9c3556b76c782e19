/** A start that cannot reach its SIP engine leaves nothing running behind it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load.js';
import { silentLogger } from '../../lib/log.js';
import type { PushOutcome, PushSender } from '../../lib/push/push-outcome.js';
import { startPushwake } from '../../lib/pushwake.js';
import { LevelBindingStore } from '../../lib/store/level-store.js';
import { freePort } from '../../lib/testkit/free-port.js';

describe('a start that fails', () => {
  it('an unreachable drachtio-server: the start rejects, the push sender is closed, a store the caller gave stays open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushwake-start-'));
    const store = await LevelBindingStore.open({ path: dir });
    let closed = 0;
    const sender: PushSender = {
      send: (): Promise<PushOutcome> => Promise.resolve({ kind: 'delivered', apnsId: 'x', status: 200 }),
      close: () => {
        closed++;
        return Promise.resolve();
      },
    };
    try {
      const port = await freePort(); // nothing listens there
      const config = loadConfig({ env: {}, overrides: { engine: { mode: 'external', host: '127.0.0.1', port, secret: 'x' } } });
      await expect(startPushwake(config, { log: silentLogger(), store, pushSender: sender })).rejects.toThrow();
      expect(closed).toBe(1);
      // still usable: the caller owns it
      expect(await store.listBindings('sip:a@example.com')).toEqual([]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
