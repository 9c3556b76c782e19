/**
 * Max-Forwards across the B2BUA (RFC 3261 8.1.1.6, 16.6 step 3). pushwake starts a new request
 * for every one it relays, so it carries the count over, one less, or a relay loop (pushwake ↔
 * registrar ↔ pushwake) would never stop. Pure.
 */
export const DEFAULT_MAX_FORWARDS = 70;

export type HopBudget =
  | { kind: 'forward'; maxForwards: number }
  /** the request arrived with Max-Forwards: 0 and must be answered 483 Too Many Hops */
  | { kind: 'exhausted' };

export function nextHop(header: string | undefined): HopBudget {
  const raw = header?.trim();
  // the engine (or drachtio-server) refuses malformed values; an absent one starts afresh
  const n = raw && /^\d{1,3}$/.test(raw) ? Number(raw) : DEFAULT_MAX_FORWARDS + 1;
  if (n <= 0) return { kind: 'exhausted' };
  return { kind: 'forward', maxForwards: Math.min(n, DEFAULT_MAX_FORWARDS + 1) - 1 };
}
