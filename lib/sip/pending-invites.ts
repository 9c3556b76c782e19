/**
 * drachtio-srf tracks the network INVITEs that await a final response in a Map keyed by Call-ID
 * alone (`pendingNetworkInvites`), to hand a CANCEL to its INVITE. Two INVITEs with one Call-ID
 * are normal in front of a forking proxy (Kamailio, OpenSIPS: one INVITE per registered contact,
 * RFC 3261 16.6) and for a merged request refused 482. In drachtio-srf's Map the second INVITE
 * replaces the first, and the final response to either deletes both, so the CANCEL for the other
 * branch was lost: that phone rang on until the ring timeout.
 *
 * `PendingInvites` keeps a list per Call-ID and routes a CANCEL to the INVITE it matches by RFC 3261
 * 9.2 (the top Via branch, then the Request-URI). It offers exactly the Map methods drachtio-srf
 * calls (has/get/set/delete/size), so it can stand in for drachtio-srf's Map unchanged.
 */

/** What drachtio-srf stores per pending INVITE. */
export interface PendingInvite {
  req: PendingRequestView;
  res: PendingResponseView;
}

interface PendingRequestView {
  get(name: string): string | undefined;
  readonly uri?: string;
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
}

interface PendingResponseView {
  /** drachtio-srf's Response sets this when it sends a response. */
  status?: number;
}

interface MessageView {
  get(name: string): string | undefined;
  readonly uri?: string;
}

/** The branch param of the top Via, lowercased ('' when absent). Pure. */
export function topViaBranch(via: string | undefined): string {
  const top = (via ?? '').split(',')[0] ?? '';
  return /;\s*branch\s*=\s*([^;,\s]+)/i.exec(top)?.[1]?.toLowerCase() ?? '';
}

/**
 * Which pending INVITE a CANCEL is for (RFC 3261 9.2): the one with its top Via branch. A CANCEL
 * without a branch (RFC 2543 peers) falls back to the Request-URI, then to a lone INVITE; one whose
 * branch matches none is for an INVITE already answered, and goes nowhere. Pure.
 */
export function inviteForCancel(pending: readonly PendingInvite[], cancel: MessageView): PendingInvite | undefined {
  const branch = topViaBranch(cancel.get('Via'));
  if (branch) return pending.find((p) => topViaBranch(p.req.get('Via')) === branch);
  const byUri = cancel.uri !== undefined ? pending.filter((p) => p.req.uri === cancel.uri) : [];
  return byUri.length === 1 ? byUri[0] : pending.length === 1 ? pending[0] : undefined;
}

/**
 * When several INVITEs share a Call-ID, drachtio-srf is handed this in place of one entry: the
 * event it emits goes to the INVITE the message belongs to.
 */
class BranchRouter implements PendingRequestView {
  routed: PendingInvite | undefined;

  constructor(private readonly pending: readonly PendingInvite[]) {}

  get(name: string): string | undefined {
    return this.newest().req.get(name);
  }

  emit(event: string, msg?: unknown, ...rest: unknown[]): boolean {
    if (event !== 'cancel') return this.newest().req.emit(event, msg, ...rest);
    // only a CANCEL marks its INVITE for the delete drachtio-srf does next
    const target = isMessage(msg) ? inviteForCancel(this.pending, msg) : undefined;
    this.routed = target;
    return target ? target.req.emit(event, msg, ...rest) : false;
  }

  listenerCount(event: string): number {
    return this.newest().req.listenerCount(event);
  }

  private newest(): PendingInvite {
    return this.pending[this.pending.length - 1] as PendingInvite;
  }
}

const isMessage = (m: unknown): m is MessageView => typeof m === 'object' && m !== null && typeof (m as MessageView).get === 'function';

const answered = (p: PendingInvite): boolean => (p.res.status ?? 0) >= 200;

export class PendingInvites {
  private readonly byCallId = new Map<string, PendingInvite[]>();
  /** The router handed out for the last `get` of a shared Call-ID, so `delete` knows its target. */
  private lastRouter: { callId: string; router: BranchRouter } | undefined;

  constructor(from?: Iterable<[string, PendingInvite]>) {
    for (const [callId, p] of from ?? []) this.set(callId, p);
  }

  get size(): number {
    return this.byCallId.size;
  }

  has(callId: string): boolean {
    return this.live(callId).length > 0;
  }

  get(callId: string): PendingInvite | undefined {
    const list = this.live(callId);
    if (list.length === 0) return undefined;
    // a router even for one INVITE: a CANCEL must match it, not just share its Call-ID
    const router = new BranchRouter(list);
    this.lastRouter = { callId, router };
    return { req: router, res: (list[list.length - 1] as PendingInvite).res };
  }

  set(callId: string, p: PendingInvite): this {
    const list = this.byCallId.get(callId);
    if (!list) this.byCallId.set(callId, [p]);
    else if (!list.some((q) => q.req === p.req)) list.push(p);
    return this;
  }

  /**
   * drachtio-srf deletes after a final response to one INVITE, and after emitting a CANCEL to
   * one: drop that one only (a CANCELled INVITE is answered 487 by the SIP server itself), never
   * an INVITE that is still waiting for its answer.
   */
  delete(callId: string): boolean {
    const list = this.byCallId.get(callId);
    if (!list) return false;
    const routed = this.lastRouter?.callId === callId ? this.lastRouter.router.routed : undefined;
    this.lastRouter = undefined;
    const keep = list.filter((p) => p !== routed && !answered(p));
    if (keep.length === 0) this.byCallId.delete(callId);
    else this.byCallId.set(callId, keep);
    return keep.length < list.length;
  }

  /** Entries still waiting for a final response. */
  private live(callId: string): PendingInvite[] {
    const list = this.byCallId.get(callId);
    if (!list) return [];
    if (list.some(answered)) {
      const keep = list.filter((p) => !answered(p));
      if (keep.length === 0) this.byCallId.delete(callId);
      else this.byCallId.set(callId, keep);
      return keep;
    }
    return list;
  }
}
