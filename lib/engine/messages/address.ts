import { SipParseError } from './errors.js';
import { paramRecord } from './params.js';

/** A name-addr or addr-spec header value (From, To, Contact, Route, Record-Route). */
export interface NameAddr {
  displayName?: string;
  uri: string;
  /** header parameters (tag, expires, lr ...), lower-cased names */
  params: Record<string, string>;
}

/**
 * Where a quoted display name at the start of `text` ends (after its closing quote): 0 when
 * there is none, undefined when its quote is never closed. Pure; shared with pushwake's own
 * tolerant parser (lib/sip/name-addr.ts).
 */
export function quotedDisplayNameEnd(text: string): number | undefined {
  if (!text.startsWith('"')) return 0;
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return undefined;
}

function quotedEnd(text: string): number {
  const end = quotedDisplayNameEnd(text);
  if (end === undefined) throw new SipParseError('SIP_BAD_HEADER', `unterminated quoted display name: ${text.slice(0, 80)}`);
  return end;
}

export function parseNameAddr(value: string): NameAddr {
  const text = value.trim();
  if (text === '*') return { uri: '*', params: {} };
  // a < inside the quoted display name is not where the URI starts
  const lt = text.indexOf('<', quotedEnd(text));
  if (lt >= 0) {
    const gt = text.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('SIP_BAD_HEADER', `unterminated <: ${text}`);
    let display = text.slice(0, lt).trim();
    if (display.startsWith('"') && display.endsWith('"') && display.length >= 2) display = display.slice(1, -1);
    const uri = text.slice(lt + 1, gt).trim();
    if (!uri) throw new SipParseError('SIP_BAD_HEADER', `empty uri: ${text}`);
    return { displayName: display || undefined, uri, params: paramRecord(text.slice(gt + 1)) };
  }
  // addr-spec: parameters after the URI belong to the header (RFC 3261 20.10)
  const semi = text.indexOf(';');
  const uri = (semi < 0 ? text : text.slice(0, semi)).trim();
  if (!uri || /\s/.test(uri)) throw new SipParseError('SIP_BAD_HEADER', `bad address: ${text}`);
  return { uri, params: semi < 0 ? {} : paramRecord(text.slice(semi + 1)) };
}

export function tagOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return parseNameAddr(value).params['tag'] || undefined;
  } catch {
    return undefined;
  }
}

/** Appends ;tag=... to a From/To value that has none. */
export function withTag(value: string, tag: string): string {
  return tagOf(value) ? value : `${value.trim()};tag=${tag}`;
}
