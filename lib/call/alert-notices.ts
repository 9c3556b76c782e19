/**
 * Alert pushes about calls (off by default): a standard APNs alert push, to the app's regular
 * token and non-VoIP topic, telling a user about a missed call or a call answered elsewhere. It
 * carries no CallKit obligation (DOMAIN.md), so it is the safe way to reach a device whose VoIP
 * pushes go unanswered: the restriction watch withholds those, and the user still learns of the call.
 */
import type { PushwakeConfig } from '../config/types.js';
import type { Binding } from '../domain/binding.js';
import type { Logger } from '../log.js';
import { bundleOf } from '../push/routing-sender.js';
import { compilePayloadTemplate, type PayloadTemplate } from '../push/payload.js';
import { MAX_ALERT_PAYLOAD_BYTES, type PushSender } from '../push/push-outcome.js';
import type { CallEnding } from './call-types.js';
import type { IncomingCall } from './incoming-call.js';

/** Endings where nobody took the call (a decline is the user's own answer, not a missed call). */
const MISSED: ReadonlySet<CallEnding> = new Set(['caller-cancelled', 'wake-timeout', 'ring-timeout', 'all-legs-failed', 'push-failed']);

interface AlertSettings {
  missedCall: boolean;
  answeredElsewhere: boolean;
  ttlMs: number;
  missedCallTemplate: PayloadTemplate;
  answeredElsewhereTemplate: PayloadTemplate;
}

export class AlertCourier {
  private settings: AlertSettings;

  constructor(private readonly sender: PushSender, alerts: PushwakeConfig['alerts'], private readonly log: Logger, private readonly now: () => number = Date.now) {
    this.settings = settingsOf(alerts);
  }

  /** A reloaded config's alerts section. */
  configure(alerts: PushwakeConfig['alerts']): void {
    this.settings = settingsOf(alerts);
  }

  /** A call ended: the alert pushes its ending calls for. Never throws. */
  callEnded(call: IncomingCall, how: CallEnding): void {
    const s = this.settings;
    const { pushed, withheld } = call.pushedDevices;
    if (MISSED.has(how) && s.missedCall) {
      for (const b of [...pushed, ...withheld]) this.send(b, call, s.missedCallTemplate, 'missed call');
    } else if (how === 'answered-hangup' && s.answeredElsewhere) {
      for (const b of pushed) if (b.deviceKey !== call.answeredBy) this.send(b, call, s.answeredElsewhereTemplate, 'answered elsewhere');
    }
  }

  private send(b: Binding, call: IncomingCall, template: PayloadTemplate, what: string): void {
    if (!b.alertToken || !b.push || b.push.provider !== 'apns') return;
    const id = call.identity;
    let payload: Record<string, unknown>;
    try {
      payload = template.render({ ...id.caller, callUuid: id.callUuid, callId: id.callId, pushHint: id.pushHint, aor: id.aor });
    } catch (err) {
      this.log.error({ err, what }, 'alert push template failed');
      return;
    }
    const push = {
      token: { provider: 'apns' as const, token: b.alertToken, topic: bundleOf(b.push.topic), environment: b.push.environment },
      payload, collapseId: id.callUuid, expiresAt: this.now() + this.settings.ttlMs, pushType: 'alert' as const, priority: 10 as const,
    };
    this.sender.send(push).then(
      (outcome) => this.log.info({ aor: b.aor, deviceKey: b.deviceKey, what, result: outcome.kind, ...(outcome.kind !== 'delivered' ? { code: outcome.code } : {}) }, 'alert push sent'),
      (err: unknown) => this.log.warn({ err, what }, 'alert push failed'),
    );
  }
}

function settingsOf(a: PushwakeConfig['alerts']): AlertSettings {
  return {
    missedCall: a.missedCall,
    answeredElsewhere: a.answeredElsewhere,
    ttlMs: a.ttlSeconds * 1000,
    missedCallTemplate: compilePayloadTemplate(a.missedCallTemplate, { maxBytes: MAX_ALERT_PAYLOAD_BYTES }),
    answeredElsewhereTemplate: compilePayloadTemplate(a.answeredElsewhereTemplate, { maxBytes: MAX_ALERT_PAYLOAD_BYTES }),
  };
}
