import { stripBrackets, type Via } from '../messages/index.js';
import type { Destination, Peer } from './types.js';

/**
 * Where a response goes (RFC 3261 18.2.2 with RFC 3581): reliable transports reuse the
 * connection the request came on; otherwise the address the request came from (what `received`
 * says once the server has stamped it; a `received` the client wrote itself is never followed,
 * or anyone could aim our responses at a third party), and the source port when the client asked
 * for rport, else the sent-by port.
 */
export function responseDestination(via: Via, source: Peer, flowId?: string): Destination {
  const address = source.address;
  if (source.transport !== 'udp') {
    return { transport: source.transport, address: source.address, port: source.port, flowId };
  }
  const rport = via.params['rport'];
  const port = rport ? Number(rport) : (via.port ?? 5060);
  return { transport: source.transport, address: stripBrackets(address), port };
}

/** Server-side Via fix-up on receipt (RFC 3261 18.2.1, RFC 3581 4); a client's own `received` is dropped. */
export function stampReceived(via: Via, source: Peer): Via {
  const params = { ...via.params };
  delete params['received'];
  if (stripBrackets(via.host) !== source.address || 'rport' in params) params['received'] = source.address;
  if ('rport' in params) params['rport'] = String(source.port);
  return { ...via, params };
}
