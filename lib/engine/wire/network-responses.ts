import type { SipRequest, SipResponse } from '../messages/index.js';
import { Dialog, DialogState, endsDialog } from '../dialogs/dialog.js';
import type { Destination, InboundMessage } from '../transport/types.js';
import type { AppConnection } from './app-connection.js';
import { apiResponse, requestSentData, sipToApp } from './protocol.js';
import { inboundMeta, removeSession, sentRequestMeta, transportMeta, type PendingAppRequest, type WireContext } from './wire-state.js';

/**
 * Send an app's request in a client transaction whose responses go back to the app, and track
 * it (until it terminates) so a CANCEL from the app can find it.
 */
export function startAppTransaction(ctx: WireContext, fields: Omit<PendingAppRequest, 'tx'>): void {
  const pending = { ...fields, tx: undefined as never } as PendingAppRequest;
  pending.tx = ctx.transactions.request(fields.request, fields.dest, {
    onResponse: (res, inbound) => forwardResponseToApp(ctx, pending, res, inbound),
  });
  if (pending.tx.state !== 'Terminated') ctx.appRequests.set(fields.transactionId, pending);
}

/** Tell the app its request went out, echoing what was sent (as drachtio-server does). */
export function confirmRequestSent(ctx: WireContext, conn: AppConnection, msgId: string, req: SipRequest, dest: Destination, transactionId: string): void {
  const wire = req.wire();
  const meta = sentRequestMeta(ctx, dest.transport, wire.length);
  conn.send(apiResponse(msgId, true, requestSentData(meta, transactionId, wire.toString('utf8'))));
}

/**
 * Passes responses to app-sent requests back up, keeping dialogs in step:
 * a 2xx to INVITE (or SUBSCRIBE) creates the UAC dialog, a final to BYE ends it.
 */
export function forwardResponseToApp(ctx: WireContext, pending: PendingAppRequest, res: SipResponse, inbound?: InboundMessage): void {
  const method = pending.request.method;
  if (res.status >= 200 && pending.finalSeen) {
    // a retransmitted 2xx (RFC 6026 Accepted): the app already has it; re-ACK if it ACKed
    if (res.status < 300) resendAck(ctx, pending);
    return;
  }
  const dialogId = pending.dialogId ?? pending.newDialogId ?? '';
  if (pending.newDialogId) trackUacDialog(ctx, pending, res, inbound);
  if (pending.dialogId && method === 'INVITE' && res.status >= 200 && res.status < 300) {
    const s = ctx.sessions.get(pending.dialogId);
    if (s) s.ackSeq = pending.request.cseq.seq;
  }
  if (res.status >= 200) {
    ctx.appRequests.delete(pending.transactionId);
    pending.finalSeen = true;
    const session = pending.dialogId ? ctx.sessions.get(pending.dialogId) : undefined;
    if (session && endsDialog(pending.request, session.dialog.init.method)) removeSession(ctx, session.dialog.id);
  }
  if (res.status < 200 && pending.cancelQueued) sendQueuedCancel(ctx, pending);
  const meta = inbound ? inboundMeta(inbound)
    : transportMeta('network', pending.dest.transport, '', 0, 0) // synthesized (timeout, transport error), as drachtio reports them;
  pending.conn.send(sipToApp(meta, pending.transactionId, dialogId, res.toString()));
}

function trackUacDialog(ctx: WireContext, pending: PendingAppRequest, res: SipResponse, inbound?: InboundMessage): void {
  const id = pending.newDialogId!;
  const method = pending.request.method;
  const success = res.status >= 200 && res.status < 300;
  if (!success) {
    if (res.status >= 300) removeSession(ctx, id);
    return;
  }
  let session = ctx.sessions.get(id);
  if (!session) {
    const flowId = inbound?.flowId;
    const dialog = Dialog.fromResponse(pending.request, res, pending.dest.transport, flowId);
    if (!ctx.dialogs.add(dialog)) return;
    session = { dialog, conn: pending.conn };
    ctx.sessions.set(id, session);
  }
  session.dialog.confirmFromResponse(res);
  session.dialog.state = DialogState.Confirmed;
  if (method === 'INVITE') session.ackSeq = pending.request.cseq.seq;
}

function resendAck(ctx: WireContext, pending: PendingAppRequest): void {
  const id = pending.dialogId ?? pending.newDialogId;
  const s = id ? ctx.sessions.get(id) : undefined;
  if (s?.lastAck) ctx.transactions.sendStateless(s.lastAck.ack, s.lastAck.dest);
}

export function sendQueuedCancel(ctx: WireContext, pending: PendingAppRequest): void {
  const cancel = pending.cancelQueued;
  if (!cancel) return;
  pending.cancelQueued = undefined;
  ctx.transactions.request(cancel, pending.dest, { onResponse: () => undefined });
}
