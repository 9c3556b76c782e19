/**
 * The wire protocol between the engine and a drachtio-srf app in the same process, without a
 * socket. What crosses is still the drachtio wire protocol, message for message
 * (`<msgId>|<command>|...`), so the protocol stays the contract between the two sides and the
 * same app code runs on a drachtio-server. What is saved is everything under it:
 * - the kernel: a loopback TCP socket costs a write and a read system call and a wake-up for
 *   every message, both ways;
 * - the byte framing: each message would be encoded to UTF-8 with a `<length>#` prefix, copied
 *   into the stream, concatenated and decoded again on the other side. Here a message crosses as
 *   the string it already is, as a `message` event.
 *
 * Each end looks to its user like the part of a net.Socket that drachtio-srf and the engine's
 * AppConnection use: `write`, `cork`/`uncork`, `end`, `destroy`, and the `connect`, `error` and
 * `close` events. `write` takes whole frames (`<length>#<message>`, one or more), which is how
 * drachtio-srf writes; `sendMessage` takes a message without its frame.
 *
 * Messages written in one turn of the event loop are delivered together, in order, on a later
 * turn (setImmediate), never inside the write: drachtio-srf registers its callback for a request
 * after writing it, as it may with a real socket.
 *
 * An end is a net.Socket with no handle, because drachtio-srf checks `instanceof net.Socket`;
 * every method either side calls is overridden here, so the stream machinery underneath is
 * never asked to read or write.
 */
import { Socket } from 'node:net';

/** What an in-process link end pretends to be connected to (logs, `remote` of the app connection). */
const IN_PROCESS_ADDRESS = 'in-process';

/** A write that is not whole `<length>#<message>` frames. */
export class LinkFramingError extends Error {
  readonly code = 'WIRE_BAD_LENGTH';
}

export class LinkEnd extends Socket {
  /** The other end; set by `openInProcessLink`. */
  peer!: LinkEnd;
  declare readonly remoteAddress: string;
  declare readonly remotePort: number;
  declare readonly localPort: number;
  declare destroyed: boolean;
  declare writableEnded: boolean;
  private queued: string[] = [];
  private callbacks: Array<() => void> = [];
  private corks = 0;
  private scheduled = false;
  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.destroyed) return;
    const messages = this.queued;
    const callbacks = this.callbacks;
    this.queued = [];
    this.callbacks = [];
    for (const m of messages) {
      if (this.peer.destroyed) break;
      this.peer.emit('message', m);
    }
    for (const cb of callbacks) cb();
    if (this.writableEnded) this.closeBoth();
  };

  constructor() {
    super();
    // own properties, shadowing net.Socket's accessors (which read a handle there is none of)
    for (const [name, value] of Object.entries({ remoteAddress: IN_PROCESS_ADDRESS, remotePort: 0, localPort: 0, destroyed: false, writableEnded: false })) {
      Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
    }
  }

  /** Never asked of the stream underneath: messages arrive as `message` events from the peer. */
  override _read(): void {}

  /** One wire message, without its `<length>#` frame. */
  sendMessage(message: string): boolean {
    if (this.destroyed || this.writableEnded) return false;
    this.queued.push(message);
    this.schedule();
    return true;
  }

  /**
   * Whole frames, as drachtio-srf writes them (one per write). A write that is not whole frames
   * is a bug on this side of the process, not input from a network: it throws.
   */
  override write(data: string | Uint8Array, encodingOrCallback?: BufferEncoding | ((err?: Error | null) => void), callback?: (err?: Error | null) => void): boolean {
    const cb = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
    if (this.destroyed || this.writableEnded) return false;
    for (const m of unframe(data)) this.queued.push(m);
    if (cb) this.callbacks.push(() => cb());
    this.schedule();
    return true;
  }

  override cork(): void {
    this.corks += 1;
  }

  override uncork(): void {
    if (this.corks > 0) this.corks -= 1;
    this.schedule();
  }

  /** Delivers what was written, then closes both ends. */
  override end(): this {
    if (this.destroyed || this.writableEnded) return this;
    this.writableEnded = true;
    this.corks = 0;
    if (this.queued.length === 0 && this.callbacks.length === 0) this.closeBoth();
    else this.schedule();
    return this;
  }

  /** Closes both ends now; what was not delivered is dropped, as with a reset socket. */
  override destroy(): this {
    this.closeBoth();
    return this;
  }

  /* net.Socket's no-ops here: there is no Nagle, no keep-alive probe, no idle timer. */
  override setNoDelay(): this {
    return this;
  }

  override setKeepAlive(): this {
    return this;
  }

  override setTimeout(): this {
    return this;
  }

  private schedule(): void {
    if (this.scheduled || this.corks > 0 || (this.queued.length === 0 && this.callbacks.length === 0 && !this.writableEnded)) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private closeBoth(): void {
    for (const end of [this, this.peer]) {
      if (end.destroyed) continue;
      end.destroyed = true;
      end.writableEnded = true;
      end.queued = [];
      end.callbacks = [];
      setImmediate(() => end.emit('close', false));
    }
  }
}

/**
 * The messages in `<byte length>#<message>` frames. The usual write is one frame of a string,
 * whose length then says how many characters follow when they are all ASCII; anything else is
 * cut by bytes.
 */
export function unframe(data: string | Uint8Array): string[] {
  if (typeof data === 'string') {
    const hash = data.indexOf('#');
    const rest = data.length - hash - 1;
    if (hash > 0 && hash <= 9 && Number(data.slice(0, hash)) === rest && Buffer.byteLength(data) === data.length) return [data.slice(hash + 1)];
  }
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    const hash = bytes.indexOf(0x23, at);
    const spec = hash < 0 ? '' : bytes.toString('latin1', at, hash);
    if (!/^\d{1,9}$/.test(spec)) throw new LinkFramingError('in-process link: a write that is not <length>#<message> frames');
    const end = hash + 1 + Number(spec);
    if (end > bytes.length) throw new LinkFramingError('in-process link: a frame longer than its write');
    out.push(bytes.toString('utf8', hash + 1, end));
    at = end;
  }
  return out;
}

/**
 * A connected pair: `app` for drachtio-srf, `engine` for the wire server. The app end emits
 * `connect` on the next turn, as a socket does once connected.
 */
export function openInProcessLink(): { app: LinkEnd; engine: LinkEnd } {
  const app = new LinkEnd();
  const engine = new LinkEnd();
  app.peer = engine;
  engine.peer = app;
  setImmediate(() => {
    if (!app.destroyed) app.emit('connect');
  });
  return { app, engine };
}
