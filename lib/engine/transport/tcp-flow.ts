import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SipStreamFramer, type FramerEvent } from '../messages/index.js';
import type { Endpoint, Peer } from './types.js';

export interface TcpFlowOptions {
  maxMessageBytes: number;
  idleMs: number;
  headerTimeoutMs: number;
  /** a flow that a live registration points at is kept open past its idle timeout */
  isPinned: (flowId: string) => boolean;
  onEvent: (flow: TcpFlow, ev: FramerEvent) => void;
  onClose: (flow: TcpFlow, reason: string) => void;
}

/** One TCP connection, with the timers that guard it. Owns its socket and every timer it starts. */
export class TcpFlow {
  readonly id = randomUUID();
  readonly remote: Peer;
  readonly local: Endpoint;
  private readonly framer: SipStreamFramer;
  private idleTimer?: NodeJS.Timeout;
  private headerTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly socket: Socket, private readonly opts: TcpFlowOptions) {
    this.remote = { transport: 'tcp', address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    this.framer = new SipStreamFramer(opts.maxMessageBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close('socket error'));
    socket.on('close', () => this.close('peer closed'));
    this.touch();
  }

  get isOpen(): boolean {
    return !this.closed;
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
    this.idleTimer = setTimeout(() => {
      if (this.opts.isPinned(this.id)) this.touch();
      else this.close('idle timeout');
    }, this.opts.idleMs);
  }
}
