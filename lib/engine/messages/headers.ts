/** RFC 3261 7.3.3 compact forms, plus the ones later RFCs added. */
const COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', r: 'refer-to',
  b: 'referred-by', u: 'allow-events', x: 'session-expires', a: 'accept-contact',
  j: 'reject-contact', d: 'request-disposition', y: 'identity', n: 'identity-info',
};

const CANONICAL_SPELLING: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID', cseq: 'CSeq', www: 'WWW', 'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version', rseq: 'RSeq', rack: 'RAck', 'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
};

/** Header names whose values are comma-separated lists that can be split safely. */
const LIST_HEADERS = new Set(['via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require']);

export function normalizeHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return COMPACT_FORMS[lower] ?? lower;
}

export function canonicalHeaderName(name: string): string {
  const key = normalizeHeaderName(name);
  const special = CANONICAL_SPELLING[key];
  if (special) return special;
  return key.split('-').map((p) => (p ? p[0]!.toUpperCase() + p.slice(1) : p)).join('-');
}

/** Splits on `sep` outside quoted strings and angle brackets (RFC 3261 7.3.1); parts untrimmed. */
export function splitOutside(value: string, sep: string): string[] {
  const parts: string[] = [];
  let depthAngle = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '<') depthAngle++;
    else if (ch === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === sep && depthAngle === 0) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** Splits a header value on commas that are outside quotes and angle brackets. */
export function splitHeaderList(value: string): string[] {
  return splitOutside(value, ',').map((p) => p.trim()).filter((p) => p.length > 0);
}

export interface SipHeader {
  /** normalized (lower-case, compact forms expanded) */
  readonly name: string;
  /**
   * The spelling to put on the wire: as the sender or the app wrote it (some clients look
   * extension headers up case-sensitively, e.g. `X-PushHint`), canonical for compact forms.
   */
  readonly spelling: string;
  value: string;
}

/**
 * The header names most messages carry, in the spellings senders use, each mapped to one shared
 * (normalized name, spelling) pair. A parsed header then points at these strings instead of two
 * new ones per header per message: a parked call keeps its INVITE until the final response, and
 * these were a tenth of its heap. Fixed at load, so no input can grow it.
 */
const COMMON_NAMES: ReadonlyMap<string, { name: string; spelling: string }> = (() => {
  const table = new Map<string, { name: string; spelling: string }>();
  const spellings = [
    'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Max-Forwards', 'Content-Type', 'Content-Length',
    'Route', 'Record-Route', 'User-Agent', 'Server', 'Allow', 'Supported', 'Require', 'Expires',
    'Authorization', 'WWW-Authenticate', 'Proxy-Authorization', 'Proxy-Authenticate', 'Reason', 'Date',
    'Min-Expires', 'Retry-After', 'Event', 'Subscription-State', 'Accept', 'Allow-Events', 'Session-Expires',
    'Min-SE', 'P-Asserted-Identity', 'Remote-Party-ID', 'Diversion', 'Privacy', 'Warning', 'Feature-Caps',
    'X-Token', 'X-PushHint', 'X-CallUUID',
  ];
  for (const spelling of spellings) {
    const entry = { name: spelling.toLowerCase(), spelling };
    table.set(spelling, entry);
    table.set(entry.name, { name: entry.name, spelling: canonicalHeaderName(entry.name) });
  }
  for (const [compact, name] of Object.entries(COMPACT_FORMS)) {
    const entry = { name, spelling: canonicalHeaderName(name) };
    table.set(compact, entry);
    table.set(compact.toUpperCase(), entry);
  }
  return table;
})();

/** Compact forms and all-lower-case names (the engine's own) get the canonical spelling. */
function spellingOf(name: string): string {
  const trimmed = name.trim();
  const lower = trimmed.toLowerCase();
  return COMPACT_FORMS[lower] !== undefined || trimmed === lower ? canonicalHeaderName(trimmed) : trimmed;
}

function headerOf(name: string, value: string): SipHeader {
  const common = COMMON_NAMES.get(name);
  return common ? { name: common.name, spelling: common.spelling, value } : { name: normalizeHeaderName(name), spelling: spellingOf(name), value };
}

/** Ordered header list with case-insensitive, compact-form-aware lookup. */
export class SipHeaders {
  private readonly list: SipHeader[] = [];

  get entries(): readonly SipHeader[] {
    return this.list;
  }

  has(name: string): boolean {
    const key = normalizeHeaderName(name);
    return this.list.some((h) => h.name === key);
  }

  /** First value of the header, or undefined. */
  get(name: string): string | undefined {
    const key = normalizeHeaderName(name);
    return this.list.find((h) => h.name === key)?.value;
  }

  /** Every value, with list headers split on top-level commas. */
  getAll(name: string): string[] {
    const key = normalizeHeaderName(name);
    const values = this.list.filter((h) => h.name === key).map((h) => h.value);
    if (!LIST_HEADERS.has(key)) return values;
    return values.flatMap(splitHeaderList);
  }

  append(name: string, value: string): void {
    this.list.push(headerOf(name, value));
  }

  prepend(name: string, value: string): void {
    this.list.unshift(headerOf(name, value));
  }

  /** Replaces every occurrence with one value, keeping the first position. */
  set(name: string, value: string): void {
    const key = normalizeHeaderName(name);
    const idx = this.list.findIndex((h) => h.name === key);
    this.remove(key);
    const header = headerOf(name, value);
    if (idx < 0) this.list.push(header);
    else this.list.splice(Math.min(idx, this.list.length), 0, header);
  }

  remove(name: string): void {
    const key = normalizeHeaderName(name);
    for (let i = this.list.length - 1; i >= 0; i--) {
      if (this.list[i]!.name === key) this.list.splice(i, 1);
    }
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const h of this.list) copy.append(h.spelling, h.value);
    return copy;
  }
}
