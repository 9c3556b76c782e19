/**
 * Reading a phone's REGISTER into what the relay must do. Pure: no I/O and no throwing, so every
 * hostile REGISTER ends in a clear SIP answer.
 */
import { aorOf, parseContactList, parseNameAddr, parseSipUri, type NameAddr } from '../sip/name-addr.js';
import { deviceKeyOf, localContactUserOf, readInstanceId } from './device-identity.js';
import { featureCapsPns, readPushData, type PushData, type PushDataSettings } from './push-data.js';

export interface RegisterSettings extends PushDataSettings {
  /** Where the app's regular (alert) APNs token comes: a header, or a Contact parameter. */
  alertTokenHeader?: string;
  alertTokenParam?: string;
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  contactUserPrefix: string;
  pushHintHeader: string;
  pushHintParam: string;
}

export type RegisterIntent =
  | { kind: 'reject'; status: number; reason: string; headers?: Record<string, string> }
  | {
      kind: 'register';
      aor: string;
      contact: NameAddr;
      deviceExpires: number;
      push: PushData;
      instanceId?: string;
      /** the +sip.instance sent was unusable (the device is keyed by token or contact instead) */
      identityWarning?: string;
      deviceKey: string;
      localContactUser: string;
      /** A push hint the client echoed, pairing this REGISTER with a parked call. */
      pushHint?: string;
      /** The app's regular APNs token, for alert pushes (missed calls). */
      alertToken?: string;
    }
  /** `contactUri`: the Contact's URI, to find a device that unregisters without its push data. */
  | { kind: 'unregister'; aor: string; deviceKey: string; localContactUser: string; contactUri: string }
  /** `Contact: *` with Expires: 0: every device of the AOR. */
  | { kind: 'unregister-all'; aor: string };

type HeaderReader = (name: string) => string | undefined;

function expiresOf(contact: NameAddr, header: HeaderReader, s: RegisterSettings): number | 'bad' {
  const raw = contact.params.get('expires') ?? header('Expires');
  if (raw === undefined || raw === null) return s.defaultExpires;
  if (!/^\d{1,10}$/.test(raw.trim())) return 'bad';
  return Number(raw.trim());
}

export function readRegister(header: HeaderReader, s: RegisterSettings): RegisterIntent {
  const to = parseNameAddr(header('To') ?? '');
  const toUri = to ? parseSipUri(to.uri) : undefined;
  const aor = toUri ? aorOf(toUri) : undefined;
  if (!aor) return { kind: 'reject', status: 400, reason: 'Bad To Header' };

  const contactHeader = header('Contact');
  if (contactHeader === undefined) {
    // A query for current bindings: pushwake keeps none of its own, the registrar has them.
    return { kind: 'reject', status: 403, reason: 'Binding Queries Not Supported' };
  }
  const contacts = parseContactList(contactHeader);
  if (contacts === undefined) return { kind: 'reject', status: 400, reason: 'Bad Contact Header' };
  if (contacts === '*') {
    return header('Expires')?.trim() === '0'
      ? { kind: 'unregister-all', aor }
      : { kind: 'reject', status: 400, reason: 'Contact * Requires Expires 0' };
  }
  // Phones register one contact; a second one would need its own upstream binding.
  if (contacts.length > 1) return { kind: 'reject', status: 400, reason: 'One Contact Per REGISTER' };
  const contact = contacts[0] as NameAddr;
  const contactUri = parseSipUri(contact.uri);
  if (!contactUri || contactUri.scheme === 'tel') return { kind: 'reject', status: 400, reason: 'Bad Contact URI' };

  const expires = expiresOf(contact, header, s);
  if (expires === 'bad') return { kind: 'reject', status: 400, reason: 'Bad Expires' };

  const push = readPushData(contact, contactUri.params, header, s);
  const instance = readInstanceId(contact.params.get('+sip.instance'));
  const instanceId = instance.kind === 'valid' ? instance.id : undefined;
  const deviceKey = deviceKeyOf(instanceId, push.kind === 'valid' ? push.push : undefined, contact.uri);
  const localContactUser = localContactUserOf(s.contactUserPrefix, aor, deviceKey);

  if (expires === 0) return { kind: 'unregister', aor, deviceKey, localContactUser, contactUri: contact.uri };
  if (push.kind === 'invalid' && push.unsupportedProvider) {
    // RFC 8599 4.1.1: not relayed; the phone learns which services this proxy supports
    return { kind: 'reject', status: 555, reason: 'Push Notification Service Not Supported', headers: { 'Feature-Caps': featureCapsPns(s.pns) } };
  }
  if (expires < s.minExpires) {
    return { kind: 'reject', status: 423, reason: 'Interval Too Brief', headers: { 'Min-Expires': String(s.minExpires) } };
  }
  const hint = header(s.pushHintHeader) ?? contactUri.params.get(s.pushHintParam.toLowerCase()) ?? contact.params.get(s.pushHintParam.toLowerCase());
  return {
    kind: 'register',
    aor,
    contact,
    deviceExpires: Math.min(expires, s.maxExpires),
    push,
    ...(instanceId ? { instanceId } : {}),
    ...(instance.kind === 'invalid' ? { identityWarning: instance.why } : {}),
    deviceKey,
    localContactUser,
    ...(hint && hint.length <= 128 ? { pushHint: hint } : {}),
    ...alertTokenOf(header, contact, contactUri.params, s),
  };
}

/** The app's regular APNs token, when it sent one that looks like one (hex, 64-200 digits). Pure. */
function alertTokenOf(header: HeaderReader, contact: NameAddr, uriParams: Map<string, string | null>, s: RegisterSettings): { alertToken?: string } {
  const name = s.alertTokenParam?.toLowerCase();
  const raw = (s.alertTokenHeader ? header(s.alertTokenHeader) : undefined) ?? (name ? uriParams.get(name) ?? contact.params.get(name) : undefined);
  const token = raw?.trim().toLowerCase();
  return token && /^(?:[0-9a-f]{2}){32,100}$/.test(token) ? { alertToken: token } : {};
}
