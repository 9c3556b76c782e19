import { checkProviderToken, keyForToken, type ProviderKey } from './provider-token-check.js';

/** One request as the sink received it. */
export interface ApnsRequest {
  method: string;
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
  /** The body went over the sink's read cap; `body` holds only its start. */
  bodyTruncated: boolean;
}

/** A request APNs would accept. */
export interface AcceptedRequest {
  token: string;
  topic: string;
  pushType: string;
  priority: number;
  /** `apns-expiration`, epoch seconds; absent when the header was. */
  expiration?: number;
  collapseId?: string;
  /** The client's own `apns-id`, when it sent one. */
  apnsId?: string;
  payload: Record<string, unknown>;
  /** Absent when the sink does not check provider tokens. */
  providerToken?: { issuedAt: number; fingerprint: string; keyId: string };
}

export type RequestCheck =
  | { ok: true; push: AcceptedRequest }
  | { ok: false; status: number; reason: string };

export const PUSH_TYPES = new Set([
  'alert', 'background', 'location', 'voip', 'complication', 'fileprovider', 'mdm',
  'liveactivity', 'pushtotalk', 'controls', 'widgets',
]);
const PRIORITIES = new Set(['1', '5', '10']);
const DEVICE_TOKEN = /^[0-9a-f]{64,200}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Check a request against APNs' provider API (`POST /3/device/<token>`), answering with the
 * status and reason Apple documents. `providerKey` undefined skips the JWT check.
 */
export function checkApnsRequest(
  request: ApnsRequest,
  providerKey: ProviderKey | readonly ProviderKey[] | undefined,
  nowMs: number,
  /** A verified client certificate (certificate-based auth) and the app it names. */
  clientCert?: { bundle: string },
): RequestCheck {
  if (request.method !== 'POST') return fail(405, 'BadMethod');
  const path = /^\/3\/device\/([^/?#]*)$/.exec(request.path);
  if (path === null) return fail(404, 'BadPath');
  const token = path[1] ?? '';
  if (token === '') return fail(400, 'MissingDeviceToken');
  if (!DEVICE_TOKEN.test(token)) return fail(400, 'BadDeviceToken');

  const single: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (Array.isArray(value)) return fail(400, 'DuplicateHeaders');
    single[name] = value;
  }
  let providerToken: AcceptedRequest['providerToken'];
  /** The apps the credential may push to; undefined: any. */
  let allowedTopics: string[] | undefined;
  if (clientCert !== undefined && (single['authorization'] ?? '') === '') {
    // certificate auth: the certificate names the one app it may push to
    allowedTopics = [clientCert.bundle];
    providerToken = { issuedAt: Math.floor(nowMs / 1000), fingerprint: `cert:${clientCert.bundle}`, keyId: `certificate:${clientCert.bundle}` };
  } else if (providerKey !== undefined) {
    const key = keyForToken(single['authorization'], isKeyList(providerKey) ? providerKey : [providerKey]);
    if (!key) return fail(403, 'InvalidProviderToken');
    const auth = checkProviderToken(single['authorization'], key, nowMs);
    if (!auth.ok) return fail(403, auth.reason);
    providerToken = { issuedAt: auth.issuedAt, fingerprint: auth.fingerprint, keyId: auth.keyId };
    allowedTopics = key.topics;
  }
  const apns = checkApnsHeaders(single);
  if ('ok' in apns) return apns;
  // a key is good only for its team's apps (APNs: 400 TopicDisallowed)
  const bundle = (t: string): string => (t.endsWith('.voip') ? t.slice(0, -5) : t);
  if (allowedTopics && !allowedTopics.map(bundle).includes(bundle(apns.topic))) return fail(400, 'TopicDisallowed');

  const limit = apns.pushType === 'voip' ? 5120 : 4096;
  if (request.bodyTruncated || request.body.length > limit) return fail(413, 'PayloadTooLarge');
  if (request.body.length === 0) return fail(400, 'PayloadEmpty');
  const payload = parseObject(request.body);
  if (payload === undefined) return fail(400, 'BadPayload');
  return { ok: true, push: { token: token.toLowerCase(), ...apns, payload, ...(providerToken === undefined ? {} : { providerToken }) } };
}

type ApnsHeaders = Pick<AcceptedRequest, 'topic' | 'pushType' | 'priority' | 'expiration' | 'collapseId' | 'apnsId'>;

/** The apns-* headers, as Apple checks them. */
function checkApnsHeaders(single: Record<string, string | undefined>): ApnsHeaders | Refusal {
  const topic = single['apns-topic'];
  if (topic === undefined || topic === '') return fail(400, 'MissingTopic');
  const pushType = single['apns-push-type'];
  if (pushType === undefined || !PUSH_TYPES.has(pushType)) return fail(400, 'InvalidPushType');
  // Apple: a VoIP push goes to the `<bundle>.voip` topic. Any other topic is a provider error,
  // not a dead token, so the answer is one a sender must not treat as "forget this device".
  if (pushType === 'voip' && !topic.endsWith('.voip')) return fail(400, 'BadTopic');
  const priorityHeader = single['apns-priority'] ?? '10';
  if (!PRIORITIES.has(priorityHeader)) return fail(400, 'BadPriority');
  const expirationHeader = single['apns-expiration'];
  if (expirationHeader !== undefined && !/^\d{1,12}$/.test(expirationHeader)) return fail(400, 'BadExpirationDate');
  const collapseId = single['apns-collapse-id'];
  if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) return fail(400, 'BadCollapseId');
  const apnsId = single['apns-id'];
  if (apnsId !== undefined && !UUID.test(apnsId)) return fail(400, 'BadMessageId');
  return {
    topic,
    pushType,
    priority: Number(priorityHeader),
    ...(expirationHeader === undefined ? {} : { expiration: Number(expirationHeader) }),
    ...(collapseId === undefined ? {} : { collapseId }),
    ...(apnsId === undefined ? {} : { apnsId }),
  };
}

type Refusal = Extract<RequestCheck, { ok: false }>;
const fail = (status: number, reason: string): Refusal => ({ ok: false, status, reason });

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function isKeyList(k: ProviderKey | readonly ProviderKey[]): k is readonly ProviderKey[] {
  return Array.isArray(k);
}
