import type { SipRequest } from '../messages/index.js';
import type { Dialog } from '../dialogs/dialog.js';
import type { DialogTable } from '../dialogs/dialog-table.js';
import type { InviteServerTransaction } from '../transactions/invite-server.js';
import type { ClientTransaction, ServerTransaction, TransactionLayer } from '../transactions/transaction-layer.js';
import type { SipTransport } from '../transport/sip-transport.js';
import type { Destination, EngineLog, InboundMessage, TransportName } from '../transport/types.js';
import type { AppConnection } from './app-connection.js';
import { stackTime, type MessageMeta } from './protocol.js';
import type { RouteTable } from './route-table.js';
import { bracketHost } from '../../net-address.js';

/** A request from the network the app has not answered finally yet. */
export interface PendingNetworkRequest {
  transactionId: string;
  tx: ServerTransaction;
  inbound: InboundMessage;
  conn: AppConnection;
  /** the To tag every response to this request carries, unless the app picks its own */
  localTag: string;
  /** set when the request arrived inside a dialog */
  dialogId?: string;
}

/** A request the app sent that has no final response yet. */
export interface PendingAppRequest {
  transactionId: string;
  tx: ClientTransaction;
  request: SipRequest;
  conn: AppConnection;
  dest: Destination;
  /** INVITE/SUBSCRIBE outside a dialog: the id the dialog will get */
  newDialogId?: string;
  /** in-dialog requests */
  dialogId?: string;
  /** app asked to CANCEL before any provisional arrived (RFC 3261 9.1: wait for one) */
  cancelQueued?: SipRequest;
  /** a final response reached the app; later 2xx are retransmissions */
  finalSeen?: boolean;
}

/** A dialog plus what the wire layer needs to drive it. */
export interface DialogSession {
  dialog: Dialog;
  conn: AppConnection;
  /** UAS: the INVITE server transaction whose 2xx awaits an ACK */
  inviteTx?: InviteServerTransaction;
  inviteTransactionId?: string;
  /** UAC: CSeq of the INVITE the next ACK acknowledges */
  ackSeq?: number;
  /** UAC: the ACK we sent, resent when a 2xx is retransmitted */
  lastAck?: { ack: SipRequest; dest: Destination };
}

export interface WireContext {
  transport: SipTransport;
  transactions: TransactionLayer;
  dialogs: DialogTable;
  routes: RouteTable;
  log: EngineLog;
  networkRequests: Map<string, PendingNetworkRequest>;
  /** server transaction -> its networkRequests key, so CANCEL and cleanup need no scan */
  transactionIds: WeakMap<ServerTransaction, string>;
  appRequests: Map<string, PendingAppRequest>;
  sessions: Map<string, DialogSession>;
  /** INVITE server transaction -> the id of the session it answered, so an ACK timeout needs no scan */
  sessionByInviteTx: WeakMap<InviteServerTransaction, string>;
  /** caps for the maps above */
  maxPending: number;
}

export function transportMeta(source: 'network' | 'application', transport: TransportName, address: string,
  port: number, bytes: number): MessageMeta {
  return { source, bytes, protocol: transport, address, port, time: stackTime() };
}

/**
 * Meta for a request the engine sent for the app. drachtio-server reports its own sending
 * address there (sofia has not resolved the destination yet), so we do too.
 */
export function sentRequestMeta(ctx: WireContext, transport: TransportName, bytes: number): MessageMeta {
  const local = ctx.transport.localEndpoint(transport);
  return transportMeta('application', transport, local?.address ?? '', local?.port ?? 0, bytes);
}

export function inboundMeta(inbound: InboundMessage): MessageMeta {
  return transportMeta('network', inbound.source.transport, inbound.source.address, inbound.source.port, inbound.bytes);
}

/** `<sip:host:port[;transport=tcp]>` for the engine's listener on a transport (drachtio getContactUri). */
export function localContact(ctx: WireContext, transport: TransportName): string {
  // with no listener of that transport (TLS out to a registrar only), a listener we do have
  const t = ([transport, 'udp', 'tcp', 'tls'] as TransportName[]).find((x) => ctx.transport.localEndpoint(x));
  const ep = t && ctx.transport.localEndpoint(t);
  if (!t || !ep) return '<sip:invalid>';
  const host = bracketHost(ep.address);
  return `<sip:${host}:${ep.port}${t === 'udp' ? '' : `;transport=${t}`}>`;
}

export function removeSession(ctx: WireContext, dialogId: string): void {
  const s = ctx.sessions.get(dialogId);
  if (!s) return;
  ctx.sessions.delete(dialogId);
  ctx.dialogs.remove(s.dialog);
}
