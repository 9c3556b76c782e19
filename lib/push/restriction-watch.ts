/**
 * Watching for devices iOS has stopped delivering VoIP pushes to (seeds 000 and 003: an app that
 * failed to report a call to CallKit gets its VoIP pushes cut off until it is reinstalled). A
 * server cannot see the restriction itself, only its symptom: pushes that Apple accepted and that
 * no fresh REGISTER followed within the wake window.
 *
 * - After `suspectAfter` such pushes in a row, the device is *suspected restricted*: logged once,
 *   counted, shown in `pushwake bindings show`. Its VoIP pushes are then limited to one per
 *   `suspectedIntervalMs` (more of them cannot help and may make it worse); the user's other
 *   devices still ring.
 * - Any fresh REGISTER from it clears the suspicion and the count.
 * - Every device, suspected or not, gets at most `maxPerMinute` VoIP pushes in any minute: a
 *   caller redialling in a loop must not drive a phone into restriction.
 *
 * A phone that is merely offline looks the same as a restricted one while it is offline. So
 * suspicion never blocks a device. It only spaces its pushes out, and the phone's next REGISTER,
 * whenever it comes back, clears everything. State is per node and in memory (bounded): a
 * restart forgets it, which errs on the side of pushing.
 */
import { trimOldest } from '../bounded-map.js';
import type { Logger } from '../log.js';

export interface RestrictionSettings {
  /** Unanswered VoIP pushes in a row that make a device suspected; 0 turns the watch off. */
  suspectAfter: number;
  /** While suspected, at most one VoIP push per this interval. */
  suspectedIntervalMs: number;
  /** VoIP pushes per device in any 60 s; 0: no limit. */
  maxPerMinute: number;
}

export type PushAdmission =
  | { ok: true }
  | { ok: false; code: 'WAKE_RATE_LIMITED' | 'WAKE_SUSPECTED_RESTRICTED'; why: string };

interface DeviceRecord {
  aor: string;
  unansweredInARow: number;
  suspectedSince?: number;
  /** Times of VoIP pushes within the last minute, oldest first. */
  recent: number[];
  lastPushAt?: number;
}

/** Devices tracked at once; the one seen longest ago is forgotten past it. */
export const MAX_WATCHED_DEVICES = 100_000;

export class RestrictionWatch {
  private readonly devices = new Map<string, DeviceRecord>();

  constructor(
    private readonly settings: RestrictionSettings,
    private readonly log: Logger,
    private readonly onSuspected: () => void = () => undefined,
    private readonly now: () => number = Date.now,
    private readonly maxDevices = MAX_WATCHED_DEVICES,
  ) {}

  /** May this device be VoIP-pushed now? Pure with respect to the record (nothing is counted here). */
  admit(aor: string, deviceKey: string): PushAdmission {
    const d = this.devices.get(key(aor, deviceKey));
    if (!d) return { ok: true };
    const now = this.now();
    const withinMinute = d.recent.filter((t) => now - t < 60_000).length;
    if (this.settings.maxPerMinute > 0 && withinMinute >= this.settings.maxPerMinute) {
      return { ok: false, code: 'WAKE_RATE_LIMITED', why: `already ${withinMinute} VoIP pushes to this device in the last minute (devices.maxVoipPushesPerMinute)` };
    }
    if (d.suspectedSince !== undefined && d.lastPushAt !== undefined && now - d.lastPushAt < this.settings.suspectedIntervalMs) {
      return { ok: false, code: 'WAKE_SUSPECTED_RESTRICTED', why: `suspected restricted by iOS after ${d.unansweredInARow} unanswered VoIP pushes; next push allowed ${Math.ceil((this.settings.suspectedIntervalMs - (now - d.lastPushAt)) / 1000)} s from now` };
    }
    return { ok: true };
  }

  /** A VoIP push went out to the device. */
  pushed(aor: string, deviceKey: string): void {
    const d = this.record(aor, deviceKey);
    const now = this.now();
    d.recent = [...d.recent.filter((t) => now - t < 60_000), now];
    d.lastPushAt = now;
  }

  /** The device registered afresh: whatever was suspected is cleared. */
  answered(aor: string, deviceKey: string): void {
    const d = this.devices.get(key(aor, deviceKey));
    if (!d) return;
    if (d.suspectedSince !== undefined) this.log.info({ aor, deviceKey }, 'device registered again: no longer suspected restricted');
    d.unansweredInARow = 0;
    delete d.suspectedSince;
  }

  /** A push to the device went unanswered (no fresh REGISTER within the wake window). */
  unanswered(aor: string, deviceKey: string): void {
    if (this.settings.suspectAfter <= 0) return;
    const d = this.record(aor, deviceKey);
    d.unansweredInARow++;
    if (d.suspectedSince === undefined && d.unansweredInARow >= this.settings.suspectAfter) {
      d.suspectedSince = this.now();
      this.onSuspected();
      this.log.warn({ aor, deviceKey, unansweredInARow: d.unansweredInARow, pushEverySeconds: this.settings.suspectedIntervalMs / 1000 },
        'device suspected restricted by iOS (VoIP pushes go unanswered): its pushes are spaced out until it registers again');
    }
  }

  /** For operators: how the device stands. */
  state(aor: string, deviceKey: string): { unansweredInARow: number; suspectedSince?: number } | undefined {
    const d = this.devices.get(key(aor, deviceKey));
    return d && { unansweredInARow: d.unansweredInARow, ...(d.suspectedSince !== undefined ? { suspectedSince: d.suspectedSince } : {}) };
  }

  get suspectedCount(): number {
    let n = 0;
    for (const d of this.devices.values()) if (d.suspectedSince !== undefined) n++;
    return n;
  }

  private record(aor: string, deviceKey: string): DeviceRecord {
    const k = key(aor, deviceKey);
    const d = this.devices.get(k) ?? { aor, unansweredInARow: 0, recent: [] };
    this.devices.delete(k);
    this.devices.set(k, d);
    trimOldest(this.devices, this.maxDevices);
    return d;
  }
}

const key = (aor: string, deviceKey: string): string => `${aor}\n${deviceKey}`;
