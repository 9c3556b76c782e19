/**
 * The status page in a real headless browser (Debian's chromium): loaded during a call, it shows
 * the call. A screenshot goes to test-artifacts/ (not committed).
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findBinary } from '../../lib/testkit/binaries.js';
import { waitFor } from '../../lib/testkit/agents.js';
import { SipLab } from '../e2e/support/sip-lab.js';

const run = promisify(execFile);
const chromium = findBinary('CHROMIUM_BIN', ['chromium', 'chromium-browser', 'google-chrome']);
if (!chromium) console.log('[status page] SKIPPED: no chromium (apt-get install chromium, or set CHROMIUM_BIN).');

const artifacts = join(import.meta.dirname, '..', '..', 'test-artifacts');

/** The page after its scripts ran (virtual time lets the first fetch land). */
async function render(url: string, screenshot?: string): Promise<string> {
  const flags = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--virtual-time-budget=3000', `--user-data-dir=${join(artifacts, 'chromium-profile')}`];
  if (screenshot) {
    await run(chromium ?? '', [...flags, '--window-size=1280,900', `--screenshot=${screenshot}`, url], { timeout: 60_000 });
  }
  const { stdout } = await run(chromium ?? '', [...flags, '--dump-dom', url], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

describe.skipIf(!chromium)('the status page in headless chromium', () => {
  it('shows a parked call while it waits for the phone, and then the call among the last calls with its ending', async () => {
    mkdirSync(artifacts, { recursive: true });
    const lab = await SipLab.start({ engine: 'embedded', config: { admin: { listen: '127.0.0.1:0', token: 'page-token' } } });
    try {
      const phone = lab.phone('alice');
      await phone.register();
      phone.wakeOnPush = false;
      const call = lab.pbx.call('sip:alice@example.com');
      await waitFor('push', () => lab.pushesFor(phone).length === 1);
      const url = `${lab.pushwake.adminUrl ?? ''}/?token=page-token`;
      const during = await render(url, join(artifacts, 'status-page-during-call.png'));
      expect(during).toMatch(/<span class="state-parked">parked<\/span><\/td><td>sip:alice@example\.com<\/td><td>1000<\/td>/);
      expect(during).toContain('delivered');
      call.cancel();
      await call.done;
      await waitFor('call gone', () => lab.pushwake.calls.size === 0);
      const after = await render(url);
      expect(after).toContain('no call parked or ringing');
      expect(after).toMatch(/<td>sip:alice@example\.com<\/td><td>caller-cancelled<\/td>/);
      const noToken = await render(`${lab.pushwake.adminUrl ?? ''}/`);
      expect(noToken).toContain('cannot load: HTTP 401 (open this page as /?token=…)');
    } finally {
      await lab.stop();
    }
  }, 120_000);
});
