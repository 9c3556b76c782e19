/** A DeviceLeg over drachtio-srf: one INVITE to one device, sent over the flow it registered on. */
import type { Binding, Flow } from '../domain/binding.js';
import type { Logger } from '../log.js';
import { isSipStatusError, type OutboundRequest, type SipApp } from '../sip/srf.js';
import type { CallIdentity, DeviceLeg, LegEvent } from './call-types.js';

/** The next hop that reaches a device over its registration flow (RFC 5626 style reuse). */
export function flowUri(flow: Flow): string {
  const host = flow.sourceAddress.includes(':') ? `[${flow.sourceAddress}]` : flow.sourceAddress;
  return `sip:${host}:${flow.sourcePort};transport=${flow.transport}`;
}

/** A From header for a new dialog: the caller's identity without its tag. */
export function withoutTag(nameAddr: string): string {
  return nameAddr.replace(/;\s*tag=[^;,]*/i, '');
}

export interface LegHeaders {
  pushHintHeader: string;
  callUuidHeader: string;
}

export function startSrfLeg(
  app: SipApp,
  binding: Binding,
  call: CallIdentity,
  names: LegHeaders,
  log: Logger,
  onEvent: (ev: LegEvent) => void,
): DeviceLeg {
  let sent: OutboundRequest | undefined;
  let cancelReason: string | undefined;
  let finished = false;
  const sendCancel = (req: OutboundRequest, reason: string): void =>
    req.cancel({ headers: { Reason: reason } }, (err) => {
      if (err) log.debug({ err, deviceKey: binding.deviceKey }, 'CANCEL not sent');
    });

  app
    .createUac(
      binding.contact,
      {
        headers: {
          From: withoutTag(call.from),
          To: `<${binding.aor}>`,
          [names.pushHintHeader]: call.pushHint,
          [names.callUuidHeader]: call.callUuid,
          'Max-Forwards': String(call.maxForwards),
        },
        ...(call.sdp ? { localSdp: call.sdp } : {}),
        proxy: flowUri(binding.flow),
      },
      {
        onRequestSent: (req) => {
          sent = req;
          if (cancelReason !== undefined) sendCancel(req, cancelReason);
        },
        onProvisional: (res) => {
          if (finished || cancelReason !== undefined) return;
          onEvent({ kind: 'progress', status: res.status, reason: res.reason, ...(res.body ? { sdp: res.body } : {}) });
        },
      },
    )
    .then(
      (dialog) => {
        finished = true;
        if (cancelReason !== undefined) {
          // Answered as we cancelled: end it at once, saying why.
          void dialog.destroy({ headers: { Reason: cancelReason } }).catch(() => undefined);
          return;
        }
        onEvent({ kind: 'answered', dialog });
      },
      (err: unknown) => {
        finished = true;
        if (isSipStatusError(err)) onEvent({ kind: 'failed', status: err.status, reason: err.res?.reason ?? err.message });
        else {
          log.warn({ err, deviceKey: binding.deviceKey }, 'INVITE to device could not be sent');
          onEvent({ kind: 'failed', status: 480, reason: 'Temporarily Unavailable' });
        }
      },
    );

  return {
    deviceKey: binding.deviceKey,
    cancel(reason: string): void {
      if (finished || cancelReason !== undefined) return;
      cancelReason = reason;
      if (sent) sendCancel(sent, reason);
    },
  };
}
