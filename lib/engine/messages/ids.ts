import { randomBytes, randomUUID } from 'node:crypto';

/** RFC 3261 magic cookie: branches that start with it are unique per transaction. */
export const BRANCH_COOKIE = 'z9hG4bK';

/** Random bytes drawn ahead in bulk: one randomBytes call per ~500 ids instead of one per id. */
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function take(n: number): number {
  if (poolOffset + n > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += n;
  return start;
}

export function generateBranch(): string {
  const at = take(9);
  return BRANCH_COOKIE + pool.toString('base64url', at, at + 9);
}

export function generateTag(): string {
  const at = take(6);
  return pool.toString('hex', at, at + 6);
}

export function generateCallId(): string {
  return randomUUID();
}

/** drachtio names transactions with uuids; we do the same so logs look familiar. */
export function generateTransactionId(): string {
  return randomUUID();
}

/**
 * A copy of a string that shares no memory with the text it was cut from. Header values are
 * slices of the whole received message; a long-lived key or id built from them would otherwise
 * keep that message's text alive (V8 sliced and cons strings point at their parent).
 */
export function detachedString(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * A copy of bytes in memory of their own. A small Buffer from Buffer.from or toString shares an
 * 8 KB slab with other allocations; keeping it (e.g. a final response kept for 32 s to absorb
 * retransmissions) would keep the whole slab.
 */
export function ownedBytes(b: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(b.length);
  b.copy(copy);
  return copy;
}
