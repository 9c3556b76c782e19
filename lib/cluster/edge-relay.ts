/**
 * The edge of a cluster: this node holds a phone's flow (its TCP/TLS connection, or the UDP
 * address its NAT opened), and another node holds the call. That node sends the phone's INVITE
 * here with a signed grant (RELAY_HEADER); this node delivers it over the flow as a B2BUA hop:
 * provisional and final answers go back, a CANCEL goes on, and once answered the two dialogs are
 * bridged (BYE, re-INVITE, INFO ... relayed). No push is sent here: the node holding the call did.
 *
 * A grant that does not check out gets 403 and a warn line: only a cluster peer can ask.
 */
import type { Logger } from '../log.js';
import { nextHop } from '../sip/max-forwards.js';
import type { Headers, InboundRequest, ServerResponse, SipApp } from '../sip/srf.js';
import { bridgeDialogs, flowUri, SrfDeviceLeg, withoutTag } from '../call/sip-side.js';
import type { LegEvent } from '../call/call-types.js';
import { RELAY_HEADER, type GrantCheck } from './relay-grant.js';

/** The headers of the relayed INVITE that go on to the phone (the rest belong to each hop). */
const PASSED = ['To'];

export interface EdgeRelayDeps {
  app: SipApp;
  check: (grant: string | undefined) => GrantCheck;
  /** The headers that pair the INVITE with the push: passed on as they came. */
  pairingHeaders: string[];
  log: Logger;
}

export class EdgeRelay {
  /** Relayed INVITEs not yet answered: bounded like the parked calls they stand for. */
  private inFlight = 0;

  constructor(private readonly deps: EdgeRelayDeps, private readonly maxInFlight: number) {}

  /** Does this INVITE ask to be relayed (it carries a grant, good or bad)? */
  static asks(req: InboundRequest): boolean {
    return req.has(RELAY_HEADER);
  }

  /** Deliver a peer's INVITE over the phone's flow. Never throws. */
  handle = (req: InboundRequest, res: ServerResponse): void => {
    const { log } = this.deps;
    const check = this.deps.check(req.get(RELAY_HEADER));
    if (check.kind === 'refused') {
      log.warn({ callId: req.callId, source: req.source_address, why: check.why }, 'relay request refused');
      res.send(403, 'Forbidden', { headers: { Warning: `399 pushwake "relay refused: ${check.why.replace(/["\\]/g, '')}"` } });
      return;
    }
    const hops = nextHop(req.get('Max-Forwards'));
    if (hops.kind === 'exhausted') {
      res.send(483, 'Too Many Hops', {});
      return;
    }
    if (this.inFlight >= this.maxInFlight) {
      log.warn({ inFlight: this.inFlight }, 'relay request refused: too many in flight');
      res.send(503, 'Service Unavailable', { headers: { 'Retry-After': '5' } });
      return;
    }
    const { grant } = check;
    const hopLog = log.child({ callId: req.callId, deviceKey: grant.deviceKey, fromNode: grant.fromNodeId });
    const headers: Headers = { From: withoutTag(req.get('From') ?? '<sip:anonymous@anonymous.invalid>'), 'Max-Forwards': String(hops.maxForwards) };
    for (const name of [...PASSED, ...this.deps.pairingHeaders]) {
      const v = req.get(name);
      if (v !== undefined) headers[name] = v;
    }
    this.inFlight++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.inFlight--;
    };
    const onEvent = (ev: LegEvent): void => {
      if (ev.kind === 'progress') {
        if (ev.status > 100 && !res.finalResponseSent) res.send(ev.status, ev.reason, ev.sdp ? { body: ev.sdp, headers: { 'Content-Type': 'application/sdp' } } : {});
        return;
      }
      settle();
      if (ev.kind === 'failed') {
        if (!res.finalResponseSent) res.send(ev.status, ev.reason, {});
        return;
      }
      const phone = ev.dialog;
      this.deps.app.createUas(req, res, { localSdp: phone.remote.sdp }).then(
        (peer) => {
          bridgeDialogs(peer, phone, hopLog, () => undefined);
          hopLog.info('relayed call answered');
        },
        (err: unknown) => {
          // the peer cancelled as the phone answered: end the phone's side
          hopLog.info({ err: (err as Error).message }, 'relayed call gone before its answer reached the peer');
          void phone.destroy().catch(() => undefined);
        },
      );
    };
    const leg = new SrfDeviceLeg(this.deps.app, { contact: grant.contact, deviceKey: grant.deviceKey, proxy: flowUri(grant.flow) }, headers, req.body ?? '', hopLog, onEvent);
    req.on('cancel', (cancel) => {
      settle();
      leg.cancel(cancel.get('Reason') ?? 'SIP;cause=487;text="Call cancelled"');
    });
    hopLog.info({ flow: `${grant.flow.transport}/${grant.flow.sourceAddress}:${grant.flow.sourcePort}` }, 'relaying a peer\'s INVITE over the phone\'s flow');
  };
}
