/** Most digits drachtio-server accepts in a length prefix; more is a protocol error. */
const MAX_LENGTH_DIGITS = 9;

export class WireFramingError extends Error {
  readonly code = 'WIRE_BAD_LENGTH';
}

/** Frames `<byte length>#<payload>` messages, the drachtio wire format, from a byte stream. */
export class WireFramer {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer): string[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: string[] = [];
    for (;;) {
      const hash = this.buffer.indexOf('#');
      if (hash < 0) {
        if (this.buffer.length > MAX_LENGTH_DIGITS || /\D/.test(this.buffer.toString('latin1'))) {
          throw new WireFramingError('invalid message length specifier');
        }
        return out;
      }
      const spec = this.buffer.subarray(0, hash).toString('latin1');
      if (!/^\d+$/.test(spec) || spec.length > MAX_LENGTH_DIGITS) throw new WireFramingError('invalid message length specifier');
      const length = Number(spec);
      if (length <= 0 || length > this.maxMessageBytes) throw new WireFramingError(`message length ${length} out of range`);
      const end = hash + 1 + length;
      if (this.buffer.length < end) return out;
      out.push(this.buffer.subarray(hash + 1, end).toString('utf8'));
      this.buffer = this.buffer.subarray(end);
    }
  }
}

export function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}#`, 'latin1'), body]);
}
