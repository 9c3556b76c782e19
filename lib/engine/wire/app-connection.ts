import { randomUUID } from 'node:crypto';
import { frame, WireFramer, WireFramingError } from './framing.js';
import { LinkEnd } from './in-process-link.js';
import { parseAppCommand, type AppCommand } from './protocol.js';

export interface AppConnectionHooks {
  onCommand: (conn: AppConnection, cmd: AppCommand) => void;
  onClose: (conn: AppConnection) => void;
  onProtocolError: (conn: AppConnection, err: Error) => void;
}

/**
 * The part of a net.Socket an app connection uses; an in-process link end (in-process-link.ts)
 * is one too.
 */
export interface WireSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly writableEnded: boolean;
  setNoDelay(noDelay?: boolean): unknown;
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'error' | 'close', fn: () => void): unknown;
  cork(): void;
  uncork(): void;
  write(data: Buffer): boolean;
  end(): unknown;
  destroy(): unknown;
}

/** One drachtio-srf client connected to the wire port, or over an in-process link. */
export class AppConnection {
  readonly id = randomUUID();
  authenticated = false;
  tags: string[] = [];
  readonly remote: string;
  private readonly framer: WireFramer;
  /** Set for an app in this process: messages cross as strings, unframed. */
  private readonly link: LinkEnd | undefined;
  private closed = false;
  /** corked until the end of the current tick, so a burst of sends leaves as one write */
  private corked = false;
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };

  constructor(private readonly socket: WireSocket, maxMessageBytes: number, private readonly hooks: AppConnectionHooks) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.framer = new WireFramer(maxMessageBytes);
    socket.setNoDelay(true);
    this.link = socket instanceof LinkEnd ? socket : undefined;
    if (this.link) this.link.on('message', (m: string) => this.onMessage(m, maxMessageBytes));
    else socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  send(payload: string): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    if (this.link) this.link.sendMessage(payload);
    else this.socket.write(frame(payload));
  }

  /** Flushes what was queued (e.g. a refusal), then closes. */
  end(): void {
    if (this.closed) return;
    this.socket.end();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.socket.writableEnded) this.socket.destroy();
    this.hooks.onClose(this);
  }

  private onMessage(message: string, maxMessageBytes: number): void {
    if (this.closed) return;
    // bytes are at least as many as characters, and at most three times as many
    if (message.length * 3 > maxMessageBytes && Buffer.byteLength(message) > maxMessageBytes) {
      this.hooks.onProtocolError(this, new WireFramingError(`message length ${Buffer.byteLength(message)} out of range`));
      this.close();
      return;
    }
    this.hooks.onCommand(this, parseAppCommand(message));
    this.uncork();
  }

  private onData(chunk: Buffer): void {
    let payloads: string[];
    try {
      payloads = this.framer.push(chunk);
    } catch (err) {
      this.hooks.onProtocolError(this, err instanceof WireFramingError ? err : new Error(String(err)));
      this.close();
      return;
    }
    for (const p of payloads) {
      if (this.closed) return;
      this.hooks.onCommand(this, parseAppCommand(p));
    }
    // the answers to one chunk's commands leave together, and before anything the commands
    // scheduled for later (e.g. a UDP send), as an unbatched write would have
    this.uncork();
  }
}
