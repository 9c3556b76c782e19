import { isIPv6 } from 'node:net';
import { SipParseError } from './errors.js';
import { paramRecord } from './params.js';

/** RFC 3261 25.1 hostname (underscores tolerated, as real deployments use them) or IPv4 address. */
const HOSTNAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** True for a host as it may stand in a SIP URI or Via: a hostname, IPv4, or a bracketed IPv6 reference. */
export function isValidHost(host: string): boolean {
  if (host.startsWith('[')) return host.endsWith(']') && isIPv6(host.slice(1, -1));
  return HOSTNAME_RE.test(host);
}

export interface SipUri {
  scheme: string;
  user?: string;
  password?: string;
  host: string;
  port?: number;
  /** lower-cased parameter names; value '' for flag parameters */
  params: Record<string, string>;
  headers?: string;
}

const SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;


function splitHostPort(hostport: string): { host: string; port?: number } {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) throw new SipParseError('SIP_BAD_URI', `bad IPv6 reference: ${hostport}`);
    const rest = hostport.slice(end + 1);
    const host = hostport.slice(0, end + 1);
    if (!rest) return { host };
    if (!rest.startsWith(':')) throw new SipParseError('SIP_BAD_URI', `bad host: ${hostport}`);
    return { host, port: parsePort(rest.slice(1)) };
  }
  const colon = hostport.lastIndexOf(':');
  if (colon < 0) return { host: hostport };
  return { host: hostport.slice(0, colon), port: parsePort(hostport.slice(colon + 1)) };
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new SipParseError('SIP_BAD_URI', `bad port: ${text}`);
  const port = Number(text);
  if (port > 65535) throw new SipParseError('SIP_BAD_URI', `bad port: ${text}`);
  return port;
}

/** Parses sip:/sips: URIs fully; other schemes keep everything after ':' in host. */
export function parseUri(text: string): SipUri {
  const trimmed = text.trim();
  const m = SCHEME_RE.exec(trimmed);
  if (!m) throw new SipParseError('SIP_BAD_URI', `missing scheme: ${trimmed}`);
  const scheme = m[1]!.toLowerCase();
  let rest = trimmed.slice(m[0].length);
  if (scheme !== 'sip' && scheme !== 'sips') return { scheme, host: rest, params: {} };
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) { headers = rest.slice(q + 1); rest = rest.slice(0, q); }
  const at = rest.lastIndexOf('@');
  let user: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    // every % in userinfo starts an escape of two hex digits (RFC 3261 25.1)
    if (/%(?![0-9A-Fa-f]{2})/.test(userinfo)) throw new SipParseError('SIP_BAD_URI', `bad escape in user part: ${userinfo.slice(0, 40)}`);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (colon >= 0) password = userinfo.slice(colon + 1);
  }
  const semi = rest.indexOf(';');
  const hostport = semi < 0 ? rest : rest.slice(0, semi);
  const params = semi < 0 ? {} : paramRecord(rest.slice(semi + 1));
  if (!hostport || /[\s<>"]/.test(hostport)) throw new SipParseError('SIP_BAD_URI', `bad host: ${trimmed}`);
  const { host, port } = splitHostPort(hostport);
  if (!host) throw new SipParseError('SIP_BAD_URI', `empty host: ${trimmed}`);
  if (!isValidHost(host)) throw new SipParseError('SIP_BAD_URI', `bad host: ${trimmed.slice(0, 80)}`);
  return { scheme, user, password, host, port, params, headers };
}

/** The transport a URI asks for (RFC 3263 simplified: no DNS, explicit param or scheme). */
export function uriTransport(uri: SipUri): 'udp' | 'tcp' | 'tls' | 'ws' | 'wss' {
  const t = uri.params['transport']?.toLowerCase();
  if (t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss' || t === 'udp') return t;
  return uri.scheme === 'sips' ? 'tls' : 'udp';
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
