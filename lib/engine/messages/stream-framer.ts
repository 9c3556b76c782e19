import { SipParseError } from './errors.js';
import { singleContentLength } from './parser.js';

export type FramerEvent =
  | { type: 'message'; bytes: Buffer }
  /** RFC 5626 double-CRLF ping: answer with a single CRLF pong */
  | { type: 'ping' }
  /** head: the header section, when it was complete, so a 400 can copy its Via */
  | { type: 'error'; error: SipParseError; head?: Buffer };

const CONTENT_LENGTH_RE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/gim;

/**
 * Cuts a TCP byte stream into SIP messages by Content-Length (RFC 3261 18.3).
 * After an error the stream cannot be resynchronised: the caller must close it.
 */
export class SipStreamFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** True while part of a message has been received but not all of it. */
  get hasPartial(): boolean {
    return this.buffer.length > 0;
  }

  push(chunk: Buffer): FramerEvent[] {
    if (this.failed) return [];
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const events: FramerEvent[] = [];
    for (;;) {
      const ev = this.next();
      if (!ev) break;
      events.push(ev);
      if (ev.type === 'error') {
        this.failed = true;
        this.buffer = Buffer.alloc(0);
        break;
      }
    }
    return events;
  }

  private next(): FramerEvent | undefined {
    if (this.buffer.subarray(0, 4).toString('latin1') === '\r\n\r\n') {
      this.buffer = this.buffer.subarray(4);
      return { type: 'ping' };
    }
    // stray CRLFs between messages are allowed and ignored (RFC 3261 7.5)
    let skip = 0;
    while (skip + 1 < this.buffer.length && this.buffer[skip] === 13 && this.buffer[skip + 1] === 10
      && !(this.buffer[skip + 2] === 13 && this.buffer[skip + 3] === 10)) skip += 2;
    if (skip) this.buffer = this.buffer.subarray(skip);
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.buffer.length > this.maxMessageBytes) {
        return { type: 'error', error: new SipParseError('SIP_TOO_LARGE', 'header section exceeds limit') };
      }
      return undefined;
    }
    const head = this.buffer.subarray(0, end).toString('latin1');
    const headBytes = Buffer.from(this.buffer.subarray(0, end + 4));
    let cl: string | undefined;
    try {
      cl = singleContentLength([...head.matchAll(CONTENT_LENGTH_RE)].map((m) => m[1] ?? ''));
    } catch (err) {
      return { type: 'error', error: err as SipParseError, head: headBytes };
    }
    if (cl === undefined) {
      const error = new SipParseError('SIP_BAD_CONTENT_LENGTH', 'missing Content-Length on a stream');
      return { type: 'error', error, head: headBytes };
    }
    if (!/^\d{1,9}$/.test(cl)) {
      return { type: 'error', error: new SipParseError('SIP_BAD_CONTENT_LENGTH', `bad Content-Length: ${cl}`), head: headBytes };
    }
    const total = end + 4 + Number(cl);
    if (total > this.maxMessageBytes) {
      const error = new SipParseError('SIP_TOO_LARGE', `message of ${total} bytes exceeds limit`);
      return { type: 'error', error, head: headBytes };
    }
    if (this.buffer.length < total) return undefined;
    const bytes = Buffer.from(this.buffer.subarray(0, total));
    this.buffer = this.buffer.subarray(total);
    return { type: 'message', bytes };
  }
}
