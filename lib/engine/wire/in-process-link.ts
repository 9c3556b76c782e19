/**
 * The wire protocol between the engine and a drachtio-srf app in the same process, without a
 * socket. Each end looks to its user like the part of a net.Socket that drachtio-srf and the
 * engine's AppConnection use: `write`, `cork`/`uncork`, `end`, `destroy`, and the `connect`,
 * `data`, `error` and `close` events. What crosses is still the drachtio wire protocol, framed
 * as on TCP (`<length>#<message>`), so the protocol stays the contract between the two sides and
 * the same app code runs on a drachtio-server. What is saved is the kernel: a loopback TCP socket
 * costs a write and a read system call and a wake-up for every message, both ways.
 *
 * Bytes written in one turn of the event loop are delivered together, in order, on a later turn
 * (setImmediate), never inside the write: drachtio-srf registers its callback for a request
 * after writing it, as it may with a real socket.
 *
 * An end is a net.Socket with no handle, because drachtio-srf checks `instanceof net.Socket`;
 * every method either side calls is overridden here, so the stream machinery underneath is
 * never asked to read or write. Data is handed over by emitting `data` directly.
 */
import { Socket } from 'node:net';

/** What an in-process link end pretends to be connected to (logs, `remote` of the app connection). */
const IN_PROCESS_ADDRESS = 'in-process';

export class LinkEnd extends Socket {
  /** The other end; set by `openInProcessLink`. */
  peer!: LinkEnd;
  declare readonly remoteAddress: string;
  declare readonly remotePort: number;
  declare readonly localPort: number;
  declare destroyed: boolean;
  declare writableEnded: boolean;
  private queued: Buffer[] = [];
  private callbacks: Array<() => void> = [];
  private corks = 0;
  private scheduled = false;
  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.queued.length === 0 || this.destroyed) return;
    const data = this.queued.length === 1 ? (this.queued[0] as Buffer) : Buffer.concat(this.queued);
    const callbacks = this.callbacks;
    this.queued = [];
    this.callbacks = [];
    if (!this.peer.destroyed) this.peer.emit('data', data);
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

  /** Never asked of the stream underneath: data arrives as `data` events from the peer. */
  override _read(): void {}

  override write(data: string | Uint8Array, encodingOrCallback?: BufferEncoding | ((err?: Error | null) => void), callback?: (err?: Error | null) => void): boolean {
    const cb = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
    if (this.destroyed || this.writableEnded) return false;
    this.queued.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
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
    if (this.queued.length === 0) this.closeBoth();
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
    if (this.scheduled || this.corks > 0 || (this.queued.length === 0 && !this.writableEnded)) return;
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
