import { parseUri, stripBrackets, uriTransport } from '../messages/index.js';
import type { RegisteredFlows } from './registered-flows.js';
import type { Destination } from './types.js';

/**
 * Next hop for a URI (RFC 3263 without DNS: the engine only needs IP literals and hosts the OS
 * resolves). A contact the app registered pins the request to that registration's flow.
 */
export function resolveTarget(uri: string, registered?: RegisteredFlows): Destination {
  const parsed = parseUri(uri);
  const t = uriTransport(parsed);
  if (t !== 'udp' && t !== 'tcp') throw new Error(`transport ${t} is not available`);
  const flowId = registered?.flowFor(uri);
  const address = stripBrackets(parsed.params['maddr'] ?? parsed.host);
  const port = parsed.port ?? 5060;
  if (flowId) return { transport: 'tcp', address, port, flowId };
  return { transport: t, address, port };
}
