import { randomUUID } from 'node:crypto';

const CRLF = '\r\n';

/** A message from drachtio-srf: `msgId|command|args...` then, for sip/proxy, CRLF and a SIP message. */
export interface AppCommand {
  msgId: string;
  command: string;
  args: string[];
  sip?: string;
}

export function parseAppCommand(payload: string): AppCommand {
  const nl = payload.indexOf(CRLF);
  const leader = nl < 0 ? payload : payload.slice(0, nl);
  const tokens = leader.split('|');
  return {
    msgId: tokens[0] ?? '',
    command: tokens[1] ?? '',
    args: tokens.slice(2),
    sip: nl < 0 ? undefined : payload.slice(nl + CRLF.length),
  };
}

/** `uuid|response|<msgId>|OK|...` as drachtio-server answers API requests. */
export function apiResponse(msgId: string, ok: boolean, data?: string): string {
  return `${randomUUID()}|response|${msgId}|${ok ? 'OK' : 'NOK'}${data !== undefined ? `|${data}` : ''}`;
}

/** Synchronous refusals use NO, as drachtio-server's createResponseMsg does. */
export function apiRefusal(msgId: string, reason: string): string {
  return `${randomUUID()}|response|${msgId}|NO|${reason}`;
}

export interface MessageMeta {
  source: 'network' | 'application';
  bytes: number;
  protocol: string;
  address: string;
  port: number;
  time: string;
}

/** drachtio's `source|bytes|protocol|address|port|time` (SipMsgData_t::toMessageFormat). */
export function formatMeta(meta: MessageMeta): string {
  return `${meta.source}|${meta.bytes}|${meta.protocol}|${meta.address}|${meta.port}|${meta.time}`;
}

/** HH:MM:SS.micro in UTC, the stack time drachtio reports. */
export function stackTime(d: Date = new Date()): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds() * 1000, 6)}`;
}

/**
 * A SIP message pushed to the app: `uuid|sip|<meta>|txnId|dialogId|[destAddr|destPort|]` CRLF raw.
 * receivedOn is only given for new requests outside a dialog, as drachtio-server does.
 */
export function sipToApp(meta: MessageMeta, transactionId: string, dialogId: string, raw: string,
  receivedOn?: { address: string; port: number }): string {
  let leader = `${randomUUID()}|sip|${formatMeta(meta)}|${transactionId}|${dialogId}|`;
  if (receivedOn) leader += `${receivedOn.address}|${receivedOn.port}|`;
  return `${leader}${CRLF}${raw}`;
}

/** Payload of the OK for a request the app sent: meta|txnId|Msg sent:| CRLF raw. */
export function requestSentData(meta: MessageMeta, transactionId: string, raw: string): string {
  return `${formatMeta(meta)}|${transactionId}|Msg sent:|${CRLF}${raw}`;
}

/** Payload of the OK for a response the app sent: meta|txnId|dialogId||Msg sent:| CRLF raw. */
export function responseSentData(meta: MessageMeta, transactionId: string, dialogId: string, raw: string): string {
  return `${formatMeta(meta)}|${transactionId}|${dialogId}||Msg sent:|${CRLF}${raw}`;
}
