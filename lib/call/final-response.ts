/**
 * Choosing the caller's final response when every device leg failed (RFC 3261 16.7 step 6):
 * a 6xx wins; else the lowest class among 3xx-5xx, where a 5xx becomes 503 only if nothing
 * better exists; within 4xx the challenges and specific answers (401, 407, 415, 420, 484) are
 * preferred, then the lowest code (486 Busy before 487, etc.).
 */
export interface LegOutcome {
  status: number;
  reason: string;
}

const PREFERRED_4XX = [486, 600, 603, 404, 480, 401, 407, 415, 420, 484];

export function bestFinalResponse(outcomes: LegOutcome[]): LegOutcome | undefined {
  const finals = outcomes.filter((o) => o.status >= 300 && o.status < 700);
  if (finals.length === 0) return undefined;
  const six = finals.find((o) => o.status >= 600);
  if (six) return six;
  const lowestClass = Math.min(...finals.map((o) => Math.floor(o.status / 100)));
  const inClass = finals.filter((o) => Math.floor(o.status / 100) === lowestClass);
  if (lowestClass === 5) return { status: 503, reason: 'Service Unavailable' };
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
