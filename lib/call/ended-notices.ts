/**
 * Delivering EndedNotices: a phone that was pushed for a call which ended before it got a leg
 * is told, as soon as it registers again, so CallKit does not keep a ghost call.
 */
import type { Binding, EndedNotice } from '../domain/binding.js';
import type { Logger } from '../log.js';
import type { PayloadTemplate } from '../push/payload.js';
import type { PushSender } from '../push/push-outcome.js';
import type { BindingStore } from '../store/binding-store.js';
import type { SipApp } from '../sip/srf.js';
import type { EndedNoticeMode } from '../config/types.js';
import { deviceInviteHeaders, flowUri } from './sip-side.js';

export interface NoticeSettings {
  mode: EndedNoticeMode;
  pushHintHeader: string;
  callUuidHeader: string;
  pushTtlMs: number;
  /** How long an INVITE+CANCEL notice may take before pushwake gives up on it. */
  inviteTimeoutMs: number;
  /** pushwake's own host, for the From of notices (read at each notice: it can change at connect). */
  localHost: () => string;
  /** Told of each notice delivered or not (metrics). */
  onNotice?: (mode: EndedNoticeMode, result: 'delivered' | 'failed') => void;
}

export class EndedNoticeCourier {
  constructor(
    private readonly app: SipApp,
    private readonly store: BindingStore,
    private readonly sender: PushSender,
    private readonly template: PayloadTemplate,
    private readonly settings: NoticeSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Store writes not finished yet; `flush()` waits for them (shutdown must not lose notices). */
  private readonly writes = new Set<Promise<void>>();

  /** Keep a notice for the device's next registration. */
  owe(notice: EndedNotice): void {
    if (this.settings.mode === 'off') return;
    const write = this.store
      .addEndedNotice(notice)
      .then(() => this.log.info({ aor: notice.aor, deviceKey: notice.deviceKey, callId: notice.callId }, 'ended notice owed'))
      .catch((err: unknown) => this.log.error({ err, callId: notice.callId }, 'cannot store ended notice'))
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.writes]);
  }

  /** The device registered: deliver whatever it is owed. Never throws. */
  async deviceRegistered(b: Binding): Promise<number> {
    if (this.settings.mode === 'off') return 0;
    let notices: EndedNotice[];
    try {
      notices = await this.store.takeEndedNotices(b.aor, b.deviceKey);
    } catch (err) {
      this.log.error({ err, aor: b.aor }, 'cannot read ended notices');
      return 0;
    }
    for (const n of notices) {
      this.log.info({ aor: b.aor, deviceKey: b.deviceKey, callId: n.callId, mode: this.settings.mode }, 'delivering ended notice');
      await this.deliver(b, n).then(
        () => this.settings.onNotice?.(this.settings.mode, 'delivered'),
        (err: unknown) => {
          this.settings.onNotice?.(this.settings.mode, 'failed');
          this.log.warn({ err, callId: n.callId }, 'ended notice not delivered');
        },
      );
    }
    return notices.length;
  }

  private deliver(b: Binding, n: EndedNotice): Promise<void> {
    switch (this.settings.mode) {
      case 'message':
        return this.byMessage(b, n);
      case 'push':
        return this.byPush(b, n);
      default:
        return this.byInviteCancel(b, n);
    }
  }

  private headers(b: Binding, n: EndedNotice): Record<string, string> {
    const name = n.callerName.replace(/["\\]/g, '');
    const user = encodeURIComponent(n.callerNumber).replace(/%2B/g, '+');
    return deviceInviteHeaders(this.settings, {
      aor: b.aor,
      from: `"${name}" <sip:${user || 'anonymous'}@${this.settings.localHost()}>`,
      pushHint: n.pushHint,
      callUuid: n.callUuid,
    });
  }

  /** INVITE, then CANCEL with the Reason as soon as it is on the wire: any SIP client understands. */
  private async byInviteCancel(b: Binding, n: EndedNotice): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let sent: { cancel(o: { headers?: Record<string, string> }, cb?: (e: Error | null) => void): void } | undefined;
    const cancel = (): void => sent?.cancel({ headers: { Reason: n.reason } });
    const invite = this.app.createUac(b.contact, { headers: this.headers(b, n), proxy: flowUri(b.flow) }, {
      onRequestSent: (req) => {
        sent = req;
        cancel();
      },
    });
    // The phone answered before our CANCEL reached it (whenever that is): hang up at once, with
    // the same Reason, so it is never left in a call nobody ends.
    const hangUp = (dialog: { destroy(o: { headers: Record<string, string> }): Promise<unknown> }): Promise<unknown> =>
      dialog.destroy({ headers: { Reason: n.reason } }).catch(() => undefined);
    invite.then(hangUp, () => undefined);
    try {
      await Promise.race([
        invite,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('ended notice INVITE timed out')), this.settings.inviteTimeoutMs);
        }),
      ]);
    } catch {
      // 487 Request Terminated is the expected end of an INVITE+CANCEL notice.
    } finally {
      clearTimeout(timer);
    }
  }

  private async byMessage(b: Binding, n: EndedNotice): Promise<void> {
    await this.app.request(b.contact, {
      method: 'MESSAGE',
      proxy: flowUri(b.flow),
      headers: { ...this.headers(b, n), 'Content-Type': 'application/json', Reason: n.reason },
      body: JSON.stringify({ event: 'call-ended', callUuid: n.callUuid, callId: n.callId, pushHint: n.pushHint, reason: n.reason }),
    });
  }

  private async byPush(b: Binding, n: EndedNotice): Promise<void> {
    if (!b.push) return;
    const payload = this.template.render({
      callUuid: n.callUuid,
      callId: n.callId,
      callerNumber: n.callerNumber,
      callerName: n.callerName,
      withVideo: false,
      pushHint: n.pushHint,
      aor: b.aor,
      cancel: true,
      reason: n.reason,
    });
    // Whatever the template says, a cancel push is marked as one at the top level, so the app
    // never mistakes it for a new call.
    const marked = { ...payload, cancel: true, reason: n.reason };
    const outcome = await this.sender.send({ token: b.push, payload: marked, collapseId: n.callUuid, expiresAt: this.now() + this.settings.pushTtlMs });
    if (outcome.kind !== 'delivered') this.log.warn({ callId: n.callId, status: outcome.status, why: outcome.reason }, 'cancel push not delivered');
  }
}
