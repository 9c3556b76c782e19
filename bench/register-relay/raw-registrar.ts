/**
 * The upstream registrar of the REGISTER-relay benchmark, as a pure function from a datagram to
 * its answer: a REGISTER gets 401 with a digest challenge (realm = the To domain) when digest is
 * on and it carries no Authorization, else 200 OK. The 200 echoes the Via headers, From, To (with
 * a tag added), Call-ID and CSeq, the Contact with `;expires=<Expires or 3600>`, and Expires.
 * It stores nothing and checks no credentials: it must cost as little as possible, so the figures
 * are the relay's. String operations only, no SIP parser.
 */
import { uriHostOf } from './sip-text.js';

export interface RegistrarSettings {
  digest: boolean;
  /** the To tag of every answer */
  toTag: string;
  /** a fresh nonce for each challenge */
  nonce: () => string;
}

export interface RegistrarAnswer {
  status: 200 | 401;
  text: string;
}

/** What a REGISTER says that the answer needs. */
interface RegisterHead {
  vias: string;
  from?: string;
  to?: string;
  callId?: string;
  cseq?: string;
  contact?: string;
  expires?: string;
  authorized: boolean;
}

const DEFAULT_EXPIRES = '3600';

function readHead(text: string): RegisterHead {
  const head: RegisterHead = { vias: '', authorized: false };
  let line = text.indexOf('\r\n') + 2;
  while (line > 1 && line < text.length) {
    const end = text.indexOf('\r\n', line);
    if (end < 0 || end === line) break;
    const colon = text.indexOf(':', line);
    if (colon > line && colon < end) {
      const value = text.slice(colon + 1, end).trim();
      switch (text.slice(line, colon).trim().toLowerCase()) {
        case 'via': case 'v': head.vias += `Via: ${value}\r\n`; break;
        case 'from': case 'f': head.from = value; break;
        case 'to': case 't': head.to = value; break;
        case 'call-id': case 'i': head.callId = value; break;
        case 'cseq': head.cseq = value; break;
        case 'contact': case 'm': head.contact ??= value; break;
        case 'expires': head.expires = value; break;
        case 'authorization': head.authorized = true; break;
        default: break;
      }
    }
    line = end + 2;
  }
  return head;
}

/** `<sip:u@h;transport=udp>;expires=600` → `<sip:u@h;transport=udp>` (params after the URI dropped). */
function contactUri(value: string): string {
  const close = value.indexOf('>');
  if (close >= 0) return value.slice(0, close + 1);
  const semi = value.indexOf(';');
  return `<${(semi >= 0 ? value.slice(0, semi) : value).trim()}>`;
}

/** The answer to one datagram; undefined when it is not a REGISTER it can answer (ignored). */
export function answerRegister(text: string, s: RegistrarSettings): RegistrarAnswer | undefined {
  if (!text.startsWith('REGISTER ')) return undefined;
  const h = readHead(text);
  if (!h.vias || h.from === undefined || h.to === undefined || h.callId === undefined || h.cseq === undefined) return undefined;
  const to = /;\s*tag=/i.test(h.to) ? h.to : `${h.to};tag=${s.toTag}`;
  const common = `${h.vias}From: ${h.from}\r\nTo: ${to}\r\nCall-ID: ${h.callId}\r\nCSeq: ${h.cseq}\r\n`;
  if (s.digest && !h.authorized) {
    const realm = uriHostOf(h.to) ?? 'example.com';
    return {
      status: 401,
      text: `SIP/2.0 401 Unauthorized\r\n${common}WWW-Authenticate: Digest realm="${realm}", nonce="${s.nonce()}", algorithm=MD5\r\nContent-Length: 0\r\n\r\n`,
    };
  }
  const granted = h.expires !== undefined && /^\d+$/.test(h.expires) ? h.expires : DEFAULT_EXPIRES;
  const contact = h.contact !== undefined ? `Contact: ${contactUri(h.contact)};expires=${granted}\r\n` : '';
  return { status: 200, text: `SIP/2.0 200 OK\r\n${common}${contact}Expires: ${granted}\r\nContent-Length: 0\r\n\r\n` };
}
