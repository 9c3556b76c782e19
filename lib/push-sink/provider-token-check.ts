import { createHash, verify, type KeyObject } from 'node:crypto';

/** What the sink knows of the provider's signing key. */
export interface ProviderKey {
  publicKey: KeyObject;
  keyId: string;
  teamId: string;
  /** Topics (bundle ids, with or without .voip) this key may push to; absent: any. */
  topics?: string[];
}

/** The key a token names by its `kid`, among several (a deployment with several apps). */
export function keyForToken(authorization: string | undefined, keys: readonly ProviderKey[]): ProviderKey | undefined {
  const header = /^bearer\s+([A-Za-z0-9_-]+)\./i.exec(authorization?.trim() ?? '')?.[1];
  if (!header) return keys[0];
  const kid = decodeJson(header)?.['kid'];
  return keys.find((k) => k.keyId === kid) ?? keys[0];
}

export type ProviderTokenCheck =
  | { ok: true; issuedAt: number; fingerprint: string; keyId: string }
  | {
      ok: false;
      reason: 'MissingProviderToken' | 'InvalidProviderToken' | 'ExpiredProviderToken';
    };

/** APNs refuses tokens issued more than an hour ago. */
const MAX_TOKEN_AGE_S = 3600;
/** Tolerated clock skew for tokens "issued in the future". */
const MAX_FUTURE_S = 300;

/**
 * Check an `authorization: bearer <jwt>` header as APNs does: ES256 signature by the
 * configured key, `kid` = Key ID, `iss` = Team ID, `iat` at most an hour old.
 */
export function checkProviderToken(
  authorization: string | undefined,
  key: ProviderKey,
  nowMs: number,
): ProviderTokenCheck {
  if (authorization === undefined || authorization === '') {
    return { ok: false, reason: 'MissingProviderToken' };
  }
  const invalid = { ok: false, reason: 'InvalidProviderToken' } as const;
  const match = /^bearer\s+([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(
    authorization.trim(),
  );
  if (match === null) return invalid;
  const [, headerPart = '', claimsPart = '', signaturePart = ''] = match;
  const header = decodeJson(headerPart);
  const claims = decodeJson(claimsPart);
  if (header === undefined || claims === undefined) return invalid;
  if (header['alg'] !== 'ES256' || header['kid'] !== key.keyId) return invalid;
  if (claims['iss'] !== key.teamId) return invalid;
  const iat = claims['iat'];
  if (typeof iat !== 'number' || !Number.isInteger(iat)) return invalid;
  const signature = Buffer.from(signaturePart, 'base64url');
  if (signature.length !== 64) return invalid;
  const signed = verify(
    'sha256',
    Buffer.from(`${headerPart}.${claimsPart}`),
    { key: key.publicKey, dsaEncoding: 'ieee-p1363' },
    signature,
  );
  if (!signed) return invalid;
  const nowS = Math.floor(nowMs / 1000);
  if (iat > nowS + MAX_FUTURE_S) return invalid;
  if (nowS - iat > MAX_TOKEN_AGE_S) return { ok: false, reason: 'ExpiredProviderToken' };
  // Enough to see whether two pushes carried the same token, without logging a credential.
  const fingerprint = createHash('sha256').update(authorization).digest('hex').slice(0, 16);
  return { ok: true, issuedAt: iat, fingerprint, keyId: key.keyId };
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
