/**
 * What a REGISTER says about waking its device: the APNs token and topic, read from the
 * X-Token header, the xToken Contact param (seed 004), RFC 8599 pn-* params, or the legacy
 * pn-tok/app-id/pn-type params. Pure: no I/O, no throwing on hostile input.
 */
import type { ApnsEnvironment, PushToken } from '../domain/binding.js';
import type { NameAddr } from '../sip/name-addr.js';

export interface PushDataSettings {
  tokenHeader: string;
  tokenParam: string;
  defaultTopic: string;
  defaultEnvironment: ApnsEnvironment;
  /** RFC 8599 pn-provider values served (`apns`, and `fcm` when a service account is set). Default apns. */
  pns?: string[];
  /** Firebase project ids pushwake holds credentials for. */
  fcmProjects?: string[];
  /** APNs topics some key serves (apns.topics + apns.apps); absent: any topic. */
  apnsTopics?: string[];
}

const bundle = (t: string): string => (t.endsWith('.voip') ? t.slice(0, -5) : t);

/** Valid APNs push data whose topic no configured key serves is relayed without push. Pure. */
function servedTopic(data: PushData, s: PushDataSettings): PushData {
  if (data.kind !== 'valid' || data.push.provider !== 'apns' || !s.apnsTopics) return data;
  if (s.apnsTopics.map(bundle).includes(bundle(data.push.topic))) return data;
  return { kind: 'invalid', reason: `APNs topic ${JSON.stringify(data.push.topic)} is not configured (apns.topics, apns.apps)` };
}

export type PushData =
  | { kind: 'none' }
  | { kind: 'valid'; push: PushToken; source: 'header' | 'param' | 'rfc8599' | 'legacy' }
  /**
   * Push data was present but unusable; the registration is relayed without push. An RFC 8599
   * pn-provider pushwake does not serve is refused instead (555, RFC 8599 4.1.1).
   */
  | { kind: 'invalid'; reason: string; unsupportedProvider?: true };

/** RFC 8599 13.2 / RFC 6809: the Feature-Caps a proxy puts on responses about pn-* registrations. */
export function featureCapsPns(pns: readonly string[] = ['apns']): string {
  return `*;+sip.pns="${pns.join(',')}"`;
}

/** FCM registration tokens: URL-safe text (about 160 characters today). */
const FCM_TOKEN_RE = /^[A-Za-z0-9_:-]{20,4096}$/;
/** Firebase project ids: 6-30 lower-case letters, digits and hyphens, starting with a letter. */
const FCM_PROJECT_RE = /^[a-z][a-z0-9-]{5,29}$/;

/** APNs tokens are 32 bytes today; Apple says they may grow, so allow up to 100 bytes. */
const TOKEN_RE = /^(?:[0-9a-f]{2}){32,100}$/;
const BUNDLE_RE = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
const TEAM_ID_RE = /^[A-Z0-9]{10}$/;
const SERVICES_RE = /^(voip|remote|background)(&(voip|remote|background))*$/;

/** Look a param up on the Contact: inside the URI first (RFC 8599), then after it. */
function contactParam(contact: NameAddr | undefined, uriParams: Map<string, string | null>, name: string): string | undefined {
  const key = name.toLowerCase();
  const v = uriParams.get(key) ?? contact?.params.get(key);
  return v === null || v === undefined ? undefined : v;
}

function normaliseToken(raw: string): string | undefined {
  const t = raw.trim().toLowerCase();
  return TOKEN_RE.test(t) ? t : undefined;
}

function topicFromBundle(bundle: string): string | undefined {
  if (bundle.length > 200 || !BUNDLE_RE.test(bundle)) return undefined;
  return bundle.endsWith('.voip') ? bundle : `${bundle}.voip`;
}

export function readPushData(
  contact: NameAddr | undefined,
  uriParams: Map<string, string | null>,
  header: (name: string) => string | undefined,
  s: PushDataSettings,
): PushData {
  return servedTopic(readAnyPushData(contact, uriParams, header, s), s);
}

function readAnyPushData(
  contact: NameAddr | undefined,
  uriParams: Map<string, string | null>,
  header: (name: string) => string | undefined,
  s: PushDataSettings,
): PushData {
  const param = (n: string): string | undefined => contactParam(contact, uriParams, n);

  const provider = param('pn-provider');
  if (provider !== undefined) {
    if (provider.toLowerCase() === 'fcm' && (s.pns ?? ['apns']).includes('fcm')) return readFcm(param('pn-prid'), param('pn-param'), s.fcmProjects ?? []);
    return readRfc8599(provider, param('pn-prid'), param('pn-param'));
  }

  const legacyTok = param('pn-tok');
  if (legacyTok !== undefined) return readLegacy(legacyTok, param('app-id'), param('pn-type'), s);

  const fromHeader = header(s.tokenHeader);
  const fromParam = param(s.tokenParam);
  const raw = fromHeader ?? fromParam;
  if (raw === undefined) return { kind: 'none' };
  const source = fromHeader !== undefined ? 'header' : 'param';
  const token = normaliseToken(raw);
  if (!token) return { kind: 'invalid', reason: `${source === 'header' ? s.tokenHeader : s.tokenParam} is not an APNs token (64-200 hex digits)` };
  if (!s.defaultTopic) return { kind: 'invalid', reason: 'no APNs topic for this token (registration.defaultTopic is not set)' };
  return { kind: 'valid', source, push: { provider: 'apns', token, topic: s.defaultTopic, environment: s.defaultEnvironment } };
}

function readRfc8599(provider: string, prid: string | undefined, pnParam: string | undefined): PushData {
  const p = provider.toLowerCase();
  if (p !== 'apns' && p !== 'apns.dev') return { kind: 'invalid', reason: `unsupported pn-provider ${JSON.stringify(provider.slice(0, 40))}`, unsupportedProvider: true };
  if (prid === undefined) return { kind: 'invalid', reason: 'pn-provider without pn-prid' };
  if (pnParam === undefined) return { kind: 'invalid', reason: 'pn-provider=apns without pn-param' };
  // Linphone sends "tok1:remote&tok2:voip"; the VoIP token is the one marked voip.
  const parts = prid.split('&').map((x) => x.split(':'));
  const voip = parts.find((x) => x[1] === 'voip') ?? parts[0];
  const token = normaliseToken(voip?.[0] ?? '');
  if (!token) return { kind: 'invalid', reason: 'pn-prid is not an APNs token (64-200 hex digits)' };
  // pn-param is <TeamID>.<bundle id>[.<services>] (RFC 8599 9.1): the services part names the
  // push types, e.g. "voip" or Linphone's "remote&voip". The APNs topic is <bundle id>.voip.
  const dot = pnParam.indexOf('.');
  const team = dot > 0 ? pnParam.slice(0, dot) : '';
  let bundle = pnParam.slice(dot + 1);
  const lastDot = bundle.lastIndexOf('.');
  const services = lastDot > 0 ? bundle.slice(lastDot + 1) : '';
  if (SERVICES_RE.test(services)) {
    if (!services.split('&').includes('voip')) return { kind: 'invalid', reason: 'pn-param offers no voip push service' };
    bundle = bundle.slice(0, lastDot);
  }
  const topic = TEAM_ID_RE.test(team) ? topicFromBundle(bundle) : undefined;
  if (!topic) return { kind: 'invalid', reason: 'pn-param is not <TeamID>.<bundle id>[.voip]' };
  return { kind: 'valid', source: 'rfc8599', push: { provider: 'apns', token, topic, environment: p === 'apns.dev' ? 'development' : 'production' } };
}

function readFcm(prid: string | undefined, project: string | undefined, served: string[]): PushData {
  if (prid === undefined) return { kind: 'invalid', reason: 'pn-provider without pn-prid' };
  if (!FCM_TOKEN_RE.test(prid)) return { kind: 'invalid', reason: 'pn-prid is not an FCM registration token' };
  if (project === undefined || !FCM_PROJECT_RE.test(project)) return { kind: 'invalid', reason: 'pn-param is not a Firebase project id' };
  if (!served.includes(project)) return { kind: 'invalid', reason: `FCM project ${JSON.stringify(project)} is not configured (fcm.serviceAccountFile)` };
  return { kind: 'valid', source: 'rfc8599', push: { provider: 'fcm', token: prid, topic: project, environment: 'production' } };
}

function readLegacy(tok: string, appId: string | undefined, pnType: string | undefined, s: PushDataSettings): PushData {
  if (pnType !== undefined && !['apple', 'apns', 'ios'].includes(pnType.toLowerCase())) {
    return { kind: 'invalid', reason: `unsupported pn-type ${JSON.stringify(pnType.slice(0, 40))}` };
  }
  const token = normaliseToken(tok.split(':')[0] ?? '');
  if (!token) return { kind: 'invalid', reason: 'pn-tok is not an APNs token (64-200 hex digits)' };
  let environment: ApnsEnvironment = s.defaultEnvironment;
  let bundle = appId;
  // Flexisip's legacy app-id ends in .prod or .dev to name the APNs environment.
  if (bundle?.endsWith('.dev')) [bundle, environment] = [bundle.slice(0, -4), 'development'];
  else if (bundle?.endsWith('.prod')) [bundle, environment] = [bundle.slice(0, -5), 'production'];
  const topic = bundle !== undefined ? topicFromBundle(bundle) : s.defaultTopic || undefined;
  if (!topic) return { kind: 'invalid', reason: bundle !== undefined ? 'app-id is not a bundle id' : 'no APNs topic (no app-id, registration.defaultTopic not set)' };
  return { kind: 'valid', source: 'legacy', push: { provider: 'apns', token, topic, environment } };
}
