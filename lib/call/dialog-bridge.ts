/**
 * Once answered, the call is two dialogs: the PBX's (caller) and the device's. The bridge relays
 * in-dialog requests both ways (re-INVITE, UPDATE, INFO, REFER, NOTIFY, MESSAGE, OPTIONS) and a BYE
 * from either side ends both. It returns the function that detaches every listener it added.
 */
import type { Logger } from '../log.js';
import { nextHop } from '../sip/max-forwards.js';
import { requestFinal, type DialogEvent, type Headers, type InboundRequest, type ServerResponse, type SipDialog } from '../sip/srf.js';

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

export function bridgeDialogs(a: SipDialog, b: SipDialog, log: Logger, onEnd: () => void): () => void {
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
    requestFinal(to, { method, headers, body: req.body }).then(
      (r) => res.send(r.status, r.reason, { headers: r.get('Content-Type') ? { 'Content-Type': r.get('Content-Type') ?? '' } : {}, body: r.body }),
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
