/**
 * What runs before a call exists (jambonz's middleware): is the source trusted, is it a new call,
 * is there room, who is called. Then it creates the IncomingCall and hands it the parked INVITE.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Binding } from '../domain/binding.js';
import { FieldLog, type CallLog, type Logger } from '../log.js';
import type { BindingStore } from '../store/binding-store.js';
import { isStoreUnavailable, storeUnavailableAnswer } from '../store/guarded-store.js';
import { aorOf, parseNameAddr, parseSipUri } from '../sip/name-addr.js';
import type { InboundRequest, ServerResponse, SipApp } from '../sip/srf.js';
import type { CallBook } from './call-book.js';
import type { CallerSide, CallIdentity } from './call-types.js';
import { callerInfoOf } from './caller-info.js';
import type { IncomingCall } from './incoming-call.js';
import { SrfCallerSide } from './sip-side.js';
import { sanitizeReason } from './reason.js';
import { readOffer } from './sdp-offer.js';
import { nextHop } from '../sip/max-forwards.js';
import type { TrustedSources } from './trusted-sources.js';
import type { Trace } from '../trace.js';

/**
 * INVITEs whose callee look-up is still in the store at once. Past it they get 503 like a full
 * book: a store that slows down must not pile up parked requests without bound.
 */
const MAX_ARRIVING = 1000;

export interface IntakeDeps {
  app: SipApp;
  store: BindingStore;
  book: CallBook;
  trusted: TrustedSources;
  contactUserPrefix: string;
  retryAfterSeconds: number;
  /** Retry-After on the 503 an INVITE gets while the store is unavailable. */
  storeRetryAfterSeconds: number;
  /** Told of each INVITE the store failed (pushwake logs it, rate-limited). */
  onStoreUnavailable?: (err: Error) => void;
  log: Logger;
  trace?: Trace;
  createCall: (identity: CallIdentity, caller: CallerSide, log: CallLog) => IncomingCall;
}

export class CallIntake {
  /** INVITE keys between arrival and their IncomingCall (store lookups are async). */
  private readonly arriving = new Set<string>();
  /** Look-ups deciding whether an INVITE is pushwake's at all (mounted mode), in flight now. */
  private lookups = 0;


  constructor(private readonly deps: IntakeDeps) {}

  /**
   * The srf INVITE handler. With `pass` (a mounted pushwake whose host takes what is not
   * pushwake's), an INVITE that names no device contact goes to `pass` unless it comes from a
   * trusted source for a user pushwake holds devices of; what is passed on is never answered here.
   */
  handle = (req: InboundRequest, res: ServerResponse, pass?: () => void): void => {
    this.deps.trace?.({ kind: 'invite-received', callId: req.callId, at: performance.now() });
    this.take(req, res, pass).catch((err: unknown) => {
      if (isStoreUnavailable(err)) {
        this.deps.onStoreUnavailable?.(err);
        const answer = storeUnavailableAnswer(this.deps.storeRetryAfterSeconds);
        if (!res.finalResponseSent) res.send(answer.status, answer.reason, { headers: answer.headers });
        return;
      }
      this.deps.log.error({ err, callId: req.callId }, 'INVITE intake failed');
      if (!res.finalResponseSent) res.send(500, 'Server Internal Error', {});
    });
  };

  private async take(req: InboundRequest, res: ServerResponse, pass?: () => void): Promise<void> {
    const d = this.deps;
    let known: Callee | undefined;
    if (pass && !this.namesDevice(req.uri)) {
      const claim = await this.claimByUser(req);
      if (claim.kind === 'pass') {
        pass();
        return;
      }
      if (claim.kind === 'cancelled') return;
      if (claim.kind !== 'ours') {
        d.log.warn({ callId: req.callId, uri: req.uri, lookups: this.lookups }, 'INVITE refused: too many callee look-ups in flight');
        res.send(503, 'Service Unavailable', { headers: { 'Retry-After': String(d.retryAfterSeconds) } });
        return;
      }
      known = claim.callee;
    }
    const admission = this.admit(req);
    if (admission.kind === 'refuse') {
      d.log[admission.level]({ callId: req.callId, uri: req.uri, source: req.source_address, why: admission.why }, 'INVITE refused');
      res.send(admission.status, admission.reason, { headers: admission.headers });
      return;
    }
    const { inviteKey, maxForwards, sdp } = admission;
    let cancelled: string | undefined | null = null;
    let call: IncomingCall | undefined;
    req.on('cancel', (msg) => {
      const reason = sanitizeReason(msg.get('Reason'));
      if (call) call.callerCancelled(reason);
      else cancelled = reason;
    });
    this.arriving.add(inviteKey);
    let callee: Callee | undefined = known;
    try {
      callee ??= await this.findCallee(req);
    } catch (err) {
      // cancelled meanwhile: the engine has answered 487 already, and a second final response
      // would make drachtio-srf forget another INVITE with this Call-ID
      if (cancelled !== null) return;
      throw err;
    } finally {
      this.arriving.delete(inviteKey);
    }
    if (cancelled !== null) return;
    if (!callee) {
      d.log.info({ callId: req.callId, uri: req.uri }, 'INVITE for an unknown user');
      res.send(404, 'Not Found', {});
      return;
    }
    const identity: CallIdentity = {
      callId: req.callId,
      inviteKey,
      callUuid: randomUUID(),
      pushHint: randomBytes(8).toString('hex'),
      aor: callee.aor,
      caller: callerInfoOf((n) => req.get(n), sdp),
    };
    const offer = { from: req.get('From') ?? '<sip:anonymous@anonymous.invalid>', sdp, maxForwards };
    const log = new FieldLog(d.log, { callId: identity.callId, aor: identity.aor, callUuid: identity.callUuid });
    call = d.createCall(identity, new SrfCallerSide(d.app, req, res, offer), log);
    d.book.add(call);
    call.start(callee.bindings);
  }

  /** The checks that need no store: who may call, is it new, can it connect, is there room. */
  private admit(req: InboundRequest): Admission {
    const d = this.deps;
    if (!d.trusted.allows(req.source_address)) {
      return refuse(403, 'Forbidden', 'warn', 'source not in upstream.trustedSources', true);
    }
    const inviteKey = inviteKeyOf(req.callId, req.uri);
    if (d.book.has(inviteKey) || this.arriving.has(inviteKey)) {
      // The same call re-sent on a new transaction (RFC 3261 8.2.2.2 merged request).
      return refuse(482, 'Loop Detected', 'info', 'a call already in progress');
    }
    const hops = nextHop(req.get('Max-Forwards'));
    if (hops.kind === 'exhausted') return refuse(483, 'Too Many Hops', 'warn', 'Max-Forwards 0 (a routing loop?)');
    // Without an offer the device's answer would need the caller's ACK to complete: pushwake
    // forwards offers, it does not hold answers back for late ACKs. And a push for a call whose
    // body no phone can answer would be a push for a call that cannot connect.
    const offer = readOffer(req.get('Content-Type'), req.body ?? '');
    if (offer.kind === 'refused') {
      const refusal = refuse(offer.status, offer.status === 415 ? 'Unsupported Media Type' : 'Not Acceptable Here', 'info', offer.why, true);
      return { ...refusal, headers: { ...offer.headers, ...refusal.headers } };
    }
    if (d.book.isFull() || this.arriving.size + this.lookups >= MAX_ARRIVING) {
      return { ...refuse(503, 'Service Unavailable', 'warn', `too many parked calls (${d.book.size})`), headers: { 'Retry-After': String(d.retryAfterSeconds) } };
    }
    return { kind: 'admit', inviteKey, maxForwards: hops.maxForwards, sdp: offer.sdp };
  }

  /** The Request-URI is a device contact pushwake registered upstream (`pw-…`): always pushwake's. */
  private namesDevice(requestUri: string): boolean {
    return parseSipUri(requestUri)?.user?.startsWith(this.deps.contactUserPrefix) ?? false;
  }

  /**
   * Is an INVITE that names no device contact pushwake's? Only from a trusted source (the PBX) for
   * a user with devices in the store. Store look-ups in flight count against the intake's bound.
   */
  private async claimByUser(req: InboundRequest): Promise<{ kind: 'pass' | 'cancelled' | 'busy' } | { kind: 'ours'; callee: Callee }> {
    if (!this.deps.trusted.allows(req.source_address)) return { kind: 'pass' };
    if (this.arriving.size + this.lookups >= MAX_ARRIVING) return { kind: 'busy' };
    let cancelled = false;
    const onCancel = (): void => {
      cancelled = true;
    };
    req.on('cancel', onCancel);
    this.lookups++;
    try {
      const callee = await this.findCallee(req);
      // cancelled meanwhile: the engine answered 487, there is nothing left to pass on or take
      if (cancelled) return { kind: 'cancelled' };
      return callee ? { kind: 'ours', callee } : { kind: 'pass' };
    } finally {
      this.lookups--;
      req.removeListener('cancel', onCancel);
    }
  }

  /** The device pushwake registered upstream (Request-URI user), else every device of the AOR. */
  private async findCallee(req: InboundRequest): Promise<Callee | undefined> {
    const uri = parseSipUri(req.uri);
    if (uri?.user?.startsWith(this.deps.contactUserPrefix)) {
      // A device contact names one device: never fall back to the whole AOR, or the PBX's
      // per-contact fork would push the other devices twice under different Call-IDs.
      const b = await this.deps.store.findByLocalContact(uri.user);
      return b ? { aor: b.aor, bindings: [b] } : undefined;
    }
    const to = parseNameAddr(req.get('To') ?? '');
    const toUri = to ? parseSipUri(to.uri) : undefined;
    const byUri = uri && aorOf(uri);
    const byTo = toUri && aorOf(toUri);
    // the To names the same user as the Request-URI in most calls: one look-up then, not two
    for (const aor of byTo === byUri ? [byUri] : [byUri, byTo]) {
      if (!aor) continue;
      const bindings = await this.deps.store.listBindings(aor);
      if (bindings.length > 0) return { aor, bindings };
    }
    return undefined;
  }
}

/** Who an INVITE calls: the AOR and the devices to ring. */
interface Callee {
  aor: string;
  bindings: Binding[];
}

/** What the checks before the store decided. */
type Admission =
  | { kind: 'refuse'; status: number; reason: string; headers: Record<string, string>; level: 'info' | 'warn'; why: string }
  | { kind: 'admit'; inviteKey: string; maxForwards: number; sdp: string };

/** A refusal; `warn` puts the why in a Warning header the PBX's logs show (RFC 3261 20.43). Pure. */
function refuse(status: number, reason: string, level: 'info' | 'warn', why: string, warn = false): Extract<Admission, { kind: 'refuse' }> {
  return { kind: 'refuse', status, reason, level, why, headers: warn ? { Warning: `399 pushwake "${why.replace(/["\\]/g, '')}"` } : {} };
}

/**
 * Which INVITEs are one call. A forking proxy (Kamailio, OpenSIPS: RFC 3261 16.6) sends one INVITE
 * per registered contact, all with the caller's Call-ID, From tag and CSeq. pushwake registered
 * one contact per device, so INVITEs to different device contacts are different UAS's calls, not
 * a merged request: only the same Call-ID to the same Request-URI user again is (482). Pure.
 */
export function inviteKeyOf(callId: string, requestUri: string): string {
  return `${callId}\n${parseSipUri(requestUri)?.user ?? ''}`;
}
