import { isIP } from 'node:net';
import { parseUri, stripBrackets, uriTransport } from '../messages/index.js';
import { TransportError } from './transport-error.js';
import type { Destination, StreamTransport } from './types.js';

/** What target resolution needs to know of the flows a registration pinned. */
export interface RegisteredFlowLookup {
  registeredFlow(uri: string): { flowId: string; transport: StreamTransport } | undefined;
}

/**
 * Next hop for a URI (RFC 3263 without DNS: the engine only needs IP literals and hosts the OS
 * resolves). A contact the app registered pins the request to that registration's flow.
 */
export function resolveTarget(uri: string, registered?: RegisteredFlowLookup): Destination {
  const parsed = parseUri(uri);
  const t = uriTransport(parsed);
  if (t !== 'udp' && t !== 'tcp' && t !== 'tls') throw new TransportError('ENGINE_NO_LISTENER', `transport ${t} is not available`);
  const address = stripBrackets(parsed.params['maddr'] ?? parsed.host);
  const port = parsed.port ?? (t === 'tls' ? 5061 : 5060);
  const flow = registered?.registeredFlow(uri);
  if (flow) return { transport: flow.transport, address, port, flowId: flow.flowId };
  // a hostname target's certificate must name it (RFC 5922); an IP target is checked against its IP
  return { transport: t, address, port, ...(t === 'tls' && isIP(address) === 0 ? { serverName: address } : {}) };
}
