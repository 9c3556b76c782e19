import { createPrivateKey, sign, type KeyObject } from 'node:crypto';

/**
 * The APNs provider token: an ES256 JWT signed with the team's .p8 key.
 *
 * Apple refuses tokens older than one hour (403 ExpiredProviderToken) and throttles tokens
 * regenerated more often than every 20 minutes (429 TooManyProviderTokenUpdates), so one token
 * is cached and reused for every push until it is `refreshAfterMs` old.
 */
export interface ProviderTokenOptions {
  /** The .p8 key from the Apple developer account: PEM (PKCS#8) text or a KeyObject. */
  signingKey: string | KeyObject;
  /** The 10-character Key ID of that key. Sent as the JWT `kid` header. */
  keyId: string;
  /** The 10-character Team ID. Sent as the JWT `iss` claim. */
  teamId: string;
  /** Age at which a new token is signed. Default 40 min; must lie within 20–50 min. */
  refreshAfterMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

export const MIN_TOKEN_REFRESH_MS = 20 * 60_000;
export const MAX_TOKEN_REFRESH_MS = 50 * 60_000;
export const DEFAULT_TOKEN_REFRESH_MS = 40 * 60_000;

export class ProviderToken {
  private readonly key: KeyObject;
  private readonly keyId: string;
  private readonly teamId: string;
  private readonly refreshAfterMs: number;
  private readonly now: () => number;
  private cached: { jwt: string; signedAt: number } | undefined;

  constructor(options: ProviderTokenOptions) {
    this.key =
      typeof options.signingKey === 'string'
        ? createPrivateKey(options.signingKey)
        : options.signingKey;
    const curve = this.key.asymmetricKeyDetails?.namedCurve;
    if (this.key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
      throw new Error('APNs signing key must be an EC P-256 private key (the .p8 file)');
    }
    if (options.keyId === '' || options.teamId === '') {
      throw new Error('APNs keyId and teamId are required');
    }
    const refreshAfterMs = options.refreshAfterMs ?? DEFAULT_TOKEN_REFRESH_MS;
    if (refreshAfterMs < MIN_TOKEN_REFRESH_MS || refreshAfterMs > MAX_TOKEN_REFRESH_MS) {
      throw new Error('APNs token refresh interval must lie within 20–50 minutes');
    }
    this.keyId = options.keyId;
    this.teamId = options.teamId;
    this.refreshAfterMs = refreshAfterMs;
    this.now = options.now ?? Date.now;
  }

  /** The token to send now: the cached one while it is young enough, else a fresh one. */
  current(): string {
    const now = this.now();
    if (this.cached === undefined || now - this.cached.signedAt >= this.refreshAfterMs) {
      this.cached = { jwt: this.signAt(now), signedAt: now };
    }
    return this.cached.jwt;
  }

  /** APNs said the token is expired (clock skew, suspended host): sign a new one next time. */
  invalidate(): void {
    this.cached = undefined;
  }

  private signAt(nowMs: number): string {
    const header = base64url(JSON.stringify({ alg: 'ES256', kid: this.keyId }));
    const claims = base64url(JSON.stringify({ iss: this.teamId, iat: Math.floor(nowMs / 1000) }));
    const signingInput = `${header}.${claims}`;
    // JWS wants the raw r||s signature, not the DER encoding node uses by default.
    const signature = sign('sha256', Buffer.from(signingInput), {
      key: this.key,
      dsaEncoding: 'ieee-p1363',
    });
    return `${signingInput}.${signature.toString('base64url')}`;
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
