/**
 * The demo's other parties, played over real SIP on loopback by a drachtio-srf app on a second
 * embedded engine: the PBX (the registrar pushwake relays to, and the caller) and one iPhone.
 * Each notes on the ladder what it sends and receives, as it happens.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { InboundRequest, InboundResponse, ServerResponse, SipApp, SipDialog } from '../sip/srf.js';
import { isSipStatusError } from '../sip/srf.js';
import { parseContactList } from '../sip/name-addr.js';
import type { Ladder } from './ladder.js';

const sdp = (owner: string, port: number): string =>
  ['v=0', `o=${owner} 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

const tag = (): string => randomBytes(4).toString('hex');
const short = (token: string): string => `${token.slice(0, 8)}…`;

/** The PBX: its registrar answers pushwake's relayed REGISTERs, and it places the call. */
export class DemoPbx {
  /**
   * `node` names the pushwake lane a relayed REGISTER came from (the cluster demo has one per
   * node); `via` the lane the PBX calls through.
   */
  constructor(
    private readonly app: SipApp,
    private readonly ladder: Ladder,
    private readonly node: (req: InboundRequest) => string = () => 'pushwake',
    private readonly via = 'pushwake',
  ) {}

  handleRegister(req: InboundRequest, res: ServerResponse): void {
    const contacts = parseContactList(req.get('Contact') ?? '');
    const first = Array.isArray(contacts) ? contacts[0] : undefined;
    const node = this.node(req);
    this.ladder.message(node, 'PBX', 'REGISTER (relayed)');
    const expires = first?.params.get('expires') ?? req.get('Expires') ?? '3600';
    res.send(200, 'OK', { headers: first ? { Contact: `<${first.uri}>;expires=${expires}` } : {} });
    this.ladder.message('PBX', node, '200 OK');
  }

  /** INVITE through pushwake; hang up after `holdMs`. Resolves with the final status. */
  async call(target: string, pushwakeUri: string, holdMs: number): Promise<number> {
    let dialog: SipDialog;
    try {
      dialog = await this.app.createUac(target, {
        headers: { From: `"Bob Caller" <sip:1000@pbx.example.com>;tag=${tag()}`, To: `<${target}>` },
        localSdp: sdp('pbx', 40000),
        proxy: pushwakeUri,
      }, {
        onRequestSent: () => this.ladder.message('PBX', this.via, `INVITE ${target.replace(/^sip:/, '').replace(/@.*$/, '')}`),
        onProvisional: (res: InboundResponse) => this.ladder.message(this.via, 'PBX', `${res.status} ${res.reason}`),
      });
    } catch (err) {
      if (!isSipStatusError(err)) throw err;
      this.ladder.message(this.via, 'PBX', `${err.status} ${err.res?.reason ?? ''}`.trim());
      return err.status;
    }
    this.ladder.message(this.via, 'PBX', '200 OK (SDP)');
    this.ladder.message('PBX', this.via, 'ACK');
    await new Promise((r) => setTimeout(r, holdMs));
    this.ladder.message('PBX', this.via, 'BYE');
    await dialog.destroy();
    this.ladder.message(this.via, 'PBX', '200 OK');
    return 200;
  }
}

/**
 * An iPhone with a VoIP app: it registers with its token in X-Token, then sleeps. A push wakes
 * it; after `wakeDelayMs` (iOS launching the app, the app reporting the call to CallKit) it
 * re-registers, echoing the push hint, and answers the INVITE that follows.
 */
export class DemoPhone {
  readonly token = randomBytes(32).toString('hex');
  private cseq = 1;
  private readonly callId = `${tag()}-${tag()}@phone`;
  private readonly fromTag = tag();
  private hangUp: (() => void) | undefined;
  /** Resolves once the phone's call leg has ended (BYE received). */
  readonly callOver = new Promise<void>((resolve) => (this.hangUp = resolve));

  constructor(
    private readonly app: SipApp,
    private readonly ladder: Ladder,
    readonly aor: string,
    /** host:port where pushwake listens (a cluster node: the phone may move), and where this phone's SIP stack listens. */
    public pushwakeHost: string,
    private readonly ownHost: string,
    private readonly wakeDelayMs: number,
    /** The ladder lane of the pushwake it talks to now. */
    public lane = 'pushwake',
    /** Called as the push wakes it, before it re-registers (the cluster demo moves it to another node). */
    private readonly onWake: () => void = () => undefined,
  ) {}

  get contactUser(): string {
    return 'iphone';
  }

  async register(pushHint?: string): Promise<number> {
    const domain = this.aor.replace(/^sip:[^@]*@/, '');
    const headers: Record<string, string> = {
      From: `<${this.aor}>;tag=${this.fromTag}`,
      To: `<${this.aor}>`,
      'Call-ID': this.callId,
      CSeq: `${this.cseq++} REGISTER`,
      Contact: `<sip:${this.contactUser}@${this.ownHost};transport=tcp>;expires=600`,
      Expires: '600',
      'X-Token': this.token,
    };
    if (pushHint) headers['X-PushHint'] = pushHint;
    const final = new Promise<number>((resolve) => {
      void this.app.request(`sip:${domain}`, { method: 'REGISTER', proxy: `sip:${this.pushwakeHost};transport=tcp`, headers }, (res) => {
        if (res.status < 200) return;
        this.ladder.message(this.lane, 'phone', `${res.status} ${res.reason}`);
        resolve(res.status);
      });
    });
    this.ladder.message('phone', this.lane, pushHint ? `REGISTER X-Token, X-PushHint ${pushHint}` : `REGISTER X-Token ${short(this.token)}`);
    return final;
  }

  /** APNs delivered a VoIP push to this phone. */
  woken(pushHint: string, callerName: string): void {
    this.ladder.message('APNs sink', 'phone', `VoIP push ${pushHint.slice(0, 8)}…`);
    this.ladder.note('phone', `iOS wakes the app; CallKit shows "${callerName}"`);
    setTimeout(() => {
      this.onWake();
      void this.register(pushHint).catch(() => undefined);
    }, this.wakeDelayMs);
  }

  handleInvite(req: InboundRequest, res: ServerResponse): void {
    this.ladder.message(this.lane, 'phone', `INVITE X-PushHint ${req.get('X-PushHint') ?? '(none)'}`);
    res.send(180, 'Ringing', {});
    this.ladder.message('phone', this.lane, '180 Ringing');
    setTimeout(() => {
      this.app.createUas(req, res, { localSdp: sdp('iphone', 41000) }).then(
        (dialog) => {
          this.ladder.message('phone', this.lane, '200 OK (SDP)');
          // drachtio-srf dialogs emit 'ack'; pushwake's SipDialog type leaves it out.
          (dialog as unknown as EventEmitter).once('ack', () => this.ladder.message(this.lane, 'phone', 'ACK'));
          dialog.on('destroy', () => {
            this.ladder.message(this.lane, 'phone', 'BYE');
            this.ladder.message('phone', this.lane, '200 OK');
            this.hangUp?.();
          });
        },
        () => this.hangUp?.(),
      );
    }, 50);
  }
}
