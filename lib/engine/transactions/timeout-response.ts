import { buildResponse, type SipRequest, type SipResponse } from '../messages/index.js';

/** What the TU sees when a client transaction times out (RFC 3261 17.1.1.2: "408"). */
export function timeoutResponse(req: SipRequest): SipResponse {
  return buildResponse(req, 408, 'Request Timeout');
}

/** What the TU sees when the transport cannot deliver (RFC 3261 8.1.3.1: treat as 503). */
export function transportErrorResponse(req: SipRequest): SipResponse {
  return buildResponse(req, 503, 'Service Unavailable');
}
