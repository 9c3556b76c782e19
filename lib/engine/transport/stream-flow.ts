import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SipStreamFramer, type FramerEvent } from '../messages/index.js';
import type { Endpoint, Peer, StreamTransport } from './types.js';

export interface StreamFlowOptions {
  transport: StreamTransport;
  maxMessageBytes: number;
  idleMs: number;
  headerTimeoutMs: number;
  /** TLS: close unless the handshake completes within this long (0: none, e.g. already secure) */
  handshakeTimeoutMs: number;
  /** the remote and local addresses, read from the raw socket (a TLS socket reports them late) */
  remote: Endpoint;
  local: Endpoint;
  /** a flow that a live registration points at is kept open past its idle timeout */
  isPinned: (flowId: string) => boolean;
  onEvent: (flow: StreamFlow, ev: FramerEvent) => void;
  onActivity: (flow: StreamFlow) => void;
  onClose: (flow: StreamFlow, reason: string) => void;
}

/**
 * One TCP or TLS connection, with the timers that guard it. Owns its socket and every timer it
 * starts; every way out goes through close().
 */
export class StreamFlow {
  readonly id = randomUUID();
  readonly remote: Peer;
  readonly local: Endpoint;
  readonly transport: StreamTransport;
  private readonly framer: SipStreamFramer;
  private idleTimer?: NodeJS.Timeout;
  private headerTimer?: NodeJS.Timeout;
  private handshakeTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly socket: Socket, private readonly opts: StreamFlowOptions) {
    this.transport = opts.transport;
    this.remote = { transport: opts.transport, address: opts.remote.address, port: opts.remote.port };
    this.local = opts.local;
    this.framer = new SipStreamFramer(opts.maxMessageBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.close(`socket error: ${err.code ?? err.message}`));
    socket.on('close', () => this.close('peer closed'));
    if (opts.handshakeTimeoutMs > 0) {
      this.handshakeTimer = setTimeout(() => this.close('tls handshake timeout'), opts.handshakeTimeoutMs);
    }
    this.touch();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** The TLS handshake completed: the handshake guard is done. */
  secured(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  write(bytes: Buffer): boolean {
    if (this.closed) return false;
    this.touch();
    this.socket.write(bytes);
    return true;
  }

  /** Sends what is queued, then closes (used after a 400 that ends the stream). */
  end(reason: string): void {
    if (this.closed) return;
    this.socket.end();
    this.close(reason);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.headerTimer);
    clearTimeout(this.handshakeTimer);
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.destroy();
    else setTimeout(() => this.socket.destroy(), 1000).unref();
    this.opts.onClose(this, reason);
  }

  private onData(chunk: Buffer): void {
    this.touch();
    for (const ev of this.framer.push(chunk)) {
      if (this.closed) return;
      this.opts.onEvent(this, ev);
    }
    this.armHeaderTimer();
  }

  private armHeaderTimer(): void {
    if (!this.framer.hasPartial) {
      clearTimeout(this.headerTimer);
      this.headerTimer = undefined;
      return;
    }
    if (this.headerTimer) return;
    this.headerTimer = setTimeout(() => this.close('incomplete message timeout'), this.opts.headerTimeoutMs);
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    if (this.closed) return;
    this.opts.onActivity(this);
    this.idleTimer = setTimeout(() => {
      if (this.opts.isPinned(this.id)) this.touch();
      else this.close('idle timeout');
    }, this.opts.idleMs);
  }
}
