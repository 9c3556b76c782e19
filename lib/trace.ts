/**
 * Moments on the wake path, for benchmarks and (later) metrics: one port, handed to the parts
 * that see each moment. `at` is performance.now(). invite-received → push-sending is what
 * pushwake adds before the push; upstream-register-ok → leg-sending is what it adds between the
 * phone's fresh registration and its INVITE.
 */
export type TraceEvent =
  | { kind: 'invite-received'; callId: string; at: number }
  | { kind: 'push-sending'; collapseId: string; token: string; at: number }
  | { kind: 'upstream-register-ok'; aor: string; deviceKey: string; at: number }
  | { kind: 'leg-sending'; callId: string; deviceKey: string; at: number };

/** Called synchronously at each TraceEvent; keep it cheap. */
export type Trace = (ev: TraceEvent) => void;
