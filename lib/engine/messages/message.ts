import { SipHeaders, splitHeaderList } from './headers.js';
import { parseNameAddr, tagOf } from './address.js';
import { parseVia, type Via } from './via.js';
import { SipParseError } from './errors.js';

const CRLF = '\r\n';

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string | undefined): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z!%*_+`'~.-]+)\s*$/.exec(value ?? '');
  if (!m || Number(m[1]) > 0xffffffff) throw new SipParseError('SIP_BAD_CSEQ', `bad CSeq: ${value ?? ''}`);
  return { seq: Number(m[1]), method: m[2]! };
}

abstract class SipMessageBase {
  headers = new SipHeaders();
  body: Buffer = Buffer.alloc(0);

  get callId(): string {
    return this.headers.get('call-id') ?? '';
  }
  get cseq(): CSeq {
    return parseCSeq(this.headers.get('cseq'));
  }
  get fromTag(): string | undefined {
    return tagOf(this.headers.get('from'));
  }
  get toTag(): string | undefined {
    return tagOf(this.headers.get('to'));
  }
  /** the parsed top Via, keyed by the raw first Via header value it came from */
  private viaCache?: { raw: string; via: Via };

  /**
   * Parsed once per raw value: headers are mutable (set/prepend, or an entry's value assigned
   * in place), so the cache is checked against the current first Via value on every access.
   * Treat the result as read-only.
   */
  get topVia(): Via {
    const raw = this.headers.entries.find((h) => h.name === 'via')?.value;
    if (raw === undefined) throw new SipParseError('SIP_MISSING_HEADER', 'missing Via');
    const cached = this.viaCache;
    if (cached && cached.raw === raw) return cached.via;
    // an empty first entry: the first non-empty value, as getAll would give
    const v = (raw.includes(',') ? splitHeaderList(raw)[0] : raw.trim()) || this.headers.getAll('via')[0];
    if (!v) throw new SipParseError('SIP_MISSING_HEADER', 'missing Via');
    const via = parseVia(v);
    this.viaCache = { raw, via };
    return via;
  }
  get vias(): string[] {
    return this.headers.getAll('via');
  }
  /** The first Contact's URI; undefined when there is none or it does not parse (never throws). */
  contactUri(): string | undefined {
    const c = this.headers.getAll('contact')[0];
    if (!c) return undefined;
    try {
      return parseNameAddr(c).uri;
    } catch {
      return undefined;
    }
  }

  protected abstract startLine(): string;

  /** what serialize() last produced */
  private lastWire?: Buffer;

  /**
   * The bytes this message was last serialized to (by the transport, when it sent it), so
   * reporting a sent message to the app does not serialize it again. Serializes if never done;
   * call it right after sending, before the message is changed.
   */
  wire(): Buffer {
    return this.lastWire ?? this.serialize();
  }

  /** Serializes with each header's own spelling and a correct Content-Length. */
  serialize(): Buffer {
    this.lastWire = this.build();
    return this.lastWire;
  }

  private build(): Buffer {
    const lines = [this.startLine()];
    for (const h of this.headers.entries) {
      if (h.name === 'content-length') continue;
      lines.push(`${h.spelling}: ${h.value}`);
    }
    lines.push(`Content-Length: ${this.body.length}`);
    const head = Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'utf8');
    return this.body.length ? Buffer.concat([head, this.body]) : head;
  }

  toString(): string {
    return this.serialize().toString('utf8');
  }
}

export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  constructor(public method: string, public uri: string) {
    super();
  }
  protected startLine(): string {
    return `${this.method} ${this.uri} SIP/2.0`;
  }
  clone(): SipRequest {
    const r = new SipRequest(this.method, this.uri);
    r.headers = this.headers.clone();
    r.body = this.body;
    return r;
  }
}

export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  constructor(public status: number, public reason: string) {
    super();
  }
  protected startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }
}

export type SipMessage = SipRequest | SipResponse;

export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 407: 'Proxy Authentication Required',
  408: 'Request Timeout', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected', 483: 'Too Many Hops', 486: 'Busy Here', 487: 'Request Terminated',
  488: 'Not Acceptable Here', 491: 'Request Pending', 500: 'Server Internal Error',
  501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Server Time-out', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Provisional' : status < 300 ? 'OK' : 'Error');
}

/**
 * Builds a response to a request per RFC 3261 8.2.6: Via, From, To, Call-ID and CSeq are copied.
 * The To tag is added when given and the request's To has none.
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const res = new SipResponse(status, reason ?? reasonPhrase(status));
  for (const via of req.headers.entries.filter((h) => h.name === 'via')) res.headers.append('via', via.value);
  for (const name of ['from', 'to', 'call-id', 'cseq']) {
    const v = req.headers.get(name);
    if (v !== undefined) res.headers.append(name, v);
  }
  const to = res.headers.get('to');
  if (toTag && to !== undefined && !tagOf(to) && status > 100) res.headers.set('to', `${to};tag=${toTag}`);
  return res;
}
