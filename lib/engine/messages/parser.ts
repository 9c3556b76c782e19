import { SipParseError } from './errors.js';
import { parseCSeq, SipRequest, SipResponse, type SipMessage } from './message.js';
import { parseNameAddr } from './address.js';
import { parseUri } from './uri.js';
import { parseVia } from './via.js';

export type ParseResult =
  | { ok: true; message: SipMessage }
  /** partial carries whatever headers were readable, so a 400 can still be routed back */
  | { ok: false; error: SipParseError; partial?: SipMessage };

export interface ParseOptions {
  /** UDP: body is the rest of the datagram, truncated to Content-Length (RFC 3261 18.3) */
  datagram: boolean;
}

const TOKEN_RE = /^[A-Za-z0-9!%*_+`'~.-]+$/;
const REQUEST_LINE_RE = /^([A-Za-z0-9!%*_+`'~.-]+) (\S+) SIP\/2\.0$/;
const STATUS_LINE_RE = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/;
// Control characters other than HT, LF, CR never appear in a SIP header section.
// eslint-disable-next-line no-control-regex
const BINARY_RE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

function splitHead(buf: Buffer): { head: string; body: Buffer } {
  let idx = buf.indexOf('\r\n\r\n');
  let sep = 4;
  if (idx < 0) { idx = buf.indexOf('\n\n'); sep = 2; }
  if (idx < 0) return { head: buf.toString('latin1'), body: Buffer.alloc(0) };
  return { head: buf.subarray(0, idx).toString('utf8'), body: buf.subarray(idx + sep) };
}

/** Unfolds continuation lines (RFC 3261 7.3.1) and returns raw header lines. */
function headerLines(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) {
      out[out.length - 1] += ' ' + line.trim();
    } else out.push(line);
  }
  return out;
}

function startMessage(line: string): SipMessage {
  const req = REQUEST_LINE_RE.exec(line);
  // Methods are case-sensitive (RFC 3261 7.1): `options` is an unknown extension method, not OPTIONS.
  if (req) return new SipRequest(req[1]!, req[2]!);
  const res = STATUS_LINE_RE.exec(line);
  if (res) return new SipResponse(Number(res[1]), res[2] ?? '');
  throw new SipParseError('SIP_BAD_START_LINE', `bad start line: ${line.slice(0, 80)}`);
}

/**
 * A stand-in request holding the header lines that parse, for answering an unparseable message.
 * Never for what looks like a response: responses are not answered.
 */
function readableStub(startLine: string, rawHeaders: string[]): SipRequest | undefined {
  if (/^SIP\//i.test(startLine)) return undefined;
  const stub = new SipRequest('UNKNOWN', 'sip:invalid');
  try { addHeaders(stub, rawHeaders); } catch { return undefined; }
  return stub;
}

function addHeaders(msg: SipMessage, lines: string[]): void {
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (!name || !TOKEN_RE.test(name)) {
      throw new SipParseError('SIP_BAD_HEADER', `bad header line: ${line.slice(0, 80)}`);
    }
    msg.headers.append(name, line.slice(colon + 1).trim());
  }
}

/** Headers a message carries once (RFC 3261 7.3.1: not comma lists). */
const SINGLE_VALUED = ['from', 'to', 'call-id', 'cseq', 'max-forwards'];
/**
 * RFC 3261 25.1 Call-ID: word ["@" word]. Visible characters only, and never `|`, which RFC 3261
 * does not allow there and which delimits fields on the drachtio wire (dialog ids carry the Call-ID).
 */
const CALL_ID_RE = /^[!-{}~]+$/;
/** Request-URI schemes a SIP server takes (RFC 3261 8.2.2.1); others are answered 416. */
const REQUEST_URI_SCHEMES = new Set(['sip', 'sips', 'tel']);

function validate(msg: SipMessage): void {
  for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!msg.headers.get(name)) throw new SipParseError('SIP_MISSING_HEADER', `missing ${name}`);
  }
  for (const name of SINGLE_VALUED) {
    // Peers that take different copies disagree on who the dialog is with (a smuggling cousin)
    const distinct = new Set(msg.headers.getAll(name).map((v) => v.trim()));
    if (distinct.size > 1) throw new SipParseError('SIP_DUPLICATE_HEADER', `${name} appears ${distinct.size} times with different values`);
  }
  for (const via of msg.headers.getAll('via')) parseVia(via);
  for (const name of ['from', 'to']) {
    const addr = parseNameAddr(msg.headers.get(name)!);
    if (addr.params['tag'] === '') throw new SipParseError('SIP_BAD_HEADER', `empty ${name} tag`);
  }
  if (!CALL_ID_RE.test(msg.headers.get('call-id')!)) throw new SipParseError('SIP_BAD_HEADER', 'Call-ID has white space, control characters or |');
  // a Contact that does not parse would fail the dialog it forms, after the transaction began
  for (const contact of msg.headers.getAll('contact')) {
    if (contact.trim() !== '*') parseNameAddr(contact);
  }
  const cseq = parseCSeq(msg.headers.get('cseq'));
  if (msg.kind === 'request') {
    const uri = parseUri(msg.uri);
    if (!REQUEST_URI_SCHEMES.has(uri.scheme)) throw new SipParseError('SIP_UNSUPPORTED_URI_SCHEME', `unsupported Request-URI scheme ${uri.scheme.slice(0, 20)}`);
    if (cseq.method !== msg.method) throw new SipParseError('SIP_BAD_CSEQ', 'CSeq method differs from request method');
    const mf = msg.headers.get('max-forwards');
    if (mf !== undefined && !/^\d{1,3}$/.test(mf)) throw new SipParseError('SIP_BAD_HEADER', 'bad Max-Forwards');
  }
}

/**
 * The one Content-Length of a message. Two that disagree are refused: peers that take different
 * ones see different message boundaries (request smuggling on a stream).
 */
export function singleContentLength(values: readonly string[]): string | undefined {
  const distinct = new Set(values.map((v) => v.trim()));
  if (distinct.size > 1) throw new SipParseError('SIP_BAD_CONTENT_LENGTH', `conflicting Content-Length values: ${[...distinct].join(', ').slice(0, 80)}`);
  return values[0]?.trim();
}

function attachBody(msg: SipMessage, body: Buffer, datagram: boolean): void {
  const cl = singleContentLength(msg.headers.getAll('content-length'));
  if (cl === undefined) {
    if (!datagram) throw new SipParseError('SIP_BAD_CONTENT_LENGTH', 'missing Content-Length on a stream');
    msg.body = body;
    return;
  }
  if (!/^\d{1,9}$/.test(cl)) throw new SipParseError('SIP_BAD_CONTENT_LENGTH', `bad Content-Length: ${cl}`);
  const length = Number(cl);
  if (body.length < length) throw new SipParseError('SIP_BODY_TRUNCATED', 'body shorter than Content-Length');
  msg.body = body.subarray(0, length);
}

export function parseMessage(buf: Buffer, opts: ParseOptions): ParseResult {
  let msg: SipMessage | undefined;
  try {
    if (buf.length === 0) throw new SipParseError('SIP_EMPTY', 'empty message');
    const { head, body } = splitHead(buf);
    const lines = head.split(/\r?\n/);
    const rawHeaders = headerLines(lines.slice(1));
    if (BINARY_RE.test(head)) {
      // keep the readable header lines, so a 400 can still reach a sender whose Via is intact
      msg = readableStub(lines[0] ?? '', rawHeaders.filter((l) => !BINARY_RE.test(l)));
      throw new SipParseError('SIP_BINARY_GARBAGE', 'control characters in header section');
    }
    try {
      msg = startMessage(lines[0] ?? '');
    } catch (err) {
      // keep the headers so the caller can answer 400 when the Via is readable
      msg = readableStub(lines[0] ?? '', rawHeaders);
      throw err;
    }
    addHeaders(msg, rawHeaders);
    attachBody(msg, body, opts.datagram);
    validate(msg);
    return { ok: true, message: msg };
  } catch (err) {
    const error = err instanceof SipParseError ? err : new SipParseError('SIP_BAD_HEADER', String(err));
    return { ok: false, error, partial: msg };
  }
}

/** Parses a message the app wrote (drachtio wire): lenient about Content-Length and mandatory headers. */
export function parseAppMessage(text: string): SipMessage {
  const buf = Buffer.from(text, 'utf8');
  const { head, body } = splitHead(buf);
  const lines = head.split(/\r?\n/);
  const msg = startMessage(lines[0] ?? '');
  addHeaders(msg, headerLines(lines.slice(1)));
  const cl = msg.headers.get('content-length');
  // a copy: a slice of Buffer.from's shared 8 KB pool would pin the whole slab for as long as a transaction keeps this message
  msg.body = Buffer.from(new Uint8Array(cl !== undefined && /^\d+$/.test(cl) ? body.subarray(0, Number(cl)) : body).buffer);
  msg.headers.remove('content-length');
  return msg;
}
