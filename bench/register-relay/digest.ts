/**
 * HTTP digest for SIP (RFC 2617 / RFC 3261 22.4) as a phone answers a 401: MD5, with qop=auth
 * when the challenge offers it. Pure.
 */
import { createHash } from 'node:crypto';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  /** the challenge's qop list, e.g. "auth,auth-int" */
  qop?: string;
}

export interface DigestCredentials {
  username: string;
  password: string;
}

/** The value of the Authorization header answering `challenge` for `method uri`. */
export function digestAuthorization(challenge: DigestChallenge, creds: DigestCredentials, method: string, uri: string, cnonce: string): string {
  const ha1 = md5(`${creds.username}:${challenge.realm}:${creds.password}`);
  const ha2 = md5(`${method}:${uri}`);
  const auth = challenge.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
  const nc = '00000001';
  const response = auth ? md5(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:${auth}:${ha2}`) : md5(`${ha1}:${challenge.nonce}:${ha2}`);
  return `Digest username="${creds.username}", realm="${challenge.realm}", nonce="${challenge.nonce}", uri="${uri}", response="${response}", algorithm=MD5`
    + (auth ? `, qop=${auth}, nc=${nc}, cnonce="${cnonce}"` : '')
    + (challenge.opaque !== undefined ? `, opaque="${challenge.opaque}"` : '');
}
