/**
 * What bench/register-relay.ts and its two children say to each other over IPC. The phones child
 * (phones-child.ts) is the load generator; the registrar child (registrar-child.ts) answers the
 * relayed REGISTERs. Requests carry an id, and the reply to one carries the same id.
 */
import type { Distribution } from '../support/stats.js';

/** How the phones child is started: JSON in its first argument. */
export interface FleetOptions {
  /** where the phones send their REGISTERs: the system under test */
  target: { host: string; port: number };
  /** distinct phones: relay0@example.com ... relay<N-1>@example.com */
  phones: number;
  /** UDP sockets on 127.0.0.1 the phones are spread over (phone i on socket i % sockets) */
  sockets: number;
  /** answer a 401 with digest Authorization (the registrar challenges) */
  digest: boolean;
  /** in Call-IDs, branches and tokens: this run's, so two runs never share one */
  runTag: string;
}

/** Why a registration did not end in 200. */
export type FailureCause = 'timeout' | 'no-idle-phone' | `status-${number}` | 'second-401';

/** Cumulative since the phones child started. */
export interface FleetCounts {
  /** registrations that ended in a 2xx */
  ok: number;
  /** registrations that ended otherwise: a non-2xx final (bar the first 401), or no final within 32 s */
  failed: number;
  failures: Partial<Record<FailureCause, number>>;
  /** REGISTER transactions started: one per registration, two with digest */
  transactions: number;
  /** REGISTERs sent again by Timer E */
  retransmissions: number;
  /** registrations started and not ended */
  inFlight: number;
  /** distinct phones that got a 2xx at least once */
  distinctOk: number;
  /** errors the sockets reported (ICMP port unreachable on a connected socket, ENOBUFS) */
  socketErrors: number;
}

export interface FixedRateOutcome {
  counts: FleetCounts;
  /** registrations started (should be rate × seconds) */
  launched: number;
  /** seconds from the first REGISTER sent to the last one started */
  paceSeconds: number;
  /** seconds from the first REGISTER sent to the last registration ended */
  endSeconds: number;
  /** REGISTER sent → 200 of each registration started in the phase, ms (with digest: the first REGISTER → the final 200) */
  latency: Distribution;
}

export type PhonesRequest =
  /** closed loop: keep `window` registrations in flight until `stop` */
  | { type: 'closed-loop'; window: number }
  | { type: 'counts' }
  /** start no more; wait until every registration in flight has ended, or `drainMs` */
  | { type: 'stop'; drainMs: number }
  /** open loop: `rate` registrations per second for `seconds`, then wait until all have ended */
  | { type: 'fixed-rate'; rate: number; seconds: number };

export type PhonesReply =
  | { type: 'ready'; ports: number[] }
  | { type: 'start-failed'; error: string }
  | { type: 'counts'; id: number; counts: FleetCounts }
  | { type: 'fixed-rate-done'; id: number; outcome: FixedRateOutcome };

/** How the registrar child is started: JSON in its first argument. */
export interface RegistrarOptions {
  /** challenge a REGISTER without Authorization with 401 */
  digest: boolean;
}

export interface RegistrarCounts {
  /** REGISTERs received (retransmissions included) */
  registers: number;
  challenges: number;
  oks: number;
  /** datagrams that were not a REGISTER it could read */
  ignored: number;
}

export type RegistrarRequest = { type: 'counts' };

export type RegistrarReply =
  | { type: 'ready'; port: number }
  | { type: 'start-failed'; error: string }
  | { type: 'counts'; id: number; counts: RegistrarCounts };
