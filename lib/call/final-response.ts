/**
 * Choosing the caller's final response when every device leg failed (RFC 3261 16.7 step 6):
 * a 6xx wins; else the lowest class among 3xx-5xx; within 4xx the specific answers are
 * preferred, then the lowest code (486 Busy before 487, etc.).
 *
 * pushwake is a B2BUA, not a proxy, so what goes back to the PBX must make sense from pushwake:
 * a device's 503 would say pushwake itself is down (the PBX might fail over or blacklist it),
 * and a device's 3xx, 401/407, 415 or 420 needs headers (Contact, a challenge aimed at the
 * B2BUA, Accept, Unsupported) that mean nothing to the PBX. Those become 500 or 480.
 */
export interface LegOutcome {
  status: number;
  reason: string;
}

const PREFERRED_4XX = [486, 404, 480, 484, 488, 403, 410];
const DEVICE_SPECIFIC = new Set([401, 407, 415, 420, 421, 423]);

export function bestFinalResponse(outcomes: LegOutcome[]): LegOutcome | undefined {
  const best = bestOf(outcomes);
  return best && forCaller(best);
}

/** What the PBX may be told, given the best device answer (see above). */
function forCaller(o: LegOutcome): LegOutcome {
  if (o.status >= 300 && o.status < 400) return { status: 480, reason: 'Temporarily Unavailable' };
  if (DEVICE_SPECIFIC.has(o.status)) return { status: 480, reason: 'Temporarily Unavailable' };
  if (o.status >= 500 && o.status < 600) return { status: 500, reason: 'Server Internal Error' };
  return o;
}

function bestOf(outcomes: LegOutcome[]): LegOutcome | undefined {
  const finals = outcomes.filter((o) => o.status >= 300 && o.status < 700);
  if (finals.length === 0) return undefined;
  const six = finals.find((o) => o.status >= 600);
  if (six) return six;
  const lowestClass = Math.min(...finals.map((o) => Math.floor(o.status / 100)));
  const inClass = finals.filter((o) => Math.floor(o.status / 100) === lowestClass);
  if (lowestClass === 4) {
    for (const code of PREFERRED_4XX) {
      const hit = inClass.find((o) => o.status === code);
      if (hit) return hit;
    }
    // 408 and 487 say least about the callee: prefer anything else.
    const informative = inClass.filter((o) => o.status !== 408 && o.status !== 487);
    const pool = informative.length ? informative : inClass;
    return pool.reduce((a, b) => (b.status < a.status ? b : a));
  }
  return inClass.reduce((a, b) => (b.status < a.status ? b : a));
}
