/**
 * The demo's record of who sent what to whom and when, drawn as a ladder diagram: one lane per
 * party, one row per message (an arrow) or per thing a party noted about itself.
 */

/** The lanes of the one-node demo; the cluster demo has a pushwake lane per node. */
export const PARTIES: readonly string[] = ['PBX', 'pushwake', 'APNs sink', 'phone'];
export type Party = string;

export type LadderStep =
  | { kind: 'message'; at: number; from: Party; to: Party; label: string }
  | { kind: 'note'; at: number; party: Party; text: string };

const LANE_WIDTH = 24;
const TIME_WIDTH = 11;

export class Ladder {
  readonly steps: LadderStep[] = [];

  constructor(private readonly clock: () => number = defaultClock, private readonly parties: readonly Party[] = PARTIES) {}

  now(): number {
    return this.clock();
  }

  message(from: Party, to: Party, label: string, at = this.clock()): void {
    this.steps.push({ kind: 'message', at, from, to, label });
  }

  note(party: Party, text: string, at = this.clock()): void {
    this.steps.push({ kind: 'note', at, party, text });
  }

  /** The first step that matches, for latencies. */
  find(match: (step: LadderStep) => boolean): LadderStep | undefined {
    return this.ordered().find(match);
  }

  ordered(): LadderStep[] {
    return [...this.steps].sort((a, b) => a.at - b.at);
  }

  render(): string {
    const parties = this.parties;
    const header = ' '.repeat(TIME_WIDTH) + parties.map((p) => centre(p, LANE_WIDTH)).join('');
    const lanes = ' '.repeat(TIME_WIDTH) + blankRow(parties).join('');
    const lines = [header, lanes];
    const steps = this.ordered();
    const origin = steps[0]?.at ?? 0;
    for (const step of steps) {
      const time = `+${(step.at - origin).toFixed(1)} ms`.padStart(TIME_WIDTH - 1) + ' ';
      lines.push(time + (step.kind === 'message' ? arrowRow(parties, step) : noteRow(parties, step)));
    }
    lines.push(lanes);
    return lines.map((l) => l.trimEnd()).join('\n');
  }
}

export function defaultClock(): number {
  return performance.timeOrigin + performance.now();
}

const laneCentre = (parties: readonly Party[], p: Party): number => Math.max(0, parties.indexOf(p)) * LANE_WIDTH + Math.floor(LANE_WIDTH / 2);

function blankRow(parties: readonly Party[]): string[] {
  const row = Array.from({ length: parties.length * LANE_WIDTH }, () => ' ');
  for (const p of parties) row[laneCentre(parties, p)] = '│';
  return row;
}

function arrowRow(parties: readonly Party[], step: Extract<LadderStep, { kind: 'message' }>): string {
  const row = blankRow(parties);
  const a = laneCentre(parties, step.from);
  const b = laneCentre(parties, step.to);
  const [left, right] = a < b ? [a, b] : [b, a];
  for (let i = left + 1; i < right; i++) row[i] = '─';
  if (a < b) row[right - 1] = '▶';
  else row[left + 1] = '◀';
  const room = right - left - 5;
  const label = step.label.length > room ? `${step.label.slice(0, room - 1)}…` : step.label;
  const start = left + 2 + Math.floor((room - label.length) / 2) + 1;
  for (let i = 0; i < label.length; i++) row[start + i] = label[i] ?? ' ';
  row[start - 1] = ' ';
  row[start + label.length] = ' ';
  return row.join('');
}

function noteRow(parties: readonly Party[], step: Extract<LadderStep, { kind: 'note' }>): string {
  const row = blankRow(parties);
  const centreAt = laneCentre(parties, step.party);
  row[centreAt] = '●';
  return `${row.join('').trimEnd()}   ${step.party}: ${step.text}`;
}

/** `text` centred on the lane line of a lane `width` wide. */
function centre(text: string, width: number): string {
  const left = Math.floor(width / 2) - Math.floor(text.length / 2);
  return (' '.repeat(Math.max(0, left)) + text).padEnd(width);
}
