import { randomBytes, randomUUID } from 'node:crypto';

/** RFC 3261 magic cookie: branches that start with it are unique per transaction. */
export const BRANCH_COOKIE = 'z9hG4bK';

export function generateBranch(): string {
  return BRANCH_COOKIE + randomBytes(9).toString('base64url');
}

export function generateTag(): string {
  return randomBytes(6).toString('hex');
}

export function generateCallId(): string {
  return randomUUID();
}

/** drachtio names transactions with uuids; we do the same so logs look familiar. */
export function generateTransactionId(): string {
  return randomUUID();
}
