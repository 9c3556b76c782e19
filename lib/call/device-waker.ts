/**
 * The push side of a call: push one device once for one call, retrying transient APNs errors
 * within the wake window, and forgetting tokens APNs says are dead.
 */
import type { Binding } from '../domain/binding.js';
import type { Logger } from '../log.js';
import { tokenPrefix } from '../log.js';
import type { PayloadTemplate } from '../push/payload.js';
import { pushFailure, type PushSender } from '../push/push-outcome.js';
import { sendWithRetry, type StopSignal } from '../push/retry.js';
import type { BindingStore } from '../store/binding-store.js';
import type { RestrictionWatch } from '../push/restriction-watch.js';
import type { Trace } from '../trace.js';
import type { CallIdentity, WakeOutcome } from './call-types.js';

export interface WakeSettings {
  ttlMs: number;
  retryBaseDelayMs: number;
  retryMaxAttempts: number;
}

/**
 * How much longer than the push's own lifetime a push claim lives: long enough to cover the PBX
 * re-sending the same call, shorter than any sane reuse of a Call-ID.
 */
const CLAIM_MARGIN_MS = 10 * 60_000;

export class DeviceWaker {
  private readonly onceSender: PushSender;
  private watch: RestrictionWatch | undefined;
  private onSuppressed: (code: string) => void = () => undefined;

  constructor(
    private readonly sender: PushSender,
    private readonly template: PayloadTemplate,
    private readonly store: BindingStore,
    private readonly settings: WakeSettings,
    private readonly log: Logger,
    private readonly trace?: Trace,
    private readonly now: () => number = Date.now,
  ) {
    // After a push that may have been delivered (the request left, no answer came), a retry
    // could wake the phone twice for one call: it is not retried, and the device is awaited (and
    // owed an ended notice) as if the push went out.
    this.onceSender = {
      send: async (push) => {
        this.trace?.({ kind: 'push-sending', collapseId: push.collapseId, token: push.token.token, at: performance.now() });
        const outcome = await this.sender.send(push);
        return outcome.kind === 'retryable' && outcome.maybeDelivered ? { ...outcome, kind: 'rejected' } : outcome;
      },
      close: () => this.sender.close(),
    };
  }

  /** Space out pushes to devices that look restricted, and cap every device's pushes per minute. */
  watchRestrictions(watch: RestrictionWatch, onSuppressed: (code: string) => void): void {
    this.watch = watch;
    this.onSuppressed = onSuppressed;
  }

  async wake(b: Binding, call: CallIdentity, deadline: number, signal?: StopSignal): Promise<WakeOutcome> {
    if (!b.push) return { kind: 'failed', code: 'WAKE_NO_TOKEN', why: 'device has no push token' };
    if (signal?.aborted) return { kind: 'failed', code: 'WAKE_CALL_OVER', why: 'call over before the push' };
    const admission = this.watch?.admit(b.aor, b.deviceKey) ?? { ok: true };
    if (!admission.ok) {
      this.log.info({ deviceKey: b.deviceKey, code: admission.code, why: admission.why }, 'VoIP push withheld');
      this.onSuppressed(admission.code);
      return { kind: 'failed', code: admission.code, why: admission.why };
    }
    const claimed = await this.store.claimPush(call.callId, b.deviceKey, this.settings.ttlMs + CLAIM_MARGIN_MS);
    if (!claimed) {
      this.log.info({ deviceKey: b.deviceKey }, 'device already pushed for this call; not pushing again');
      return { kind: 'duplicate' };
    }
    const expiresAt = this.now() + this.settings.ttlMs;
    const payload = this.template.render({
      callUuid: call.callUuid,
      callId: call.callId,
      callerNumber: call.caller.callerNumber,
      callerName: call.caller.callerName,
      withVideo: call.caller.withVideo,
      pushHint: call.pushHint,
      aor: call.aor,
    });
    // A call that ended during the claim's store round trip is caught by sendWithRetry, which
    // sends nothing once the signal is aborted: a push now would be a ghost call.
    const outcome = await sendWithRetry(
      this.onceSender,
      { token: b.push, payload, collapseId: call.callUuid, expiresAt },
      {
        deadline,
        baseDelayMs: this.settings.retryBaseDelayMs,
        maxAttempts: this.settings.retryMaxAttempts,
        now: this.now,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms).unref()),
        ...(signal ? { signal } : {}),
      },
    );
    const token = tokenPrefix(b.push.token);
    switch (outcome.kind) {
      case 'delivered':
        this.watch?.pushed(b.aor, b.deviceKey);
        this.log.info({ deviceKey: b.deviceKey, token, apnsId: outcome.apnsId }, 'VoIP push sent');
        return { kind: 'sent', expiresAt };
      case 'token-dead':
        this.log.warn({ deviceKey: b.deviceKey, token, status: outcome.status, code: outcome.code, why: outcome.reason }, 'APNs says the token is dead; removing it');
        await this.store.clearPushToken(b.aor, b.deviceKey, b.push.token);
        return { kind: 'failed', code: 'WAKE_PUSH_FAILED', why: `${outcome.code}: APNs ${outcome.status} ${outcome.reason}` };
      case 'rejected':
        if (outcome.code === 'PUSH_DEADLINE_EXCEEDED' && signal?.aborted) return { kind: 'failed', code: 'WAKE_CALL_OVER', why: 'call over before the push' };
        if (outcome.maybeDelivered) {
          this.watch?.pushed(b.aor, b.deviceKey);
          this.log.warn({ deviceKey: b.deviceKey, token, code: outcome.code, why: outcome.reason }, 'no answer from APNs; the push may have gone out, so the device is awaited and not pushed again');
          return { kind: 'sent', expiresAt };
        }
        this.log.warn({ deviceKey: b.deviceKey, token, status: outcome.status, code: outcome.code, why: outcome.reason }, 'VoIP push refused');
        return { kind: 'failed', code: 'WAKE_PUSH_FAILED', why: `${outcome.code}: APNs ${outcome.status} ${outcome.reason}` };
      default:
        this.log.warn({ deviceKey: b.deviceKey, token, status: outcome.status, code: outcome.code, why: outcome.reason }, 'VoIP push not delivered');
        return { kind: 'failed', code: 'WAKE_PUSH_FAILED', why: `${outcome.code}: APNs ${outcome.status} ${outcome.reason}` };
    }
  }
}

/** Used when no APNs key is configured: every push fails with one clear reason. */
export const noApnsKey: PushSender = {
  send: () => Promise.resolve(pushFailure('rejected', 'PUSH_NO_KEY', 'NoApnsKeyConfigured (set apns.keyFile, apns.keyId, apns.teamId)')),
  close: () => Promise.resolve(),
};
