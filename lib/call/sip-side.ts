/**
 * A call's SIP side, in one place: the parked INVITE from the PBX (`SrfCallerSide`), the INVITE
 * to each device (`SrfLegs`, one `SrfDeviceLeg` per device, with the headers it shares with ended
 * notices), and the bridge between the two dialogs once a device answers. Everything here talks
 * drachtio-srf through `lib/sip/srf.ts`; IncomingCall sees only the CallerSide and DeviceLeg
 * seams, so its decisions run with fakes in tests.
 */
import type { Binding, Flow } from '../domain/binding.js';
import type { CallLog } from '../log.js';
import { nextHop } from '../sip/max-forwards.js';
import {
  isSipStatusError, requestFinal,
  type DialogEvent, type Headers, type InboundRequest, type OutboundRequest, type ServerResponse, type SipApp, type SipDialog,
} from '../sip/srf.js';
import type { CallerOffer, CallerSide, CallIdentity, DeviceLeg, LegEvent } from './call-types.js';
import type { Trace } from '../trace.js';
import { hostPort } from '../net-address.js';

// ---- the INVITE to a device (a call leg, or an ended notice) ----

/** The next hop that reaches a device over its registration flow (RFC 5626 style reuse). */
export function flowUri(flow: Flow): string {
  return `sip:${hostPort(flow.sourceAddress, flow.sourcePort)};transport=${flow.transport}`;
}

/** A From header for a new dialog: the caller's identity without its tag. */
export function withoutTag(nameAddr: string): string {
  return nameAddr.replace(/;\s*tag=[^;,]*/i, '');
}

/** The names of the headers that pair a SIP INVITE with the push the app already reported. */
export interface LegHeaders {
  pushHintHeader: string;
  callUuidHeader: string;
}

/**
 * The headers of every INVITE pushwake sends a device, for a call or for an ended notice: the app
 * finds the CallKit call it reported by the push hint and the call UUID.
 */
export function deviceInviteHeaders(names: LegHeaders, to: { aor: string; from: string; pushHint: string; callUuid: string }): Headers {
  return {
    From: withoutTag(to.from),
    To: `<${to.aor}>`,
    [names.pushHintHeader]: to.pushHint,
    [names.callUuidHeader]: to.callUuid,
  };
}

/**
 * Where a device's INVITE goes, and what it carries for that hop besides the call's headers:
 * the device's contact through `proxy` (its flow), or `uri` (another node, which takes it on).
 */
export interface LegRoute {
  uri?: string;
  proxy?: string;
  headers?: Headers;
}

/** A device's own flow on this node: straight over it. */
export const viaOwnFlow = (b: Binding): LegRoute => ({ proxy: flowUri(b.flow) });

/** Starts the legs of every call: one object, shared, so parked calls carry no closures. */
export class SrfLegs {
  constructor(
    private readonly app: SipApp,
    private readonly names: LegHeaders,
    private readonly trace?: Trace,
    /** The next hop to a device (another node's, in a cluster); default its own flow. */
    private readonly route: (b: Binding) => LegRoute = viaOwnFlow,
  ) {}

  start(binding: Binding, call: CallIdentity, offer: CallerOffer, log: CallLog, onEvent: (ev: LegEvent) => void): DeviceLeg {
    this.trace?.({ kind: 'leg-sending', callId: call.callId, deviceKey: binding.deviceKey, at: performance.now() });
    const route = this.route(binding);
    const headers = {
      ...deviceInviteHeaders(this.names, { aor: binding.aor, from: offer.from, pushHint: call.pushHint, callUuid: call.callUuid }),
      'Max-Forwards': String(offer.maxForwards),
      ...route.headers,
    };
    const target: LegTarget = { contact: route.uri ?? binding.contact, deviceKey: binding.deviceKey, ...(route.proxy ? { proxy: route.proxy } : {}) };
    return new SrfDeviceLeg(this.app, target, headers, offer.sdp, log, onEvent);
  }
}

/** Whom a device leg INVITEs: its contact, reached through `proxy` when given. */
export interface LegTarget {
  contact: string;
  deviceKey: string;
  proxy?: string;
}

/** One INVITE to one device, sent over the flow it registered on; CANCELled or BYEd on request. */
export class SrfDeviceLeg implements DeviceLeg {
  private sent: OutboundRequest | undefined;
  private cancelReason: string | undefined;
  private finished = false;

  constructor(
    app: SipApp,
    private readonly target: LegTarget,
    headers: Headers,
    sdp: string,
    private readonly log: CallLog,
    private readonly onEvent: (ev: LegEvent) => void,
  ) {
    app
      .createUac(target.contact, { headers, ...(sdp ? { localSdp: sdp } : {}), ...(target.proxy ? { proxy: target.proxy } : {}) }, {
        onRequestSent: (req) => {
          this.sent = req;
          if (this.cancelReason !== undefined) this.sendCancel(req, this.cancelReason);
        },
        onProvisional: (res) => {
          if (this.finished || this.cancelReason !== undefined) return;
          onEvent({ kind: 'progress', status: res.status, reason: res.reason, ...(res.body ? { sdp: res.body } : {}) });
        },
      })
      .then((dialog) => this.answered(dialog), (err: unknown) => this.failed(err));
  }

  get deviceKey(): string {
    return this.target.deviceKey;
  }

  cancel(reason: string): void {
    if (this.finished || this.cancelReason !== undefined) return;
    this.cancelReason = reason;
    if (this.sent) this.sendCancel(this.sent, reason);
  }

  private answered(dialog: SipDialog): void {
    this.finished = true;
    if (this.cancelReason !== undefined) {
      // Answered as we cancelled: end it at once, saying why.
      void dialog.destroy({ headers: { Reason: this.cancelReason } }).catch(() => undefined);
      return;
    }
    this.onEvent({ kind: 'answered', dialog });
  }

  private failed(err: unknown): void {
    this.finished = true;
    if (isSipStatusError(err)) {
      this.onEvent({ kind: 'failed', status: err.status, reason: err.res?.reason ?? err.message });
      return;
    }
    this.log.warn({ err, deviceKey: this.target.deviceKey }, 'INVITE to device could not be sent');
    this.onEvent({ kind: 'failed', status: 480, reason: 'Temporarily Unavailable' });
  }

  private sendCancel(req: OutboundRequest, reason: string): void {
    req.cancel({ headers: { Reason: reason } }, (err) => {
      if (err) this.log.debug({ err, deviceKey: this.target.deviceKey }, 'CANCEL not sent');
    });
  }
}

// ---- the PBX's side ----

/** The parked INVITE over drachtio-srf (a class: one per parked call, no closures). */
export class SrfCallerSide implements CallerSide {
  constructor(
    private readonly app: SipApp,
    private readonly req: InboundRequest,
    private readonly res: ServerResponse,
    readonly offer: CallerOffer,
  ) {}

  provisional(status: number, reason: string, sdp?: string): void {
    if (this.res.finalResponseSent) return;
    this.res.send(status, reason, sdp ? { body: sdp, headers: { 'Content-Type': 'application/sdp' } } : {});
  }

  reject(status: number, reason: string, headers: Headers): void {
    if (this.res.finalResponseSent) return;
    this.res.send(status, reason, { headers });
  }

  answer(sdp: string, headers: Headers): Promise<SipDialog> {
    return this.app.createUas(this.req, this.res, { localSdp: sdp, headers });
  }
}

// ---- once answered: two dialogs, one call ----

/*
 * The bridge relays in-dialog requests both ways (re-INVITE, UPDATE, INFO, REFER, NOTIFY, MESSAGE,
 * OPTIONS) and a BYE from either side ends both. It returns the function that detaches every
 * listener it added.
 */
const RELAYED: Array<{ event: DialogEvent; method: string }> = [
  { event: 'modify', method: 'INVITE' },
  { event: 'update', method: 'UPDATE' },
  { event: 'info', method: 'INFO' },
  { event: 'refer', method: 'REFER' },
  { event: 'notify', method: 'NOTIFY' },
  { event: 'message', method: 'MESSAGE' },
  { event: 'options', method: 'OPTIONS' },
];

/** Headers worth carrying across an in-dialog relay (the rest belong to each dialog). */
const CARRIED = ['Content-Type', 'Event', 'Subscription-State', 'Refer-To', 'Referred-By', 'Info-Package', 'Reason'];

function carried(req: InboundRequest): Headers {
  const out: Headers = {};
  for (const h of CARRIED) {
    const v = req.get(h);
    if (v) out[h] = v;
  }
  return out;
}

/**
 * `towardA` rewrites each SDP body relayed to `a` (requests to it, and answers to its requests):
 * after an announcement the caller's dialog carries FreeSWITCH's SDP origin, and the phone's SDP
 * must reach the caller under it (SdpOrigin).
 */
export function bridgeDialogs(a: SipDialog, b: SipDialog, log: CallLog, onEnd: () => void, towardA?: (sdp: string) => string): () => void {
  const rewrite = (to: SipDialog, contentType: string | undefined, body: string | undefined): string | undefined =>
    towardA && to === a && body && /^application\/sdp/i.test(contentType ?? '') ? towardA(body) : body;
  let ended = false;
  // Only the bridge's own listeners are removed: drachtio-srf keeps some of its own on dialogs.
  const added: Array<{ dialog: SipDialog; event: string; fn: (...args: never[]) => void }> = [];
  const detach = (): void => {
    for (const { dialog, event, fn } of added.splice(0)) dialog.removeListener(event, fn);
  };
  const hangup = (from: SipDialog, to: SipDialog, bye: { get(n: string): string | undefined }): void => {
    if (ended) return;
    ended = true;
    const reason = bye.get('Reason');
    detach();
    void to.destroy(reason ? { headers: { Reason: reason } } : {}).catch((err: unknown) => log.debug({ err }, 'BYE relay failed'));
    log.info({ side: from === a ? 'caller' : 'device' }, 'hangup');
    onEnd();
  };
  const relay = (to: SipDialog, method: string) => (req: InboundRequest, res: ServerResponse): void => {
    const hops = nextHop(req.get('Max-Forwards'));
    if (hops.kind === 'exhausted') {
      res.send(483, 'Too Many Hops', {});
      return;
    }
    const headers = { ...carried(req), 'Max-Forwards': String(hops.maxForwards) };
    const from = to === a ? b : a;
    requestFinal(to, { method, headers, body: rewrite(to, req.get('Content-Type'), req.body) }).then(
      (r) => res.send(r.status, r.reason, { headers: r.get('Content-Type') ? { 'Content-Type': r.get('Content-Type') ?? '' } : {}, body: rewrite(from, r.get('Content-Type'), r.body) }),
      (err: unknown) => {
        log.warn({ err, method }, 'in-dialog relay failed');
        if (!res.finalResponseSent) res.send(500, 'Server Internal Error', {});
      },
    );
  };
  for (const [from, to] of [[a, b], [b, a]] as const) {
    const onBye = (bye: { get(n: string): string | undefined }): void => hangup(from, to, bye);
    from.on('destroy', onBye);
    added.push({ dialog: from, event: 'destroy', fn: onBye });
    for (const { event, method } of RELAYED) {
      const fn = relay(to, method);
      from.on(event, fn);
      added.push({ dialog: from, event, fn });
    }
  }
  return () => {
    if (ended) return;
    ended = true;
    detach();
    void a.destroy().catch(() => undefined);
    void b.destroy().catch(() => undefined);
  };
}
