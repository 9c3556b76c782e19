/**
 * The parts of a running pushwake that a config reload changes in place: what the calls read at
 * each use (so parked calls keep running), the payload template, and the push sender (swapped;
 * pushes in flight finish on the old one).
 */
import type { PayloadTemplate, PayloadVars } from '../push/payload.js';
import type { PushOutcome, PushSender, VoipPush } from '../push/push-outcome.js';

export class LiveTemplate implements PayloadTemplate {
  constructor(private current: PayloadTemplate) {}

  replace(next: PayloadTemplate): void {
    this.current = next;
  }

  render(vars: PayloadVars): Record<string, unknown> {
    return this.current.render(vars);
  }

  get maxRenderedBytes(): number {
    return this.current.maxRenderedBytes;
  }
}

/** Pushes in flight on a replaced sender get this long before it is closed. */
const RETIRE_AFTER_MS = 30_000;

export class SwappableSender implements PushSender {
  private readonly retiring = new Set<PushSender>();

  constructor(private current: PushSender) {}

  /** New pushes go to `next`; the old sender is closed once its pushes had time to finish. */
  swap(next: PushSender): void {
    const old = this.current;
    this.current = next;
    this.retiring.add(old);
    setTimeout(() => {
      this.retiring.delete(old);
      void old.close().catch(() => undefined);
    }, RETIRE_AFTER_MS).unref();
  }

  send(push: VoipPush): Promise<PushOutcome> {
    return this.current.send(push);
  }

  async close(): Promise<void> {
    const all = [this.current, ...this.retiring];
    this.retiring.clear();
    await Promise.all(all.map((s) => s.close().catch(() => undefined)));
  }
}
