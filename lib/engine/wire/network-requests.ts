import { buildResponse, generateTag, generateTransactionId, type SipRequest } from '../messages/index.js';
import { endsDialog, uasDialogId } from '../dialogs/dialog.js';
import { InviteServerTransaction } from '../transactions/invite-server.js';
import type { ServerTransaction, TransactionUser } from '../transactions/transaction-layer.js';
import type { InboundMessage } from '../transport/types.js';
import type { AppConnection } from './app-connection.js';
import { terminateStaleDialog } from './in-dialog-requests.js';
import { sipToApp } from './protocol.js';
import { inboundMeta, removeSession, type WireContext } from './wire-state.js';

/** Methods drachtio-server offers to apps when they arrive outside any dialog. */
const ROUTABLE_METHODS = new Set(['INVITE', 'REGISTER', 'MESSAGE', 'OPTIONS', 'INFO', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH']);

/** The Allow header: what apps take out of dialog, plus what the engine itself handles in calls. */
function allowedMethods(routed: string[]): string {
  const methods = new Set(routed.filter((m) => ROUTABLE_METHODS.has(m)));
  if (methods.has('INVITE')) for (const m of ['ACK', 'CANCEL', 'BYE']) methods.add(m);
  return [...methods].join(', ');
}

/** Hands network requests to the app, and answers what drachtio-server answers by itself. */
export class NetworkRequestRouter implements TransactionUser {
  constructor(private readonly ctx: WireContext) {}

  onRequest(tx: ServerTransaction, inbound: InboundMessage): void {
    const req = tx.request;
    if (tx instanceof InviteServerTransaction) tx.respond(buildResponse(req, 100));
    if (req.method === 'CANCEL') return this.onCancel(tx, inbound);
    if (req.toTag) return this.onInDialog(tx, inbound);
    if (!ROUTABLE_METHODS.has(req.method)) {
      // drachtio silently discards these; an answer stops UDP retransmissions
      const status = req.method === 'BYE' || req.method === 'UPDATE' || req.method === 'PRACK' ? 481 : 405;
      const res = buildResponse(req, status, undefined, generateTag());
      if (status === 405) res.headers.append('Allow', allowedMethods(this.ctx.routes.methods()));
      return void tx.respond(res);
    }
    this.offerToApp(tx, inbound);
  }

  private offerToApp(tx: ServerTransaction, inbound: InboundMessage): void {
    const req = tx.request;
    const conn = this.ctx.routes.select(req.method);
    if (!conn) {
      const routed = this.ctx.routes.methods();
      if (routed.length === 0) {
        // no app connected (it is reconnecting): an outage, come back soon
        const res = buildResponse(req, 503, undefined, generateTag());
        res.headers.append('Retry-After', '5');
        return void tx.respond(res);
      }
      // the app takes other methods, not this one: 405 with what it takes (RFC 3261 8.2.1)
      const res = buildResponse(req, 405, undefined, generateTag());
      res.headers.append('Allow', allowedMethods(routed));
      return void tx.respond(res);
    }
    if (this.ctx.networkRequests.size >= this.ctx.maxPending) {
      return void tx.respond(buildResponse(req, 503, undefined, generateTag()));
    }
    const transactionId = generateTransactionId();
    this.ctx.networkRequests.set(transactionId, { transactionId, tx, inbound, conn, localTag: generateTag() });
    this.ctx.transactionIds.set(tx, transactionId);
    const receivedOn = { address: inbound.local.address, port: inbound.local.port };
    conn.send(sipToApp(inboundMeta(inbound), transactionId, '', req.toString(), receivedOn));
  }

  /** drachtio answers 200 to the CANCEL and 487 to the INVITE itself, then tells the app. */
  private onCancel(tx: ServerTransaction, inbound: InboundMessage): void {
    const cancel = tx.request;
    const invite = this.ctx.transactions.inviteForCancel(cancel);
    const id = invite && this.ctx.transactionIds.get(invite);
    const pending = id ? this.ctx.networkRequests.get(id) : undefined;
    if (!invite || !pending || invite.finalStatus !== undefined) {
      return void tx.respond(buildResponse(cancel, 481, undefined, generateTag()));
    }
    tx.respond(buildResponse(cancel, 200, undefined, pending.localTag));
    const inviteReq = invite.request;
    const toTag = inviteReq.toTag ? undefined : pending.localTag;
    invite.respond(buildResponse(inviteReq, 487, undefined, toTag));
    this.ctx.networkRequests.delete(pending.transactionId);
    if (pending.dialogId === undefined) this.dropEarlyDialog(inviteReq, pending.localTag);
    pending.conn.send(sipToApp(inboundMeta(inbound), pending.transactionId, '', cancel.toString()));
  }

  private dropEarlyDialog(invite: SipRequest, localTag: string): void {
    const id = uasDialogId(invite.callId, invite.fromTag ?? '', localTag);
    const s = this.ctx.sessions.get(id);
    if (s && s.dialog.localTag === localTag && s.dialog.state === 'early') removeSession(this.ctx, id);
  }

  private onInDialog(tx: ServerTransaction, inbound: InboundMessage): void {
    const req = tx.request;
    const dialog = this.ctx.dialogs.match(req);
    const session = dialog && this.ctx.sessions.get(dialog.id);
    if (!dialog || !session || !session.conn.isOpen) {
      if (dialog && req.method === 'BYE') removeSession(this.ctx, dialog.id);
      return void tx.respond(buildResponse(req, 481));
    }
    if (!dialog.acceptsRemoteCSeq(req)) return void tx.respond(buildResponse(req, 500, 'CSeq Out of Order'));
    if (req.method === 'INVITE' || req.method === 'UPDATE') {
      const target = req.contactUri();
      if (target) dialog.remoteTarget = target;
    }
    if (inbound.flowId) dialog.flowId = inbound.flowId;
    const transactionId = generateTransactionId();
    this.ctx.networkRequests.set(transactionId, {
      transactionId, tx, inbound, conn: session.conn, localTag: dialog.localTag, dialogId: dialog.id,
    });
    this.ctx.transactionIds.set(tx, transactionId);
    // drachtio forgets the dialog as soon as a BYE arrives; the app still answers it
    if (endsDialog(req, dialog.init.method)) removeSession(this.ctx, dialog.id);
    session.conn.send(sipToApp(inboundMeta(inbound), transactionId, dialog.id, req.toString()));
  }

  /** ACK for a 2xx: stops our retransmissions and is passed up so srf can resolve its ack promise. */
  onAck(inbound: InboundMessage): void {
    const ack = inbound.message as SipRequest;
    const dialog = this.ctx.dialogs.match(ack);
    const session = dialog && this.ctx.sessions.get(dialog.id);
    if (!dialog || !session) return;
    session.inviteTx?.onAck();
    session.inviteTx = undefined;
    const txnId = session.inviteTransactionId ?? generateTransactionId();
    session.conn.send(sipToApp(inboundMeta(inbound), txnId, dialog.id, ack.toString()));
  }

  onStrayResponse(inbound: InboundMessage): void {
    const res = inbound.message;
    if (res.kind !== 'response' || res.status < 200 || res.status >= 300 || res.cseq.method !== 'INVITE') return;
    // a retransmitted 2xx: our ACK got lost, so send it again (RFC 3261 13.2.2.4)
    const dialog = this.ctx.dialogs.find(res.callId, res.fromTag ?? '', res.toTag ?? '');
    const s = dialog && this.ctx.sessions.get(dialog.id);
    if (s?.lastAck) this.ctx.transactions.sendStateless(s.lastAck.ack, s.lastAck.dest);
  }

  onServerTransactionEnded(tx: ServerTransaction): void {
    const id = this.ctx.transactionIds.get(tx);
    if (id) this.ctx.networkRequests.delete(id);
  }

  /** The app connection went away: answer what it left unanswered, forget what it owned. */
  onAppGone(conn: AppConnection): void {
    for (const [id, p] of this.ctx.networkRequests) {
      if (p.conn !== conn) continue;
      this.ctx.networkRequests.delete(id);
      if (p.tx.finalStatus === undefined) p.tx.respond(buildResponse(p.tx.request, 503, undefined, p.localTag));
    }
    for (const [id, p] of this.ctx.appRequests) if (p.conn === conn) this.ctx.appRequests.delete(id);
    for (const [id, s] of this.ctx.sessions) if (s.conn === conn) removeSession(this.ctx, id);
  }

  onAckTimeout(tx: InviteServerTransaction, finalStatus: number): void {
    this.ctx.log('warn', 'no ACK for final response', { status: finalStatus, callId: tx.callId });
    if (finalStatus >= 300) return;
    const id = this.ctx.sessionByInviteTx.get(tx);
    const session = id === undefined ? undefined : this.ctx.sessions.get(id);
    if (session) terminateStaleDialog(this.ctx, session);
  }
}
