/**
 * Part of the testkit: HTTP Digest for SIP (RFC 2617 as used by RFC 3261 22.4), MD5 only, so the
 * test phones can answer a real registrar's 401/407. `qop=auth` and no qop; `auth-int` and
 * MD5-sess are not needed by the registrars we test against and are refused plainly.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm?: string;
  /** The qop options offered, lowercased (e.g. ['auth', 'auth-int']); empty when none. */
  qop: string[];
  stale: boolean;
}

export interface DigestCredentials {
  username: string;
  password: string;
}

const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

/** Parse a `WWW-Authenticate`/`Proxy-Authenticate` value; undefined unless it is a Digest challenge. */
export function parseDigestChallenge(value: string): DigestChallenge | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m?.[1]) return undefined;
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gy;
  const rest = m[1];
  let match: RegExpExecArray | null;
  while ((match = re.exec(rest)) !== null) {
    const name = match[1]?.toLowerCase();
    if (!name) break;
    params.set(name, match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? ''));
    if (re.lastIndex >= rest.length) break;
  }
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) return undefined;
  const opaque = params.get('opaque');
  const algorithm = params.get('algorithm');
  return {
    realm,
    nonce,
    ...(opaque !== undefined ? { opaque } : {}),
    ...(algorithm !== undefined ? { algorithm } : {}),
    qop: (params.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase()).filter(Boolean),
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

export interface DigestAnswerOptions {
  method: string;
  /** The Request-URI of the request being authorised (the digest-uri). */
  uri: string;
  /** Nonce count for qop=auth (default 1). */
  nc?: number;
  /** Client nonce (default: random). */
  cnonce?: string;
}

/** The `Authorization`/`Proxy-Authorization` value answering `challenge` (RFC 2617 3.2.2). */
export function digestAuthorization(challenge: DigestChallenge, creds: DigestCredentials, opts: DigestAnswerOptions): string {
  const algorithm = challenge.algorithm ?? 'MD5';
  if (algorithm.toUpperCase() !== 'MD5') throw new Error(`digest: algorithm ${algorithm} is not supported (MD5 only)`);
  const useQop = challenge.qop.includes('auth');
  if (!useQop && challenge.qop.length > 0) throw new Error(`digest: qop ${challenge.qop.join(',')} is not supported (auth only)`);
  const ha1 = md5(`${creds.username}:${challenge.realm}:${creds.password}`);
  const ha2 = md5(`${opts.method}:${opts.uri}`);
  const nc = (opts.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = opts.cnonce ?? randomBytes(8).toString('hex');
  const response = useQop ? md5(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`) : md5(`${ha1}:${challenge.nonce}:${ha2}`);
  const q = (s: string): string => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [
    `username=${q(creds.username)}`,
    `realm=${q(challenge.realm)}`,
    `nonce=${q(challenge.nonce)}`,
    `uri=${q(opts.uri)}`,
    `response=${q(response)}`,
    `algorithm=${algorithm}`,
    ...(challenge.opaque !== undefined ? [`opaque=${q(challenge.opaque)}`] : []),
    ...(useQop ? [`qop=auth`, `nc=${nc}`, `cnonce=${q(cnonce)}`] : []),
  ];
  return `Digest ${parts.join(', ')}`;
}
