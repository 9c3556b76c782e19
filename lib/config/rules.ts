import { isIP } from 'node:net';

/**
 * Per-key validation rules. The key set itself comes from DEFAULTS (defaults.ts): a key absent
 * there is unknown. A rule returns an error message, or undefined when the value is fine.
 */
export type Rule = (value: unknown) => string | undefined;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export const int = (min: number, max: number): Rule => (v) =>
  isInt(v) && v >= min && v <= max ? undefined : `must be an integer from ${min} to ${max}`;
export const str: Rule = (v) => (typeof v === 'string' ? undefined : 'must be a string');
export const nonEmpty: Rule = (v) =>
  typeof v === 'string' && v.length > 0 ? undefined : 'must be a non-empty string';
export const bool: Rule = (v) => (typeof v === 'boolean' ? undefined : 'must be true or false');
export const oneOf = (...values: string[]): Rule => (v) =>
  typeof v === 'string' && values.includes(v) ? undefined : `must be one of: ${values.join(', ')}`;
export const sipUri: Rule = (v) =>
  typeof v === 'string' && /^sips?:[^\s]+$/i.test(v) ? undefined : 'must be a SIP URI (sip:host[:port])';
export const headerName: Rule = (v) =>
  typeof v === 'string' && /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v) ? undefined : 'must be a SIP header name';
export const uriParamName: Rule = (v) =>
  typeof v === 'string' && /^[A-Za-z0-9._~+-]+$/.test(v) ? undefined : 'must be a URI parameter name';
export const plainObject: Rule = (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'must be an object';

/** host:port with an IPv4 address, [IPv6] or a name; '' allowed when `optional`. Port 0 only for listening. */
export const hostPort = (optional: boolean): Rule => (v) => {
  if (optional && v === '') return undefined;
  const m = typeof v === 'string' ? /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v) : null;
  return m && Number(m[2]) <= 65535 ? undefined : `must be host:port${optional ? ', or "" for none' : ''}`;
};

/**
 * A prompt FreeSWITCH plays: an absolute path on the media server (a WAV, 8 kHz for PCMU/PCMA
 * calls), or a tone_stream:// or silence_stream:// spec. '!' is FreeSWITCH's playback delimiter,
 * so it may not appear; '' allowed when `optional` (then another prompt stands in).
 */
export const prompt = (optional: boolean): Rule => (v) => {
  if (optional && v === '') return undefined;
  if (typeof v !== 'string' || v.length > 1024 || /[!\r\n\0]/.test(v) || !/^(\/\S|tone_stream:\/\/\S|silence_stream:\/\/\d)/.test(v)) {
    return `must be an absolute file path on the media server, a tone_stream:// or a silence_stream:// spec${optional ? ', or ""' : ''} (no "!", at most 1024 characters)`;
  }
  return undefined;
};

export const cidrList: Rule = (v) => {
  if (!Array.isArray(v)) return 'must be a list of addresses or CIDRs';
  for (const item of v) {
    if (typeof item !== 'string' || !isCidr(item)) return `has an invalid address or CIDR: ${JSON.stringify(item)}`;
  }
  return undefined;
};

function isCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const BUNDLE = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

export const apnsApps: Rule = (v) => {
  if (!Array.isArray(v)) return 'must be a list of { topics, keyFile, keyId, teamId }';
  for (const [i, item] of v.entries()) {
    if (typeof item !== 'object' || item === null) return `[${i}] must be an object`;
    const e = item as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !['topics', 'keyFile', 'keyId', 'teamId', 'certFile', 'certKeyFile', 'certPassphrase'].includes(k));
    if (unknown.length > 0) return `[${i}] has unknown key ${unknown[0]}`;
    const topics = e['topics'];
    if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string' && BUNDLE.test(t))) return `[${i}].topics must be a non-empty list of bundle ids`;
    for (const k of ['keyFile', 'keyId', 'teamId', 'certFile', 'certKeyFile', 'certPassphrase']) if (e[k] !== undefined && typeof e[k] !== 'string') return `[${i}].${k} must be a string`;
    if (e['certFile']) continue;
    for (const k of ['keyFile', 'keyId', 'teamId']) if (typeof e[k] !== 'string' || e[k] === '') return `[${i}].${k} is required (or certFile, for certificate auth)`;
  }
  return undefined;
};

export const listenList: Rule = (v) => {
  if (!Array.isArray(v) || v.length === 0) return 'must be a non-empty list of {address, port, transports}';
  for (const [i, item] of v.entries()) {
    if (typeof item !== 'object' || item === null) return `[${i}] must be an object`;
    const e = item as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !['address', 'port', 'transports', 'tlsPort'].includes(k));
    if (unknown.length > 0) return `[${i}] has unknown key ${unknown[0]}`;
    if (typeof e['address'] !== 'string' || isIP(e['address']) === 0) return `[${i}].address must be an IP address`;
    if (int(0, 65535)(e['port']) !== undefined) return `[${i}].port must be an integer from 0 to 65535`;
    const t = e['transports'];
    if (!Array.isArray(t) || t.length === 0 || t.some((x) => x !== 'udp' && x !== 'tcp' && x !== 'tls')) {
      return `[${i}].transports must be a non-empty list of udp, tcp, tls`;
    }
    if (e['tlsPort'] !== undefined && int(0, 65535)(e['tlsPort']) !== undefined) return `[${i}].tlsPort must be an integer from 0 to 65535`;
    if (e['tlsPort'] !== undefined && !t.includes('tls')) return `[${i}].tlsPort is set but tls is not in transports`;
  }
  return undefined;
};

/** Rules by dotted key. Every key in DEFAULTS (and config/pushwake.yaml) has one. */
export const rules: Record<string, Rule> = {
  'sip.listen': listenList,
  'sip.advertisedHost': str,
  'sip.advertisedTransport': oneOf('', 'udp', 'tcp', 'tls'),
  'sip.tlsCertFile': str,
  'sip.tlsKeyFile': str,
  'sip.tlsCaFile': str,
  'sip.tlsWatchFiles': bool,
  'engine.mode': oneOf('embedded', 'external'),
  'engine.appLink': oneOf('in-process', 'tcp'),
  'engine.host': nonEmpty,
  'engine.port': int(0, 65535),
  'engine.secret': nonEmpty,
  'engine.maxMessageBytes': int(1024, 1_048_576),
  'engine.perSourceRatePerSec': int(1, 1_000_000),
  'engine.trustedSourceRatePerSec': int(1, 1_000_000),
  'engine.untrustedRatePerSec': int(1, 10_000_000),
  'engine.tcpHeaderTimeoutMs': int(100, 600_000),
  'engine.tcpIdleMs': int(1000, 86_400_000),
  'engine.connectTimeoutMs': int(100, 120_000),
  'engine.maxConnections': int(1, 1_000_000),
  'engine.udpReceiveBufferBytes': int(65_536, 268_435_456),
  'engine.maxTransactions': int(1000, 10_000_000),
  'upstream.registrar': sipUri,
  'upstream.registerExpires': int(60, 604_800),
  'upstream.trustedSources': cidrList,
  'upstream.registerTimeoutMs': int(100, 120_000),
  'registration.tokenHeader': headerName,
  'registration.tokenParam': uriParamName,
  'registration.defaultTopic': str,
  'registration.alertTokenHeader': headerName,
  'registration.alertTokenParam': uriParamName,
  'registration.defaultEnvironment': oneOf('production', 'development'),
  'registration.minExpires': int(0, 86_400),
  'registration.maxExpires': int(1, 604_800),
  'registration.defaultExpires': int(1, 604_800),
  'registration.contactUserPrefix': uriParamName,
  'apns.keyFile': str,
  'apns.keyId': str,
  'apns.teamId': str,
  'apns.host': str,
  'apns.port': int(1, 65535),
  'apns.caFile': str,
  'apns.requestTimeoutMs': int(100, 60_000),
  'apns.ttlSeconds': int(0, 3600),
  'apns.retryBaseDelayMs': int(1, 60_000),
  'apns.retryMaxAttempts': int(1, 20),
  'apns.certFile': str,
  'apns.certKeyFile': str,
  'apns.certPassphrase': str,
  'apns.topics': (v) => (Array.isArray(v) && v.every((t) => typeof t === 'string' && BUNDLE.test(t)) ? undefined : 'must be a list of bundle ids'),
  'apns.apps': apnsApps,
  'fcm.serviceAccountFile': str,
  'fcm.moreServiceAccountFiles': (v) => (Array.isArray(v) && v.every((f) => typeof f === 'string' && f !== '') ? undefined : 'must be a list of file paths'),
  'fcm.endpoint': (v) => (typeof v === 'string' && (v === '' || /^https:\/\/[^\s/]+$/.test(v)) ? undefined : 'must be an https:// origin, or ""'),
  'fcm.tokenUri': (v) => (typeof v === 'string' && (v === '' || /^https:\/\/\S+$/.test(v)) ? undefined : 'must be an https:// URL, or ""'),
  'fcm.caFile': str,
  'fcm.requestTimeoutMs': int(100, 60_000),
  'call.wakeTimeoutMs': int(1000, 300_000),
  'call.ringTimeoutMs': int(1000, 3_600_000),
  'call.sendRinging': bool,
  'call.maxParkedCalls': int(1, 1_000_000),
  'call.retryAfterSeconds': int(1, 3600),
  'call.skipPushWithinSeconds': int(0, 86_400),
  'call.pushHintHeader': headerName,
  'call.pushHintParam': uriParamName,
  'call.callUuidHeader': headerName,
  'call.payloadTemplate': plainObject,
  'alerts.missedCall': bool,
  'alerts.answeredElsewhere': bool,
  'alerts.ttlSeconds': int(0, 30 * 86_400),
  'alerts.missedCallTemplate': plainObject,
  'alerts.answeredElsewhereTemplate': plainObject,
  'devices.suspectAfterUnansweredPushes': int(0, 100),
  'devices.suspectedPushIntervalSeconds': int(10, 86_400),
  'devices.maxVoipPushesPerMinute': int(0, 1000),
  'endedNotice.mode': oneOf('invite-cancel', 'message', 'push', 'off'),
  'endedNotice.windowSeconds': int(0, 86_400),
  'media.enabled': bool,
  'media.eventSocket': hostPort(false),
  'media.eventSocketSecret': nonEmpty,
  'media.profile': (v) => (typeof v === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(v) ? undefined : 'must be a sofia profile name (letters, digits, dots, dashes, underscores)'),
  'media.sipAddress': hostPort(true),
  'media.callbackListen': hostPort(false),
  'media.callbackAdvertise': hostPort(true),
  'media.setupTimeoutMs': int(50, 10_000),
  'media.maxAnnouncements': int(1, 100_000),
  'media.wakePrompt': prompt(false),
  'media.wakePlayback': oneOf('loop', 'once-then-ringback'),
  'media.ringback': prompt(false),
  'media.unreachablePrompt': prompt(true),
  'media.pushFailedPrompt': prompt(true),
  'media.closingPromptMaxMs': int(0, 120_000),
  'store.kind': oneOf('embedded', 'redis'),
  'store.path': nonEmpty,
  'store.url': nonEmpty,
  'store.keyPrefix': str,
  'store.sentinels': (v) => (Array.isArray(v) && v.length <= 32 && v.every((x) => typeof x === 'string' && /^\[?[^\s\]]+?\]?:\d{1,5}$/.test(x) && Number(x.slice(x.lastIndexOf(':') + 1)) <= 65535)
    ? undefined : 'must be a list of up to 32 "host:port" entries'),
  'store.sentinelMasterName': nonEmpty,
  'store.unavailableRetryAfterSeconds': int(1, 3600),
  'cluster.nodeId': (v) => (typeof v === 'string' && /^[A-Za-z0-9._-]{0,64}$/.test(v) ? undefined : 'must be up to 64 letters, digits, dots, dashes or underscores'),
  'cluster.relayHost': str,
  'cluster.secret': str,
  'cluster.nodeTimeoutSeconds': int(1, 300),
  'admin.listen': (v) => (typeof v === 'string' && (v === '' || /^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):\d{1,5}$/.test(v)) ? undefined : 'must be host:port (an IP address, or localhost), or "" for none'),
  'admin.token': str,
  'log.format': oneOf('auto', 'json', 'pretty'),
  'log.level': oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace'),
};
