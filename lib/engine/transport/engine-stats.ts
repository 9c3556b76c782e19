/**
 * What the embedded engine counts, as plain integers (the transport bumps them on its hot path;
 * metrics read them at scrape time). Labels are bounded: methods outside the known set count as
 * `other`, so a hostile peer cannot grow these maps.
 */
const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH']);

export type RejectReason = 'malformed' | 'too_large' | 'flood' | 'connection_limit' | 'tls_handshake' | 'stream';

export class EngineStats {
  readonly received = new Map<string, number>();
  readonly sent = new Map<string, number>();
  readonly rejected = new Map<RejectReason, number>();

  in(method: string | undefined): void {
    bump(this.received, label(method));
  }

  out(method: string | undefined): void {
    bump(this.sent, label(method));
  }

  reject(reason: RejectReason): void {
    bump(this.rejected, reason);
  }
}

/** A request's method (bounded), or `response`. */
function label(method: string | undefined): string {
  if (method === undefined) return 'response';
  return KNOWN_METHODS.has(method) ? method : 'other';
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
