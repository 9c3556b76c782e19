import net from 'node:net';
import { parseAppMessage, type SipRequest } from '../messages/index.js';
import { AppConnection, type WireSocket } from './app-connection.js';
import { openInProcessLink, type LinkEnd } from './in-process-link.js';
import { cancelAppInvite, OutOfDialogSender } from './app-requests.js';
import { AppResponseSender } from './app-responses.js';
import { InDialogSender } from './in-dialog-requests.js';
import { apiRefusal, apiResponse, type AppCommand } from './protocol.js';
import type { WireContext } from './wire-state.js';

export interface WireServerOptions {
  /** called when an app connection closes, after its routes are removed */
  onAppGone: (conn: AppConnection) => void;
  address: string;
  port: number;
  secret: string;
  /** what authenticate answers: hostports, version, local hostports */
  identity: () => { hostports: string; version: string; localHostports: string };
  maxMessageBytes: number;
}

/** The drachtio wire protocol listener that drachtio-srf connects to. */
export class WireServer {
  private server?: net.Server;
  private readonly connections = new Set<AppConnection>();
  private readonly responses: AppResponseSender;
  private readonly outOfDialog: OutOfDialogSender;
  private readonly inDialog: InDialogSender;

  constructor(private readonly ctx: WireContext, private readonly opts: WireServerOptions) {
    this.responses = new AppResponseSender(ctx);
    this.outOfDialog = new OutOfDialogSender(ctx);
    this.inDialog = new InDialogSender(ctx);
  }

  async start(): Promise<number> {
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.address, () => { server.off('error', reject); resolve(); });
    });
    this.server = server;
    return (server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const c of [...this.connections]) c.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /**
   * A drachtio-srf app in this process connects here instead of to the wire port: the same
   * protocol, without a socket. Returns the app's end of the link.
   */
  openInProcess(): LinkEnd {
    const link = openInProcessLink();
    this.accept(link.engine);
    return link.app;
  }

  private accept(socket: WireSocket & { setKeepAlive(on: boolean): unknown }): void {
    socket.setKeepAlive(true);
    const conn = new AppConnection(socket, Math.max(this.opts.maxMessageBytes * 2, 1 << 20), {
      onCommand: (c, cmd) => this.dispatch(c, cmd),
      onClose: (c) => {
        this.connections.delete(c);
        this.ctx.routes.removeAll(c);
        if (c.authenticated) this.opts.onAppGone(c);
      },
      onProtocolError: (c, err) => this.ctx.log('warn', 'wire protocol error; closing app connection', { err: err.message, remote: c.remote }),
    });
    this.connections.add(conn);
  }

  private dispatch(conn: AppConnection, cmd: AppCommand): void {
    if (cmd.command === 'authenticate') return this.authenticate(conn, cmd);
    if (!conn.authenticated) {
      conn.send(apiRefusal(cmd.msgId, `not authenticated: ${cmd.command}`));
      return conn.end();
    }
    try {
      switch (cmd.command) {
        case 'ping': return conn.send(apiResponse(cmd.msgId, true, 'pong'));
        case 'route':
          this.ctx.routes.add(cmd.args[0] ?? '', conn);
          return conn.send(apiResponse(cmd.msgId, true));
        case 'remove_route':
          this.ctx.routes.removeAll(conn);
          return conn.send(apiResponse(cmd.msgId, true));
        case 'sip': return this.onSip(conn, cmd);
        // srf only understands NOK for proxy; the request stays pending so the app can still answer it
        case 'proxy': return conn.send(apiResponse(cmd.msgId, false, 'proxy is not supported by the embedded engine'));
        default:
          return conn.send(apiRefusal(cmd.msgId, `Unknown message type: ${cmd.command} is not supported by the embedded engine`));
      }
    } catch (err) {
      this.ctx.log('error', 'app command failed', { command: cmd.command, err: String(err) });
      conn.send(apiResponse(cmd.msgId, false, `Server error: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  private authenticate(conn: AppConnection, cmd: AppCommand): void {
    if (cmd.args[0] !== this.opts.secret) {
      this.ctx.log('info', 'app failed authentication', { remote: conn.remote });
      conn.send(apiRefusal(cmd.msgId, 'incorrect secret'));
      return conn.end();
    }
    conn.authenticated = true;
    conn.tags = (cmd.args[1] ?? '').split(',').filter(Boolean);
    const id = this.opts.identity();
    conn.send(apiResponse(cmd.msgId, true, `${id.hostports}|${id.version}|${id.localHostports}`));
  }

  /** `sip|txnId|dialogId|[routeUrl]` CRLF message: responses, CANCELs, in- and out-of-dialog requests. */
  private onSip(conn: AppConnection, cmd: AppCommand): void {
    const [transactionId = '', dialogId = '', routeUrl = ''] = cmd.args;
    const msg = parseAppMessage(cmd.sip ?? '');
    if (msg.kind === 'response') {
      if (!transactionId) return conn.send(apiRefusal(cmd.msgId, 'transaction id missing'));
      return this.responses.send(conn, cmd.msgId, transactionId, msg);
    }
    if (dialogId) return this.inDialog.send(conn, cmd.msgId, dialogId, msg);
    if (transactionId) {
      if (msg.method === 'CANCEL') return cancelAppInvite(this.ctx, conn, cmd.msgId, transactionId, msg);
      return conn.send(apiResponse(cmd.msgId, false, `unsupported request within a transaction: ${msg.method}`));
    }
    const existing = this.dialogForCallId(msg);
    if (existing) return this.inDialog.send(conn, cmd.msgId, existing, msg);
    this.outOfDialog.send(conn, cmd.msgId, msg, routeUrl);
  }

  /** drachtio routes a request whose Call-ID names a known dialog into that dialog. */
  private dialogForCallId(req: SipRequest): string | undefined {
    const callId = req.headers.get('call-id');
    return callId ? this.ctx.dialogs.findByCallId(callId)?.id : undefined;
  }
}
