/**
 * Part of the testkit: shipped so the demo, benchmarks and integrators' own tests can use it.
 * Test agents that play the PBX and the phones over real SIP on loopback. They are a drachtio-srf
 * app on their own SIP engine (embedded, or a drachtio-server when DRACHTIO_BIN is set), so every
 * message crosses real UDP/TCP sockets and two SIP stacks.
 */
import { randomBytes } from 'node:crypto';
import { startEmbeddedEngine, type TlsFiles } from '../engine/index.js';
import { DEFAULT_TRANSPORT_LIMITS } from '../engine/transport/types.js';
import { createSipApp } from '../sip/srf.js';
import type { InboundRequest, InboundResponse, OutboundRequest, ServerResponse, SipApp, SipDialog } from '../sip/srf.js';
import { isSipStatusError } from '../sip/srf.js';
import { parseContactList, parseSipUri } from '../sip/name-addr.js';
import { digestAuthorization, parseDigestChallenge, type DigestCredentials } from './digest.js';

export const OFFER_SDP = ['v=0', 'o=pbx 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
export const ANSWER_SDP = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 41000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

export const waitFor = async <T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const tag = (): string => randomBytes(4).toString('hex');

export interface RecordedRegister {
  aor: string;
  contact: string;
  expires: number;
  authorization?: string;
  callId: string;
  cseq: string;
}

/** The upstream registrar and the caller. */
export class Pbx {
  readonly registers: RecordedRegister[] = [];
  /** Contact users (pushwake's per-device contacts) the registrar holds. */
  readonly bindings = new Map<string, { aor: string; expires: number }>();
  /** When true, a REGISTER without Authorization gets 401 first. */
  challenge = false;
  /** Forced answer for the next REGISTERs (e.g. 423), or undefined for the normal flow. */
  forceStatus: { status: number; reason: string; headers?: Record<string, string>; once?: boolean } | undefined;

  constructor(private readonly app: SipApp, private readonly pushwakeUri: string) {}

  /** When true, REGISTERs get no answer at all (a dead registrar). */
  silent = false;

  handleRegister(req: InboundRequest, res: ServerResponse): void {
    if (this.silent) return;
    const contacts = parseContactList(req.get('Contact') ?? '');
    const first = Array.isArray(contacts) ? contacts[0] : undefined;
    const expires = Number(first?.params.get('expires') ?? req.get('Expires') ?? '3600');
    const rec: RecordedRegister = {
      aor: req.get('To') ?? '',
      contact: first?.uri ?? String(contacts),
      expires,
      callId: req.callId,
      cseq: req.get('CSeq') ?? '',
      ...(req.get('Authorization') ? { authorization: req.get('Authorization') } : {}),
    };
    this.registers.push(rec);
    if (this.forceStatus) {
      const forced = this.forceStatus;
      if (forced.once) this.forceStatus = undefined;
      res.send(forced.status, forced.reason, { headers: forced.headers ?? {} });
      return;
    }
    if (this.challenge && !rec.authorization) {
      res.send(401, 'Unauthorized', { headers: { 'WWW-Authenticate': `Digest realm="pbx", nonce="${tag()}", algorithm=MD5` } });
      return;
    }
    const user = first ? parseSipUri(first.uri)?.user : undefined;
    if (user && expires > 0) this.bindings.set(user, { aor: rec.aor, expires });
    if (user && expires === 0) this.bindings.delete(user);
    res.send(200, 'OK', { headers: first ? { Contact: `<${first.uri}>;expires=${expires}` } : {} });
  }

  /** Call a user through pushwake: `target` is an AOR or one of pushwake's device contacts. */
  call(target: string, opts: { headers?: Record<string, string>; sdp?: string } = {}): CallAttempt {
    return new CallAttempt(this.app, target, this.pushwakeUri, opts);
  }
}

export class CallAttempt {
  readonly provisionals: number[] = [];
  /** The SDP of the first provisional response that carried one (early media). */
  earlySdp: string | undefined;
  /** performance.now() at the first provisional of each status (benchmarks). */
  readonly provisionalAt = new Map<number, number>();
  readonly done: Promise<{ status: number; reason: string; reasonHeader?: string; dialog?: SipDialog }>;
  /**
   * The SDP the 2xx carried, as it arrived: a re-INVITE in the same read from the wire may have
   * changed `dialog.remote.sdp` before `done` resolves.
   */
  answerSdp: string | undefined;
  private sent: OutboundRequest | undefined;
  private cancelWhenSent: string | undefined | null = null;

  constructor(app: SipApp, target: string, proxy: string, opts: { headers?: Record<string, string>; sdp?: string }) {
    this.done = app
      .createUac(target, { headers: { From: `"Bob Caller" <sip:1000@pbx.test>`, To: `<${target}>`, ...opts.headers }, localSdp: opts.sdp ?? OFFER_SDP, proxy }, {
        onRequestSent: (req) => {
          this.sent = req;
          req.on('response', (res) => {
            if (res.status >= 200 && res.status < 300 && this.answerSdp === undefined) this.answerSdp = res.body;
          });
          if (this.cancelWhenSent !== null) this.cancel(this.cancelWhenSent);
        },
        onProvisional: (res) => {
          this.provisionals.push(res.status);
          if (!this.provisionalAt.has(res.status)) this.provisionalAt.set(res.status, performance.now());
          if (res.body && this.earlySdp === undefined) this.earlySdp = res.body;
        },
      })
      .then(
        (dialog) => ({ status: 200, reason: 'OK', dialog }),
        (err: unknown) => {
          if (!isSipStatusError(err)) throw err;
          const reasonHeader = err.res?.get('Reason');
          return { status: err.status, reason: err.res?.reason ?? '', ...(reasonHeader ? { reasonHeader } : {}) };
        },
      );
  }

  cancel(reason?: string): void {
    if (!this.sent) {
      this.cancelWhenSent = reason;
      return;
    }
    this.sent.cancel(reason ? { headers: { Reason: reason } } : {});
  }
}

export type PhoneBehaviour = 'answer' | 'decline' | 'busy' | 'ring';
export type PushStyle = 'x-token' | 'xtoken' | 'rfc8599' | 'none' | 'bad-token' | 'fcm';

/** The Firebase project id Android test phones name (the push sink's FCM side uses the same). */
export const TEST_FCM_PROJECT = 'pushwake-sink';

export interface ReceivedInvite {
  uri: string;
  pushHint?: string;
  callUuid?: string;
  from: string;
  /** Reason of the CANCEL that ended it, if one came. */
  cancelReason?: string;
  cancelled: boolean;
  dialog?: SipDialog;
  /** The transport the INVITE arrived on. */
  protocol: string;
  /** The INVITE's SDP offer. */
  sdp: string;
}

/** A phone: it registers through pushwake with a push token and answers INVITEs per `behaviour`. */
export class Phone {
  readonly token = randomBytes(32).toString('hex');
  readonly invites: ReceivedInvite[] = [];
  behaviour: PhoneBehaviour = 'answer';
  /** The SDP it answers with (a test with real RTP sets its own socket's). */
  answerSdp = ANSWER_SDP;
  /** Wake (re-REGISTER) when a push for this phone reaches the sink. */
  wakeOnPush = true;
  private cseq = 1;
  private readonly callId = `${tag()}-${tag()}@phone`;
  private readonly fromTag = tag();
  readonly instance = `urn:uuid:${randomBytes(16).toString('hex').replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5')}`;

  constructor(
    private readonly app: SipApp,
    readonly user: string,
    readonly domain: string,
    readonly transport: 'udp' | 'tcp' | 'tls',
    /** The pushwake (node) it registers through; a phone may move to another cluster node. */
    public pushwakeHost: string,
    private readonly pushStyle: PushStyle,
    private readonly contactHostPort: string,
  ) {}

  get aor(): string {
    return `sip:${this.user}@${this.domain}`;
  }

  /** The phone's own contact user, unique per phone, so the agent app can route INVITEs. */
  get contactUser(): string {
    return `${this.user}-${this.instance.slice(9, 17)}`;
  }

  /** The Firebase project an Android phone's app belongs to (pn-param). */
  fcmProject = TEST_FCM_PROJECT;

  /** The app's regular (alert) APNs token, sent in X-Alert-Token when set. */
  alertToken: string | undefined;

  /** RFC 8599 pn-param of an iOS phone: <Team ID>.<bundle id>.voip, which names its app. */
  pnParam = 'ABCDE12345.com.example.phone.voip';

  /** The REGISTER Request-URI; default `sip:<domain>`. Phones whose domain is the proxy send it here. */
  registerUri: string | undefined;

  /**
   * Digest credentials: when set, a 401/407 to `register()` is answered once with them (a real
   * registrar such as Kamailio challenges every REGISTER). Unset: the challenge is returned.
   */
  credentials: DigestCredentials | undefined;
  /** Challenges answered with `credentials` so far. */
  challengesAnswered = 0;

  async register(opts: { expires?: number; authorization?: string; pushHint?: string } = {}): Promise<InboundResponse> {
    const res = await this.sendRegister(opts);
    if ((res.status !== 401 && res.status !== 407) || !this.credentials || opts.authorization) return res;
    const proxyAuth = res.status === 407;
    const challenge = parseDigestChallenge(res.get(proxyAuth ? 'Proxy-Authenticate' : 'WWW-Authenticate') ?? '');
    if (!challenge) return res;
    const answer = digestAuthorization(challenge, this.credentials, { method: 'REGISTER', uri: this.registerUri ?? `sip:${this.domain}` });
    this.challengesAnswered++;
    return this.sendRegister({ ...opts, ...(proxyAuth ? { proxyAuthorization: answer } : { authorization: answer }) });
  }

  private async sendRegister(opts: { expires?: number; authorization?: string; proxyAuthorization?: string; pushHint?: string }): Promise<InboundResponse> {
    const expires = opts.expires ?? 600;
    let params = `;transport=${this.transport}`;
    const headers: Record<string, string> = {};
    if (this.pushStyle === 'xtoken') params += `;xToken=${this.token}`;
    if (this.pushStyle === 'rfc8599') params += `;pn-provider=apns;pn-prid=${this.token};pn-param=${this.pnParam}`;
    if (this.pushStyle === 'fcm') params += `;pn-provider=fcm;pn-prid=${this.token};pn-param=${this.fcmProject}`;
    if (this.pushStyle === 'x-token') headers['X-Token'] = this.token;
    if (this.pushStyle === 'bad-token') headers['X-Token'] = 'not-a-token';
    if (opts.authorization) headers['Authorization'] = opts.authorization;
    if (opts.proxyAuthorization) headers['Proxy-Authorization'] = opts.proxyAuthorization;
    if (opts.pushHint) headers['X-PushHint'] = opts.pushHint;
    if (this.alertToken) headers['X-Alert-Token'] = this.alertToken;
    let resolveFinal: (res: InboundResponse) => void = () => undefined;
    const final = new Promise<InboundResponse>((resolve) => (resolveFinal = resolve));
    await this.app.request(this.registerUri ?? `sip:${this.domain}`, {
      method: 'REGISTER',
      proxy: `sip:${this.pushwakeHost};transport=${this.transport}`,
      headers: {
        ...headers,
        From: `<${this.aor}>;tag=${this.fromTag}`,
        To: `<${this.aor}>`,
        'Call-ID': this.callId,
        CSeq: `${this.cseq++} REGISTER`,
        Contact: `<sip:${this.contactUser}@${this.contactHostPort}${params}>;expires=${expires};+sip.instance="<${this.instance}>"`,
        Expires: String(expires),
      },
    }, (res) => {
      if (res.status >= 200) resolveFinal(res);
    });
    return final;
  }

  /** MESSAGEs received (ended notices in `message` mode). */
  readonly messages: Array<{ body: string; contentType?: string }> = [];

  handleMessage(req: InboundRequest, res: ServerResponse): void {
    const contentType = req.get('Content-Type');
    this.messages.push({ body: req.body, ...(contentType ? { contentType } : {}) });
    res.send(200, 'OK', {});
  }

  handleInvite(req: InboundRequest, res: ServerResponse): void {
    const rec: ReceivedInvite = {
      uri: req.uri,
      from: req.get('From') ?? '',
      cancelled: false,
      protocol: req.protocol,
      sdp: req.body ?? '',
      ...(req.get('X-PushHint') ? { pushHint: req.get('X-PushHint') } : {}),
      ...(req.get('X-Call-UUID') ? { callUuid: req.get('X-Call-UUID') } : {}),
    };
    this.invites.push(rec);
    req.on('cancel', (cancel) => {
      rec.cancelled = true;
      const reason = cancel.get('Reason');
      if (reason) rec.cancelReason = reason;
    });
    switch (this.behaviour) {
      case 'decline':
        res.send(603, 'Decline', {});
        return;
      case 'busy':
        res.send(486, 'Busy Here', {});
        return;
      case 'ring':
        res.send(180, 'Ringing', {});
        return;
      case 'answer':
        res.send(180, 'Ringing', {});
        setTimeout(() => {
          if (rec.cancelled) return;
          this.app.createUas(req, res, { localSdp: this.answerSdp }).then(
            (d) => (rec.dialog = d),
            () => undefined,
          );
        }, 50);
    }
  }
}

/** A drachtio-srf app on its own embedded engine: where test agents (PBX, phones) live. */
export interface AgentHost {
  app: SipApp;
  /** 127.0.0.1:port the agents' engine listens on (UDP and TCP). */
  host: string;
  stop(): Promise<void>;
}

/**
 * `perSourceRatePerSec` lifts the host's flood guard for load: the per-source budget and the
 * budget of all untrusted sources together (everything here is untrusted), which would otherwise
 * drop what pushwake sends past 2,000 messages/s (over TCP, lost for good).
 */
export async function startAgentHost(limits: { perSourceRatePerSec?: number } = {}, tls?: TlsFiles, port = 0): Promise<AgentHost> {
  const lifted = limits.perSourceRatePerSec;
  // phones connect out over TLS with these (the CA must vouch for pushwake's certificate)
  const engine = await startEmbeddedEngine({
    sip: [{ address: '127.0.0.1', port, transports: ['udp', 'tcp'] }],
    wire: { address: '127.0.0.1', port: 0, secret: 'agents' },
    limits: lifted === undefined ? {} : { perSourceRatePerSec: lifted, untrustedRatePerSec: Math.max(lifted, DEFAULT_TRANSPORT_LIMITS.untrustedRatePerSec) },
    ...(tls ? { tls } : {}),
  });
  const sip = engine.sipAddresses[0];
  const app = createSipApp();
  try {
    if (!sip) throw new Error('agent engine has no SIP address');
    await app.connect({ host: '127.0.0.1', port: engine.wirePort, secret: 'agents', inProcess: () => engine.openAppLink() });
  } catch (err) {
    await engine.stop();
    throw err;
  }
  return {
    app,
    host: `127.0.0.1:${sip.port}`,
    async stop() {
      try {
        app.disconnect();
      } catch {
        // already gone
      }
      await engine.stop();
    },
  };
}
