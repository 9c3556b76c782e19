import {
  generateBranch, parseNameAddr, parseUri, SipRequest, type SipResponse,
} from '../messages/index.js';
import type { TransportName } from '../transport/types.js';

export type DialogRole = 'uac' | 'uas';

export enum DialogState {
  Early = 'early',
  Confirmed = 'confirmed',
  Terminated = 'terminated',
}

/**
 * Requests after which drachtio forgets a dialog: BYE, and a NOTIFY that terminates the last
 * subscription of a SUBSCRIBE dialog (REFER subscriptions inside INVITE dialogs do not count).
 */
export function endsDialog(req: SipRequest, dialogMethod: string): boolean {
  if (req.method === 'BYE') return true;
  if (req.method !== 'NOTIFY' || dialogMethod !== 'SUBSCRIBE') return false;
  return /terminated/i.test(req.headers.get('subscription-state') ?? '');
}

/** drachtio's dialog id: Call-ID plus the From tag of the request that created the dialog. */
export function drachtioDialogId(callId: string, uacTag: string): string {
  return `${callId};from-tag=${uacTag}`;
}

/**
 * The id of a dialog we are the UAS of: drachtio's, plus our own tag. A forking proxy sends one
 * INVITE per contact with the same Call-ID and From tag (RFC 3261 16.6); when several reach us,
 * each answer makes its own dialog (12.1.1), and only the UAS tag tells them apart.
 */
export function uasDialogId(callId: string, uacTag: string, uasTag: string): string {
  return `${drachtioDialogId(callId, uacTag)};to-tag=${uasTag}`;
}

export interface DialogInit {
  role: DialogRole;
  method: string;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** From (uac) or To (uas) value without the tag handling: full header values */
  localAddress: string;
  remoteAddress: string;
  localSeq: number;
  remoteSeq: number;
  remoteTarget: string;
  routeSet: string[];
  localContact: string;
  transport: TransportName;
  flowId?: string;
}

/** RFC 3261 12: the state two user agents share, and how in-dialog requests are formed. */
export class Dialog {
  readonly id: string;
  state = DialogState.Early;
  readonly init: DialogInit;
  localSeq: number;
  remoteSeq: number;
  remoteTarget: string;
  routeSet: string[];
  flowId?: string;

  constructor(init: DialogInit) {
    this.init = init;
    this.id = init.role === 'uac' ? drachtioDialogId(init.callId, init.localTag) : uasDialogId(init.callId, init.remoteTag, init.localTag);
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.flowId = init.flowId;
  }

  get callId(): string { return this.init.callId; }
  get localTag(): string { return this.init.localTag; }
  get remoteTag(): string { return this.init.remoteTag; }
  get role(): DialogRole { return this.init.role; }

  /** UAS side: built from the INVITE/SUBSCRIBE and the tag we answer with (RFC 3261 12.1.1). */
  static fromRequest(req: SipRequest, localTag: string, localContact: string, transport: TransportName, flowId?: string): Dialog {
    return new Dialog({
      role: 'uas', method: req.method, callId: req.callId, localTag, remoteTag: req.fromTag ?? '',
      localAddress: req.headers.get('to') ?? '', remoteAddress: req.headers.get('from') ?? '',
      localSeq: 0, remoteSeq: req.cseq.seq, remoteTarget: req.contactUri() ?? req.uri,
      routeSet: req.headers.getAll('record-route'), localContact, transport, flowId,
    });
  }

  /** UAC side: built from our request and the 1xx/2xx with a To tag (RFC 3261 12.1.2). */
  static fromResponse(req: SipRequest, res: SipResponse, transport: TransportName, flowId?: string): Dialog {
    return new Dialog({
      role: 'uac', method: req.method, callId: req.callId, localTag: req.fromTag ?? '', remoteTag: res.toTag ?? '',
      localAddress: req.headers.get('from') ?? '', remoteAddress: res.headers.get('to') ?? '',
      localSeq: req.cseq.seq, remoteSeq: 0, remoteTarget: res.contactUri() ?? req.uri,
      routeSet: [...res.headers.getAll('record-route')].reverse(), localContact: req.headers.get('contact') ?? '',
      transport, flowId,
    });
  }

  /** A 2xx refreshes the route set and target of an early UAC dialog (RFC 3261 13.2.2.4). */
  confirmFromResponse(res: SipResponse): void {
    if (this.role === 'uac') {
      this.remoteTarget = res.contactUri() ?? this.remoteTarget;
      this.routeSet = [...res.headers.getAll('record-route')].reverse();
    }
    this.state = DialogState.Confirmed;
  }

  /** RFC 3261 12.2.2: a lower CSeq is out of order. ACK and CANCEL reuse their INVITE's number. */
  acceptsRemoteCSeq(req: SipRequest): boolean {
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    const seq = req.cseq.seq;
    if (this.remoteSeq && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Next hop URI: the first route, or the remote target. */
  nextHopUri(): string {
    const first = this.routeSet[0];
    return first ? parseNameAddr(first).uri : this.remoteTarget;
  }

  /**
   * A request inside the dialog (RFC 3261 12.2.1.1). The caller adds the Via sent-by and any
   * application headers. ACK reuses the INVITE's CSeq number; everything else increments.
   */
  createRequest(method: string, ackSeq?: number): SipRequest {
    const seq = method === 'ACK' && ackSeq !== undefined ? ackSeq : ++this.localSeq;
    const { uri, routes } = this.requestUriAndRoutes();
    const req = new SipRequest(method, uri);
    req.headers.append('via', `SIP/2.0/${this.init.transport.toUpperCase()} placeholder;branch=${generateBranch()};rport`);
    req.headers.append('max-forwards', '70');
    const from = this.role === 'uac' ? this.init.localAddress : withTagValue(this.init.localAddress, this.localTag);
    const to = this.role === 'uac' ? withTagValue(this.init.remoteAddress, this.remoteTag) : this.init.remoteAddress;
    req.headers.append('from', from);
    req.headers.append('to', to);
    req.headers.append('call-id', this.callId);
    req.headers.append('cseq', `${seq} ${method}`);
    for (const r of routes) req.headers.append('route', r);
    return req;
  }

  private requestUriAndRoutes(): { uri: string; routes: string[] } {
    const first = this.routeSet[0];
    if (!first) return { uri: this.remoteTarget, routes: [] };
    const firstUri = parseNameAddr(first).uri;
    let loose = false;
    try { loose = 'lr' in parseUri(firstUri).params; } catch { loose = true; }
    if (loose) return { uri: this.remoteTarget, routes: this.routeSet };
    // strict router (RFC 3261 12.2.1.1): it goes in the Request-URI, the target at the end
    return { uri: firstUri, routes: [...this.routeSet.slice(1), `<${this.remoteTarget}>`] };
  }
}

/** Adds or replaces the tag of a From/To value. */
function withTagValue(value: string, tag: string): string {
  if (!tag) return value;
  const stripped = value.replace(/;\s*tag=[^;>\s]*/i, '');
  return `${stripped};tag=${tag}`;
}
