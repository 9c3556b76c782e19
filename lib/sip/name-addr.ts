/**
 * Parsing of the header shapes pushwake reads itself (Contact, To, From, P-Asserted-Identity):
 * tolerant of what phones send, and never throwing on hostile input: a value that cannot be
 * parsed yields undefined.
 */
import { quotedDisplayNameEnd } from '../engine/messages/address.js';
import { splitOutside } from '../engine/messages/headers.js';
import { paramEntries } from '../engine/messages/params.js';

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  user?: string;
  host: string;
  port?: number;
  /** URI parameters (`;name=value`), names lower-cased, values as sent (null when bare). */
  params: Map<string, string | null>;
}

export interface NameAddr {
  displayName?: string;
  /** The URI text, without angle brackets. */
  uri: string;
  /** Header parameters after the URI (`;expires=60;+sip.instance="<urn:...>"`). */
  params: Map<string, string | null>;
}

/** Longest header value pushwake parses; longer ones are treated as unparseable. */
export const MAX_PARSED_HEADER = 8192;

/** Parameters as pushwake reads them: a flag is null, a quoted value is unquoted, the first of a repeated name wins. */
export function parseParams(text: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  for (const [name, raw] of paramEntries(text)) {
    const value = raw !== null && raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    if (!params.has(name)) params.set(name, value);
  }
  return params;
}

/** Parse one name-addr or addr-spec (`"Bob" <sip:bob@x>;tag=1` or `sip:bob@x;tag=1`). */
export function parseNameAddr(value: string): NameAddr | undefined {
  if (value.length > MAX_PARSED_HEADER) return undefined;
  const v = value.trim();
  // a < inside the quoted display name is not where the URI starts
  const quoted = quotedDisplayNameEnd(v);
  if (quoted === undefined) return undefined;
  const lt = v.indexOf('<', quoted);
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) return undefined;
    let displayName = v.slice(0, lt).trim();
    if (displayName.startsWith('"') && displayName.endsWith('"') && displayName.length >= 2) {
      displayName = displayName.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    const uri = v.slice(lt + 1, gt).trim();
    if (!uri) return undefined;
    const rest = v.slice(gt + 1).trim();
    if (rest && !rest.startsWith(';')) return undefined;
    return { ...(displayName ? { displayName } : {}), uri, params: parseParams(rest) };
  }
  // addr-spec: header params start at the first ';' (URI params cannot be told apart, RFC 3261 20).
  const semi = v.indexOf(';');
  const uri = (semi < 0 ? v : v.slice(0, semi)).trim();
  if (!uri || /\s/.test(uri)) return undefined;
  return { uri, params: parseParams(semi < 0 ? '' : v.slice(semi)) };
}

/** Parse a Contact header value: a list of name-addrs, or `*`. */
export function parseContactList(value: string): NameAddr[] | '*' | undefined {
  if (value.trim() === '*') return '*';
  if (value.length > MAX_PARSED_HEADER) return undefined;
  const out: NameAddr[] = [];
  for (const part of splitOutside(value, ',')) {
    if (!part.trim()) continue;
    const na = parseNameAddr(part);
    if (!na) return undefined;
    out.push(na);
  }
  return out.length ? out : undefined;
}

/** Parse a sip:, sips: or tel: URI. */
export function parseSipUri(text: string): SipUri | undefined {
  if (text.length > MAX_PARSED_HEADER) return undefined;
  const m = /^(sips?|tel):(.*)$/i.exec(text.trim());
  if (!m) return undefined;
  const scheme = (m[1] ?? '').toLowerCase() as SipUri['scheme'];
  let rest = m[2] ?? '';
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  const semi = rest.indexOf(';');
  const params = parseParams(semi < 0 ? '' : rest.slice(semi));
  const userHost = semi < 0 ? rest : rest.slice(0, semi);
  if (scheme === 'tel') {
    return userHost ? { scheme, user: userHost, host: '', params } : undefined;
  }
  const at = userHost.lastIndexOf('@');
  const user = at >= 0 ? userHost.slice(0, at) : undefined;
  const hostPort = at >= 0 ? userHost.slice(at + 1) : userHost;
  const hp = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(hostPort);
  if (!hp || (user !== undefined && (user === '' || /[\s<>"]/.test(user)))) return undefined;
  const port = hp[2] === undefined ? undefined : Number(hp[2]);
  if (port !== undefined && port > 65535) return undefined;
  return {
    scheme,
    ...(user !== undefined ? { user: user.split(':')[0] ?? user } : {}),
    host: (hp[1] ?? '').toLowerCase(),
    ...(port !== undefined ? { port } : {}),
    params,
  };
}

/** The address of record of a URI: `sip:user@host`, no port or params. */
export function aorOf(uri: SipUri): string | undefined {
  if (uri.scheme === 'tel' || !uri.user) return undefined;
  return `${uri.scheme}:${uri.user}@${uri.host}`;
}
