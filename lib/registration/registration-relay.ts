/**
 * The registration B2BUA: a phone's REGISTER is answered by pushwake itself (so the engine keeps
 * the phone's flow for the INVITE) after relaying a REGISTER of its own upstream, whose Contact
 * points at pushwake. The upstream registrar authenticates the phone: its Authorization is carried
 * across and 401/407 challenges are handed back. A Binding is stored only after the upstream 2xx.
 */
import type { Binding, Edge, Flow, SipTransport } from '../domain/binding.js';
import type { Logger } from '../log.js';
import { FieldLog, ThrottledWarning, tokenPrefix, type CallLog } from '../log.js';
import type { BindingStore } from '../store/binding-store.js';
import { parseContactList, parseSipUri } from '../sip/name-addr.js';
import type { Headers, InboundRequest, InboundResponse, ServerResponse, SipApp } from '../sip/srf.js';
import { readRegister, type RegisterIntent, type RegisterSettings } from './register-request.js';
import { featureCapsPns } from './push-data.js';
import { UpstreamCSeq } from './upstream-cseq.js';
import { KeyedSerialiser } from '../store/keyed-serialiser.js';
import { isStoreUnavailable, storeUnavailableAnswer } from '../store/guarded-store.js';
import { nextHop } from '../sip/max-forwards.js';
import type { LocalAddress } from '../sip/local-address.js';
import type { Trace } from '../trace.js';

export interface RelaySettings extends RegisterSettings {
  registrar: string;
  upstreamExpires: number;
  registerTimeoutMs: number;
  /**
   * Where pushwake is reached: the host and transport of the Contact it registers upstream, and
   * the addresses that are pushwake itself (a phone whose REGISTER names pushwake as its
   * Request-URI is relayed with the registrar's URI instead, or it would go to pushwake again).
   */
  local: Pick<LocalAddress, 'host' | 'transport' | 'selfAddresses'>;
  /** In a cluster: this node, as the edge that holds the flows of the phones registered here. */
  edge?: () => Edge;
}

export interface DeviceRegistered {
  binding: Binding;
  pushHint?: string;
}

export interface RegistrationRelayDeps {
  app: SipApp;
  store: BindingStore;
  settings: RelaySettings;
  log: Logger;
  now?: () => number;
  /** Retry-After on the 503 a REGISTER gets while the store is unavailable (default 5). */
  storeRetryAfterSeconds?: number;
  /** Told of each request the store failed (pushwake logs it, rate-limited). */
  onStoreUnavailable?: (err: Error) => void;
  /** Told as the upstream 2xx for a device's registration arrives (benchmarks, metrics). */
  trace?: Trace;
  /** Called after the phone got its 200, for every successful (re-)registration. */
  onDeviceRegistered: (event: DeviceRegistered) => void;
  /** A device (or, without deviceKey, every device of the AOR) unregistered and was removed. */
  onDeviceUnregistered?: (aor: string, deviceKey?: string) => void;
}

const PASSED_UPSTREAM = ['Authorization', 'Proxy-Authorization', 'User-Agent'];
/**
 * Option tags of the phone's that describe its own Contact (RFC 5626 outbound, RFC 5627 GRUU).
 * The Contact registered upstream is pushwake's, with no +sip.instance or reg-id, so claiming
 * them there would be false.
 */
const PHONE_ONLY_OPTIONS = new Set(['outbound', 'gruu']);
const PASSED_DOWNSTREAM = ['WWW-Authenticate', 'Proxy-Authenticate', 'Min-Expires', 'Retry-After', 'Date'];

export class RegistrationRelay {
  private readonly now: () => number;
  private readonly cseq = new UpstreamCSeq(10_000);
  private readonly inOrder = new KeyedSerialiser();
  /** Largest Min-Expires the registrar asked for (423); later REGISTERs ask at least that. */
  private upstreamMinExpires = 0;
  private readonly registrarSilent: ThrottledWarning;

  constructor(private readonly deps: RegistrationRelayDeps) {
    this.now = deps.now ?? Date.now;
    this.registrarSilent = new ThrottledWarning(deps.log, 'registrar did not answer a relayed REGISTER in time; the phone got 504', 10_000, this.now);
  }

  /** What REGISTERs are read with (the mounted middleware decides with them which are pushwake's). */
  get settings(): RelaySettings {
    return this.deps.settings;
  }

  /** The srf REGISTER handler. Never throws: every failure becomes a SIP answer and a log line. */
  handle = (req: InboundRequest, res: ServerResponse): void => {
    // One device's REGISTERs are relayed and committed in arrival order: an unregister racing a
    // register, or two flows after a network change, must not leave the older one stored.
    const key = `${req.get('To') ?? ''}\n${req.callId}`;
    this.inOrder.run(key, () => this.relay(req, res)).catch((err: unknown) => {
      if (isStoreUnavailable(err)) {
        this.deps.onStoreUnavailable?.(err);
        const answer = storeUnavailableAnswer(this.deps.storeRetryAfterSeconds ?? 5);
        if (!res.finalResponseSent) res.send(answer.status, answer.reason, { headers: answer.headers });
        return;
      }
      this.deps.log.error({ err, callId: req.callId }, 'REGISTER relay failed');
      if (!res.finalResponseSent) res.send(500, 'Server Internal Error', {});
    });
  };

  private async relay(req: InboundRequest, res: ServerResponse): Promise<void> {
    const intent = readRegister((n) => req.get(n), this.deps.settings);
    // fields merged only into lines written: most REGISTERs log nothing, and a pino child per REGISTER costs
    const log = new FieldLog(this.deps.log, { callId: req.callId, ...('aor' in intent ? { aor: intent.aor } : {}) });
    const hops = nextHop(req.get('Max-Forwards'));
    if (hops.kind === 'exhausted') {
      log.warn({ source: req.source_address }, 'REGISTER with Max-Forwards 0 refused (relay loop?)');
      res.send(483, 'Too Many Hops', {});
      return;
    }
    if (intent.kind === 'reject') {
      log.info({ status: intent.status, why: intent.reason, source: req.source_address }, 'REGISTER refused');
      res.send(intent.status, intent.reason, { headers: intent.headers ?? {} });
      return;
    }
    if (intent.kind === 'register' && intent.push.kind === 'invalid') {
      log.warn({ why: intent.push.reason }, 'REGISTER carries unusable push data; relaying without push');
    }
    if (intent.kind === 'register' && intent.identityWarning) {
      log.warn({ why: intent.identityWarning }, 'REGISTER carries an unusable +sip.instance; keying the device by its token');
    }
    const resolved = intent.kind === 'unregister' ? await this.resolveUnregister(intent) : intent;
    // Read the current binding while the registrar answers, not after: it is on the wake path.
    const existing = resolved.kind === 'register' ? this.deps.store.getBinding(resolved.aor, resolved.deviceKey) : undefined;
    existing?.catch(() => undefined);
    const upstream = await this.sendUpstream(req, resolved, hops.maxForwards, log);
    if (!upstream) {
      res.send(504, 'Server Time-out', {});
      return;
    }
    if (upstream.status < 200 || upstream.status >= 300) {
      log.info({ status: upstream.status }, 'upstream refused REGISTER; passed to the phone');
      res.send(upstream.status, upstream.reason, { headers: copyHeaders(upstream, PASSED_DOWNSTREAM) });
      return;
    }
    if (resolved.kind === 'register') this.deps.trace?.({ kind: 'upstream-register-ok', aor: resolved.aor, deviceKey: resolved.deviceKey, at: performance.now() });
    await this.commit(req, res, resolved, upstream, log, existing);
  }

  /**
   * A phone often unregisters without repeating its push token, so its key may differ from the
   * stored one: fall back to the binding with the same contact URI.
   */
  private async resolveUnregister(intent: Extract<RegisterIntent, { kind: 'unregister' }>): Promise<Extract<RegisterIntent, { kind: 'unregister' }>> {
    if (await this.deps.store.getBinding(intent.aor, intent.deviceKey)) return intent;
    const match = (await this.deps.store.listBindings(intent.aor)).find((b) => b.contact === intent.contactUri);
    return match ? { ...intent, deviceKey: match.deviceKey, localContactUser: match.localContactUser } : intent;
  }

  private async commit(
    req: InboundRequest,
    res: ServerResponse,
    intent: Exclude<RegisterIntent, { kind: 'reject' }>,
    upstream: InboundResponse,
    log: CallLog,
    current: Promise<Binding | undefined> | undefined,
  ): Promise<void> {
    if (intent.kind === 'unregister-all') {
      for (const b of await this.deps.store.listBindings(intent.aor)) await this.deps.store.removeBinding(b.aor, b.deviceKey);
      log.info('all devices unregistered');
      this.deps.onDeviceUnregistered?.(intent.aor);
      res.send(200, 'OK', {});
      return;
    }
    if (intent.kind === 'unregister') {
      await this.deps.store.removeBinding(intent.aor, intent.deviceKey);
      log.info({ deviceKey: intent.deviceKey }, 'device unregistered');
      this.deps.onDeviceUnregistered?.(intent.aor, intent.deviceKey);
      res.send(200, 'OK', {});
      return;
    }
    const now = this.now();
    const granted = grantedExpires(upstream, intent.localContactUser) ?? this.requestedExpires();
    // A registrar may shorten what was asked (RFC 3261 10.3): the binding lives only as long as
    // the PBX routes to pushwake, and the phone refreshes within that.
    const deviceExpires = Math.max(1, Math.min(intent.deviceExpires, granted));
    const existing = await current;
    const binding: Binding = {
      aor: intent.aor,
      deviceKey: intent.deviceKey,
      ...(intent.instanceId ? { instanceId: intent.instanceId } : {}),
      contact: intent.contact.uri,
      flow: flowOf(req),
      ...(intent.push.kind === 'valid' ? { push: intent.push.push } : {}),
      ...(intent.alertToken && intent.push.kind === 'valid' && intent.push.push.provider === 'apns' ? { alertToken: intent.alertToken } : {}),
      localContactUser: intent.localContactUser,
      upstreamCallId: req.callId,
      deviceExpiresAt: now + deviceExpires * 1000,
      upstreamExpiresAt: now + granted * 1000,
      createdAt: existing?.createdAt ?? now,
      registeredAt: now,
      ...(this.deps.settings.edge ? { edge: this.deps.settings.edge() } : {}),
    };
    await this.deps.store.putBinding(binding);
    const headers: Headers = {
      Contact: `<${intent.contact.uri}>;expires=${deviceExpires}`,
      Expires: String(deviceExpires),
    };
    // RFC 8599 4.1.1: a 2xx to a REGISTER with pn-* params says which services the proxy serves.
    // No +sip.pnsreg: it would promise pushes that only refresh a binding, and a VoIP push must
    // always be a call (docs: "Phones and apps").
    if (intent.push.kind === 'valid' && intent.push.source === 'rfc8599') headers['Feature-Caps'] = featureCapsPns(this.deps.settings.pns);
    const warnings = [intent.push.kind === 'invalid' ? intent.push.reason : undefined, intent.identityWarning].filter((w): w is string => !!w);
    if (warnings.length > 0) {
      headers['Warning'] = warnings.map((w) => `399 ${this.deps.settings.local.host} "${w.replace(/["\\]/g, '')}"`).join(', ');
    }
    log.info(
      { deviceKey: intent.deviceKey, expires: deviceExpires, upstreamExpires: granted, push: binding.push ? tokenPrefix(binding.push.token) : null },
      'device registered',
    );
    res.send(200, 'OK', { headers });
    this.deps.onDeviceRegistered({ binding, ...(intent.pushHint ? { pushHint: intent.pushHint } : {}) });
  }

  private namesSelf(uri: string): boolean {
    const target = hostPortOf(uri);
    return target !== undefined && this.deps.settings.local.selfAddresses.some((a) => hostPortOf(`sip:${a}`) === target);
  }

  private requestedExpires(): number {
    return Math.max(this.deps.settings.upstreamExpires, this.upstreamMinExpires);
  }

  /** Relay upstream; a 423 is retried once with the registrar's Min-Expires. */
  private async sendUpstream(req: InboundRequest, intent: Exclude<RegisterIntent, { kind: 'reject' }>, maxForwards: number, log: CallLog): Promise<InboundResponse | undefined> {
    let res = await this.exchange(req, intent, maxForwards);
    if (res?.status === 423 && intent.kind === 'register') {
      const min = Number(res.get('Min-Expires'));
      if (Number.isInteger(min) && min > this.upstreamMinExpires && min <= 604_800) {
        log.info({ minExpires: min }, 'registrar asked for a longer registration; retrying');
        this.upstreamMinExpires = min;
        this.cseq.bump(req.callId);
        res = await this.exchange(req, intent, maxForwards);
      }
    }
    return res;
  }

  private exchange(req: InboundRequest, intent: Exclude<RegisterIntent, { kind: 'reject' }>, maxForwards: number): Promise<InboundResponse | undefined> {
    const s = this.deps.settings;
    const expires = intent.kind === 'register' ? this.requestedExpires() : 0;
    const contact = intent.kind === 'unregister-all'
      ? '*'
      : `<sip:${intent.localContactUser}@${s.local.host};transport=${s.local.transport}>;expires=${expires}`;
    const cseqNum = this.cseq.next(req.callId, Number((req.get('CSeq') ?? '1').split(/\s+/)[0]) || 1);
    const headers: Headers = {
      From: req.get('From') ?? '',
      To: req.get('To') ?? '',
      'Call-ID': req.callId,
      CSeq: `${cseqNum} REGISTER`,
      Contact: contact,
      Expires: String(expires),
      'Max-Forwards': String(maxForwards),
      ...copyHeaders(req, PASSED_UPSTREAM),
      ...upstreamSupported(req.get('Supported')),
    };
    const requestUri = this.namesSelf(req.uri) ? s.registrar : req.uri;
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: InboundResponse | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.registrarSilent.warn({ registrar: s.registrar, aor: 'aor' in intent ? intent.aor : undefined, callId: req.callId, timeoutMs: s.registerTimeoutMs });
        finish(undefined);
      }, s.registerTimeoutMs);
      this.deps.app
        .request(requestUri, { method: 'REGISTER', headers, proxy: s.registrar }, (r) => {
          if (r.status >= 200) finish(r);
        })
        .catch((err: unknown) => {
          this.deps.log.warn({ err, registrar: s.registrar }, 'cannot send REGISTER upstream');
          finish(undefined);
        });
    });
  }
}

/** The phone's Supported option tags that still hold for pushwake's own Contact. */
export function upstreamSupported(value: string | undefined): Headers {
  const kept = (value ?? '').split(',').map((t) => t.trim()).filter((t) => t && !PHONE_ONLY_OPTIONS.has(t.toLowerCase()));
  return kept.length > 0 ? { Supported: kept.join(', ') } : {};
}

function hostPortOf(uri: string): string | undefined {
  const u = parseSipUri(uri);
  return u ? `${u.host}:${u.port ?? (u.scheme === 'sips' ? 5061 : 5060)}` : undefined;
}

function copyHeaders(msg: { get(n: string): string | undefined; has(n: string): boolean }, names: string[]): Headers {
  const out: Headers = {};
  for (const n of names) {
    const v = msg.has(n) ? msg.get(n) : undefined;
    if (v !== undefined && v !== '') out[n] = v;
  }
  return out;
}

/** The lifetime the registrar granted pushwake's contact: its expires param, else Expires. */
function grantedExpires(res: InboundResponse, localUser: string): number | undefined {
  const contacts = parseContactList(res.get('Contact') ?? '');
  if (Array.isArray(contacts)) {
    for (const c of contacts) {
      const uri = parseSipUri(c.uri);
      const e = c.params.get('expires');
      if (uri?.user === localUser && e && /^\d+$/.test(e)) return Number(e);
    }
  }
  const h = res.get('Expires');
  return h && /^\d+$/.test(h.trim()) ? Number(h.trim()) : undefined;
}

function flowOf(req: InboundRequest): Flow {
  const p = req.protocol.toLowerCase();
  const transport: SipTransport = p === 'tcp' || p === 'tls' || p === 'ws' || p === 'wss' ? p : 'udp';
  return { transport, sourceAddress: req.source_address, sourcePort: Number(req.source_port) };
}
