import { SipParseError } from './errors.js';
import { paramRecord } from './params.js';
import { isValidHost } from './uri.js';

/** Transports a Via may name (RFC 3261 20.42, RFC 4168 SCTP, RFC 7118 WebSocket). */
const VIA_TRANSPORTS = new Set(['UDP', 'TCP', 'TLS', 'SCTP', 'TLS-SCTP', 'WS', 'WSS']);

export interface Via {
  protocol: string;
  /** upper-case: UDP, TCP, TLS, WS, WSS */
  transport: string;
  host: string;
  port?: number;
  params: Record<string, string>;
}

const VIA_RE = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z-]+)\s+([^;\s]+)\s*(;.*)?$/;

export function parseVia(value: string): Via {
  const m = VIA_RE.exec(value.trim());
  if (!m) throw new SipParseError('SIP_BAD_VIA', `bad Via: ${value}`);
  const sentBy = m[2]!;
  let host = sentBy;
  let port: number | undefined;
  const v6 = sentBy.startsWith('[');
  const colon = v6 ? sentBy.indexOf(']:') + 1 : sentBy.lastIndexOf(':');
  if (colon > 0) {
    host = sentBy.slice(0, colon);
    const p = sentBy.slice(colon + 1);
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) throw new SipParseError('SIP_BAD_VIA', `bad Via port: ${value}`);
    port = Number(p);
  }
  if (!host || !isValidHost(host)) throw new SipParseError('SIP_BAD_VIA', `bad Via host: ${value.slice(0, 80)}`);
  const transport = m[1]!.toUpperCase();
  if (!VIA_TRANSPORTS.has(transport)) throw new SipParseError('SIP_BAD_VIA', `unknown Via transport: ${transport.slice(0, 20)}`);
  const params = paramRecord(m[3] ?? '');
  const rport = params['rport'];
  if (rport !== undefined && rport !== '' && (!/^\d{1,5}$/.test(rport) || Number(rport) > 65535)) throw new SipParseError('SIP_BAD_VIA', `bad Via rport: ${rport.slice(0, 20)}`);
  return { protocol: 'SIP/2.0', transport, host, port, params };
}

export function formatVia(via: Via): string {
  let s = `SIP/2.0/${via.transport} ${via.host}${via.port !== undefined ? `:${via.port}` : ''}`;
  for (const [k, v] of Object.entries(via.params)) s += v === '' ? `;${k}` : `;${k}=${v}`;
  return s;
}
