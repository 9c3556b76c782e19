/**
 * The PBX side of the parked-call benchmark: it parks one call per phone, a window at a time
 * (the next INVITE goes when one rings), and cancels them the same way.
 */
import type { Phone } from '../../lib/testkit/agents.js';
import type { LoopbackDeployment } from './loopback-deployment.js';
import { WatchedCall } from './watched-call.js';
import { inWindows, sleep } from './windowed.js';

/** A call that has not rung, or not ended after its CANCEL, by then is given up on. */
const ANSWER_TIMEOUT_MS = 10_000;

export class ParkingPbx {
  /** Calls whose 180 did not come within ANSWER_TIMEOUT_MS (they are cancelled all the same). */
  noRinging = 0;

  constructor(private readonly lab: LoopbackDeployment, private readonly window: number) {}

  park(phones: readonly Phone[]): Promise<WatchedCall[]> {
    return inWindows(phones, this.window, async (phone) => {
      const call = new WatchedCall(this.lab.agentApp, phone.aor, this.lab.pbxProxy);
      const rang = await Promise.race([call.ringing.then(() => true), sleep(ANSWER_TIMEOUT_MS).then(() => false)]);
      if (!rang) this.noRinging++;
      return call;
    });
  }

  /** Cancel the calls; resolves with how they ended (final status or 'no final' → count). */
  async cancel(calls: readonly WatchedCall[]): Promise<Record<string, number>> {
    const endings: Record<string, number> = {};
    await inWindows(calls, this.window, async (c) => {
      c.cancel();
      const status = await Promise.race([c.done, sleep(ANSWER_TIMEOUT_MS).then(() => undefined)]);
      const key = status === undefined ? 'no final' : String(status);
      endings[key] = (endings[key] ?? 0) + 1;
    });
    return endings;
  }
}
