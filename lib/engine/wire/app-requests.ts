import {
  BRANCH_COOKIE, generateBranch, generateCallId, generateTag, generateTransactionId, parseCSeq, parseUri,
  SipRequest, stripBrackets, withTag,
} from '../messages/index.js';
import { resolveTarget } from '../transport/target-resolution.js';
import type { Destination } from '../transport/types.js';
import type { AppConnection } from './app-connection.js';
import { copyAppHeaders, ensureContentType, replaceLocalhost } from './app-headers.js';
import { confirmRequestSent, startAppTransaction } from './network-responses.js';
import { apiResponse, requestSentData } from './protocol.js';
import { localContact, sentRequestMeta, type WireContext } from './wire-state.js';
import { bracketHost } from '../../net-address.js';
import { drachtioDialogId } from '../dialogs/dialog.js';

export class AppRequestError extends Error {}

/** Sends requests the app originates outside a dialog (drachtio's sendRequestOutsideDialog). */
export class OutOfDialogSender {
  constructor(private readonly ctx: WireContext) {}

  send(conn: AppConnection, msgId: string, appReq: SipRequest, routeUrl?: string): void {
    if (this.ctx.appRequests.size >= this.ctx.maxPending) return conn.send(apiResponse(msgId, false, 'too many requests in progress'));
    let built: { req: SipRequest; dest: Destination };
    try {
      built = this.build(appReq, routeUrl);
    } catch (err) {
      return conn.send(apiResponse(msgId, false, err instanceof Error ? err.message : String(err)));
    }
    const { req, dest } = built;
    const transactionId = generateTransactionId();
    const newDialogId = req.method === 'INVITE' || req.method === 'SUBSCRIBE'
      ? drachtioDialogId(req.callId, req.fromTag ?? '') : undefined;
    startAppTransaction(this.ctx, { transactionId, request: req, conn, dest, newDialogId });
    confirmRequestSent(this.ctx, conn, msgId, req, dest, transactionId);
  }

  private build(appReq: SipRequest, routeUrl?: string): { req: SipRequest; dest: Destination } {
    let requestUri: string;
    try {
      parseUri(appReq.uri);
      requestUri = appReq.uri;
    } catch {
      throw new AppRequestError(`invalid request-uri: ${appReq.method} ${appReq.uri}`);
    }
    const dest = resolveTarget(routeUrl || requestUri, this.ctx.transport);
    const local = this.ctx.transport.viaEndpoint(dest.transport);
    if (!local) throw new AppRequestError('requested protocol/transport not available');
    if (isSelf(requestUri, this.ctx)) throw new AppRequestError('can not send request to myself');
    const contact = localContact(this.ctx, dest.transport);
    const req = new SipRequest(appReq.method, requestUri);
    req.headers.append('via', viaFor(dest.transport, local.address, local.port));
    req.headers.append('max-forwards', appReq.headers.get('max-forwards') ?? '70');
    const from = appReq.headers.get('from');
    req.headers.append('from', withTag(from ? replaceLocalhost('from', from, local) : contact, generateTag()));
    const to = appReq.headers.get('to');
    req.headers.append('to', to ? replaceLocalhost('to', to, local) : `<${requestUri}>`);
    req.headers.append('call-id', appReq.headers.get('call-id') ?? generateCallId());
    req.headers.append('cseq', `${appCSeq(appReq)} ${appReq.method}`);
    const wantsContact = appReq.method === 'INVITE' || appReq.method === 'SUBSCRIBE';
    if (wantsContact && !appReq.headers.has('contact')) req.headers.append('contact', contact);
    copyAppHeaders(appReq, req, ['from', 'to', 'call-id', 'cseq', 'max-forwards'], local);
    req.body = appReq.body;
    const problem = ensureContentType(req);
    if (problem) throw new AppRequestError(problem);
    return { req, dest };
  }
}

/** The app's CSeq number when it gave one (drachtio lets it, e.g. for a challenged REGISTER). */
function appCSeq(appReq: SipRequest): number {
  const v = appReq.headers.get('cseq');
  if (v) {
    try { return parseCSeq(v).seq; } catch { /* fall through to a fresh number */ }
  }
  return 1 + Math.floor(Math.random() * 10_000);
}

export function viaFor(transport: string, address: string, port: number): string {
  const host = bracketHost(address);
  return `SIP/2.0/${transport.toUpperCase()} ${host}:${port};branch=${generateBranch()};rport`;
}

function isSelf(uri: string, ctx: WireContext): boolean {
  const parsed = parseUri(uri);
  const host = stripBrackets(parsed.host);
  const port = parsed.port ?? 5060;
  return ctx.transport.endpoints.some((e) => e.address === host && e.port === port);
}

/** CANCEL for an INVITE the app sent (RFC 3261 9.1), held until a provisional arrives. */
export function cancelAppInvite(ctx: WireContext, conn: AppConnection, msgId: string, transactionId: string, appReq: SipRequest): void {
  const pending = ctx.appRequests.get(transactionId);
  if (!pending || pending.request.method !== 'INVITE' || pending.finalSeen) {
    return conn.send(apiResponse(msgId, false, `unable to cancel unknown transaction id: ${transactionId}`));
  }
  const invite = pending.request;
  const cancel = new SipRequest('CANCEL', invite.uri);
  cancel.headers.append('via', invite.headers.get('via') ?? '');
  cancel.headers.append('max-forwards', '70');
  for (const h of ['from', 'to', 'call-id']) cancel.headers.append(h, invite.headers.get(h) ?? '');
  cancel.headers.append('cseq', `${invite.cseq.seq} CANCEL`);
  for (const r of invite.headers.getAll('route')) cancel.headers.append('route', r);
  // e.g. Reason: SIP;cause=200;text="Call completed elsewhere" (RFC 3326)
  copyAppHeaders(appReq, cancel, ['from', 'to', 'call-id', 'cseq', 'max-forwards']);
  if (!cancel.topVia.params['branch']?.startsWith(BRANCH_COOKIE)) {
    return conn.send(apiResponse(msgId, false, 'INVITE has no RFC 3261 branch'));
  }
  if ('hasProvisional' in pending.tx && pending.tx.hasProvisional) {
    ctx.transactions.request(cancel, pending.dest, { onResponse: () => undefined });
  } else pending.cancelQueued = cancel;
  const wire = cancel.wire();
  const meta = sentRequestMeta(ctx, pending.dest.transport, wire.length);
  conn.send(apiResponse(msgId, true, requestSentData(meta, generateTransactionId(), wire.toString('utf8'))));
}
