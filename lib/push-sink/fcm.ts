/**
 * The push sink's FCM side: a local stand-in for Google's OAuth2 token endpoint and FCM HTTP v1.
 * It makes a service account of its own (an RSA key, written into the key file pushwake reads),
 * issues access tokens for assertions signed with it (RFC 7523 JWT bearer), and takes
 * `POST /v1/projects/<id>/messages:send` only with a token it issued and a message shaped as FCM
 * wants one (a token, string data, android.priority HIGH, a ttl). It answers per the sink's rules,
 * with FCM's statuses and error codes.
 */
import { createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { SinkAnswer } from './rules.js';

export interface FcmServiceAccount {
  type: 'service_account';
  project_id: string;
  client_email: string;
  private_key: string;
  token_uri: string;
}

export interface FcmReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** An accepted FCM message, for the sink's record. */
export interface FcmAccepted {
  token: string;
  project: string;
  priority: string;
  ttlSeconds: number;
  collapseKey?: string;
  data: Record<string, string>;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

interface Account {
  serviceAccount: FcmServiceAccount;
  publicKey: KeyObject;
}

function makeAccount(origin: string, projectId: string): Account {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey,
    serviceAccount: {
      type: 'service_account',
      project_id: projectId,
      client_email: `pushwake-sink@${projectId}.iam.gserviceaccount.com`,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      token_uri: `${origin}/token`,
    },
  };
}

export class FcmSide {
  /** The first project's service account. */
  readonly serviceAccount: FcmServiceAccount;
  /** Accounts by client_email (one per project). */
  private readonly accounts = new Map<string, Account>();
  /** Issued access tokens: until when, and for which project. */
  private readonly tokens = new Map<string, { expiresAt: number; project: string }>();
  /** Access tokens issued so far (tests check caching and refresh). */
  tokenRequests = 0;
  /** Lifetime of issued tokens, in seconds. */
  tokenLifetimeSeconds = 3600;

  constructor(private readonly origin: string, readonly projectId: string, private readonly now: () => number) {
    this.serviceAccount = this.addProject(projectId);
  }

  /** Serve another Firebase project: its own service account (another Android app). */
  addProject(projectId: string): FcmServiceAccount {
    const a = makeAccount(this.origin, projectId);
    this.accounts.set(a.serviceAccount.client_email, a);
    return a.serviceAccount;
  }

  /** Every access token issued so far stops working (FCM answers 401 to it). */
  expireAccessTokens(): void {
    this.tokens.clear();
  }

  static handles(path: string): boolean {
    return path === '/token' || path.startsWith('/v1/projects/');
  }

  /** POST /token: an access token for a good assertion. */
  token(contentType: string, body: string): FcmReply {
    if (!contentType.startsWith('application/x-www-form-urlencoded')) return oauthError('invalid_request', 'form body expected');
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return oauthError('unsupported_grant_type', 'jwt-bearer expected');
    const checked = this.checkAssertion(form.get('assertion') ?? '');
    if (typeof checked === 'string') return oauthError('invalid_grant', checked);
    const token = `sink-${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, { expiresAt: this.now() + this.tokenLifetimeSeconds * 1000, project: checked.serviceAccount.project_id });
    this.tokenRequests++;
    return { status: 200, body: { access_token: token, expires_in: this.tokenLifetimeSeconds, token_type: 'Bearer' } };
  }

  /** POST /v1/projects/<id>/messages:send, checked; `answer` is the sink's rule for the token. */
  send(path: string, authorization: string, body: string, answer: (token: string) => SinkAnswer): { reply: FcmReply; accepted?: FcmAccepted } {
    const bearer = /^Bearer (\S+)$/.exec(authorization)?.[1];
    const issued = bearer ? this.tokens.get(bearer) : undefined;
    if (issued === undefined || issued.expiresAt < this.now()) return { reply: fcmError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.') };
    const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
    if (!m) return { reply: fcmError(404, 'NOT_FOUND', `no route ${path}`) };
    const project = decodeURIComponent(m[1] ?? '');
    if (project !== issued.project) return { reply: fcmError(403, 'PERMISSION_DENIED', `the service account cannot send for project ${project}`, 'SENDER_ID_MISMATCH') };
    let message: Record<string, unknown>;
    try {
      message = (JSON.parse(body) as { message?: Record<string, unknown> }).message ?? {};
    } catch {
      return { reply: fcmError(400, 'INVALID_ARGUMENT', 'body is not JSON') };
    }
    const shape = checkMessage(message);
    if (typeof shape === 'string') return { reply: fcmError(400, 'INVALID_ARGUMENT', shape) };
    const result = answer(shape.token);
    if (result.status !== 200) return { reply: ruleError(result) };
    return { reply: { status: 200, body: { name: `projects/${project}/messages/${randomBytes(8).toString('hex')}` } }, accepted: { ...shape, project } };
  }

  /** The account a good assertion is from, or why it is not good. */
  private checkAssertion(assertion: string): Account | string {
    const [h, p, sig] = assertion.split('.');
    if (!h || !p || !sig) return 'assertion is not a JWT';
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return 'assertion claims are not JSON';
    }
    const account = this.accounts.get(String(claims['iss']));
    if (!account) return 'iss is not a service account of this sink';
    const ok = createVerify('RSA-SHA256').update(`${h}.${p}`).verify(account.publicKey, Buffer.from(sig, 'base64url'));
    if (!ok) return 'assertion not signed with the service account key';
    const now = Math.floor(this.now() / 1000);
    if (claims['aud'] !== account.serviceAccount.token_uri) return 'aud is not the token_uri';
    if (typeof claims['scope'] !== 'string' || !claims['scope'].split(' ').includes(SCOPE)) return `scope lacks ${SCOPE}`;
    if (typeof claims['exp'] !== 'number' || claims['exp'] < now || typeof claims['iat'] !== 'number' || claims['iat'] > now + 60) return 'assertion expired or issued in the future';
    return account;
  }
}

function checkMessage(m: Record<string, unknown>): Omit<FcmAccepted, 'project'> | string {
  if (typeof m['token'] !== 'string' || m['token'] === '') return 'message.token is required';
  const data = m['data'];
  if (typeof data !== 'object' || data === null || Object.values(data).some((v) => typeof v !== 'string')) return 'message.data must map strings to strings';
  const android = m['android'] as Record<string, unknown> | undefined;
  if (typeof android !== 'object' || android === null) return 'message.android is required for a call';
  if (String(android['priority']).toUpperCase() !== 'HIGH') return 'android.priority must be HIGH for a call';
  const ttl = /^(\d+)(\.\d+)?s$/.exec(String(android['ttl'] ?? ''));
  if (!ttl) return 'android.ttl must look like "30s"';
  return {
    token: m['token'],
    priority: 'HIGH',
    ttlSeconds: Number(ttl[1]),
    ...(typeof android['collapse_key'] === 'string' ? { collapseKey: android['collapse_key'] } : {}),
    data: data as Record<string, string>,
  };
}

function oauthError(error: string, description: string): FcmReply {
  return { status: 400, body: { error, error_description: description } };
}

function fcmError(status: number, code: string, message: string, errorCode?: string): FcmReply {
  return {
    status,
    body: { error: { code: status, message, status: code, ...(errorCode ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] } : {}) } },
  };
}

/** The sink's canned answers, as FCM says them. */
function ruleError(a: SinkAnswer): FcmReply {
  const retry = a.retryAfterSeconds !== undefined ? { 'retry-after': String(a.retryAfterSeconds) } : undefined;
  const r = (reply: FcmReply): FcmReply => (retry ? { ...reply, headers: retry } : reply);
  switch (a.status) {
    case 410:
      return r(fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'));
    case 400:
      return r(fcmError(400, 'INVALID_ARGUMENT', a.reason ?? 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT'));
    case 429:
      return r(fcmError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'QUOTA_EXCEEDED'));
    case 500:
      return r(fcmError(500, 'INTERNAL', 'Internal error', 'INTERNAL'));
    case 503:
      return r(fcmError(503, 'UNAVAILABLE', 'The service is currently unavailable', 'UNAVAILABLE'));
    default:
      return r(fcmError(a.status, a.reason ?? 'ERROR', a.reason ?? `HTTP ${a.status}`));
  }
}
