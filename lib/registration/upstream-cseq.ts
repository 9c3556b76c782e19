/**
 * The CSeq pushwake puts on a relayed REGISTER: the phone's own, plus the retries pushwake made
 * on its own (423) for that Call-ID, so that the registrar always sees CSeq grow. Bounded: the
 * oldest Call-IDs are forgotten first.
 */
export class UpstreamCSeq {
  private readonly offsets = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  next(callId: string, phoneCSeq: number): number {
    return phoneCSeq + (this.offsets.get(callId) ?? 0);
  }

  bump(callId: string): void {
    const v = (this.offsets.get(callId) ?? 0) + 1;
    this.offsets.delete(callId);
    this.offsets.set(callId, v);
    if (this.offsets.size > this.capacity) {
      const oldest = this.offsets.keys().next().value;
      if (oldest !== undefined) this.offsets.delete(oldest);
    }
  }
}
