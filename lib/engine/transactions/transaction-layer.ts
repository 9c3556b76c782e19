import { BRANCH_COOKIE, detachedString, SipRequest, type SipResponse } from '../messages/index.js';
import { responseDestination } from '../transport/response-routing.js';
import type { SipTransport } from '../transport/sip-transport.js';
import type { Destination, EngineLog, InboundMessage } from '../transport/types.js';
import { InviteClientTransaction } from './invite-client.js';
import { InviteServerTransaction, type InviteServerHooks } from './invite-server.js';
import { NonInviteClientTransaction } from './non-invite-client.js';
import { NonInviteServerTransaction } from './non-invite-server.js';
import type { TimerValues } from './timers.js';
import type { ServerTransactionContext } from './types.js';

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

/** What the layer above (dialogs + wire) must handle. */
export interface TransactionUser {
  /** a new request with its server transaction (not ACK, not a retransmission) */
  onRequest(tx: ServerTransaction, inbound: InboundMessage): void;
  /** an ACK that matched no INVITE server transaction in Completed: the ACK for a 2xx */
  onAck(inbound: InboundMessage): void;
  /** a response no client transaction claims (e.g. a retransmitted 2xx after Timer M) */
  onStrayResponse(inbound: InboundMessage): void;
  /** Timer H / L fired: the far end never ACKed our final response */
  onAckTimeout(tx: InviteServerTransaction, finalStatus: number): void;
  /** a server transaction is gone: drop anything still keyed on it */
  onServerTransactionEnded(tx: ServerTransaction): void;
}

export interface ClientRequestHandlers {
  onResponse: (res: SipResponse, inbound?: InboundMessage) => void;
}

/** Server transaction key (RFC 3261 17.2.3), with an RFC 2543 fallback for cookie-less branches. */
function serverKey(req: SipRequest): string {
  const via = req.topVia;
  const method = req.method === 'ACK' || req.method === 'CANCEL' ? 'INVITE' : req.method;
  const branch = via.params['branch'] ?? '';
  const sentBy = `${via.host}:${via.port ?? ''}`;
  if (branch.startsWith(BRANCH_COOKIE)) return `${branch}|${sentBy}|${method}`;
  return `2543|${req.callId}|${req.cseq.seq}|${req.fromTag ?? ''}|${sentBy}|${method}`;
}

export const DEFAULT_MAX_TRANSACTIONS = 200_000;

function clientKey(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

/** Matches messages to transactions, creates them, and owns them until they terminate. */
export class TransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  /** INVITE server transactions keyed separately so a CANCEL can find its INVITE */
  private readonly cancelTargets = new Map<string, InviteServerTransaction>();
  private tu?: TransactionUser;

  constructor(
    private readonly transport: SipTransport,
    private readonly timers: TimerValues,
    private readonly log: EngineLog,
    /** server + client transactions held at once; a UDP transaction lives 32 s past its final response */
    private readonly maxTransactions = DEFAULT_MAX_TRANSACTIONS,
  ) {
    transport.onMessage((m) => this.receive(m));
  }

  setUser(tu: TransactionUser): void {
    this.tu = tu;
  }

  get size(): number {
    return this.servers.size + this.clients.size;
  }

  /** The INVITE server transaction a CANCEL targets (RFC 3261 9.2), if it still exists. */
  inviteForCancel(cancel: SipRequest): InviteServerTransaction | undefined {
    return this.cancelTargets.get(serverKey(cancel));
  }

  private receive(inbound: InboundMessage): void {
    const msg = inbound.message;
    if (msg.kind === 'response') return this.receiveResponse(msg, inbound);
    const key = serverKey(msg);
    if (msg.method === 'ACK') {
      const tx = this.servers.get(key);
      if (tx?.isInvite && tx.finalStatus !== undefined && tx.finalStatus >= 300) tx.onAck();
      else this.tu?.onAck(inbound);
      return;
    }
    const existing = this.servers.get(msg.method === 'CANCEL' ? `${key}|CANCEL` : key);
    if (existing) return existing.onRetransmission();
    if (this.size >= this.maxTransactions) {
      this.log('warn', 'transaction table full; dropping request', { method: msg.method });
      return;
    }
    // detached: the key outlives the message by 32 s and must not keep its text
    const tx = this.createServer(msg, inbound, detachedString(msg.method === 'CANCEL' ? `${key}|CANCEL` : key));
    this.tu?.onRequest(tx, inbound);
  }

  private receiveResponse(res: SipResponse, inbound: InboundMessage): void {
    let branch = '';
    let method = '';
    try {
      branch = res.topVia.params['branch'] ?? '';
      method = res.cseq.method;
    } catch {
      return;
    }
    const tx = this.clients.get(clientKey(branch, method));
    if (!tx) return this.tu?.onStrayResponse(inbound);
    lastInbound.set(res, inbound);
    tx.receive(res);
  }

  private createServer(req: SipRequest, inbound: InboundMessage, key: string): ServerTransaction {
    const routed = responseDestination(req.topVia, inbound.source, inbound.flowId);
    // detached: the address may be a slice of the Via text, kept as long as the transaction
    const dest = { ...routed, address: detachedString(routed.address) };
    const ctx = new ServerContext(this, key, dest, inbound.source.transport !== 'udp', this.timers);
    const tx: ServerTransaction = req.method === 'INVITE'
      ? new InviteServerTransaction(req, ctx, ctx)
      : new NonInviteServerTransaction(req, ctx);
    ctx.tx = tx;
    this.servers.set(key, tx);
    if (tx instanceof InviteServerTransaction) this.cancelTargets.set(key, tx);
    return tx;
  }

  /** @internal ServerContext: a server transaction is gone */
  serverEnded(key: string, tx: ServerTransaction): void {
    if (this.servers.get(key) === tx) this.servers.delete(key);
    if (this.cancelTargets.get(key) === tx) this.cancelTargets.delete(key);
    this.tu?.onServerTransactionEnded(tx);
  }

  /** @internal ServerContext: Timer H / L */
  serverAckTimeout(tx: InviteServerTransaction, status: number): void {
    this.tu?.onAckTimeout(tx, status);
  }

  /**
   * Starts a client transaction. The request must carry its final top Via (with branch).
   * Responses arrive through handlers.onResponse; timeouts as a synthesized 408.
   */
  request(req: SipRequest, dest: Destination, handlers: ClientRequestHandlers): ClientTransaction {
    const branch = req.topVia.params['branch'] ?? '';
    const key = clientKey(branch, req.method);
    let pinned: Destination = dest;
    // dropped once the transaction is Completed: nothing reaches the TU after that
    let tu: ClientRequestHandlers | undefined = handlers;
    const ctx = {
      reliable: dest.transport !== 'udp',
      timers: this.timers,
      sendRequest: (r: SipRequest) => {
        this.transport.send(r, pinned).then((sent) => {
          if (sent.flowId) pinned = { ...pinned, flowId: sent.flowId };
        }).catch((err) => {
          this.log('warn', 'request could not be sent', { err: String(err), method: r.method });
          if (r.method !== 'ACK') tx.transportError();
        });
      },
      onResponse: (res: SipResponse) => {
        tu?.onResponse(res, lastInbound.get(res));
        if (tx.state === 'Completed' || tx.state === 'Terminated') tu = undefined;
      },
      onTerminated: () => {
        tu = undefined;
        if (this.clients.get(key) === tx) this.clients.delete(key);
      },
    };
    const tx: ClientTransaction = req.method === 'INVITE'
      ? new InviteClientTransaction(req, ctx)
      : new NonInviteClientTransaction(req, ctx);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** Sends outside any transaction: ACK for 2xx, 2xx retransmissions handled by the TU. */
  sendStateless(msg: SipRequest | SipResponse, dest: Destination): void {
    this.sendTo(msg, dest);
  }

  /** @internal */
  sendTo(msg: SipRequest | SipResponse, dest: Destination): void {
    this.transport.send(msg, dest).catch((err) => this.log('warn', 'send failed', { err: String(err) }));
  }

  /** @internal */
  resendTo(bytes: Buffer, dest: Destination): void {
    this.transport.sendBytes(bytes, dest).catch((err) => this.log('warn', 'send failed', { err: String(err) }));
  }

  stop(): void {
    for (const tx of [...this.servers.values()]) tx.terminate();
    for (const tx of [...this.clients.values()]) tx.terminate();
  }
}

/**
 * A server transaction's context: one small object per transaction, its callbacks on the
 * prototype, so the thousands of transactions waiting out Timer J/L hold no closures.
 */
class ServerContext implements ServerTransactionContext, InviteServerHooks {
  tx?: ServerTransaction;

  constructor(
    private readonly layer: TransactionLayer,
    private readonly key: string,
    private readonly dest: Destination,
    readonly reliable: boolean,
    readonly timers: TimerValues,
  ) {}

  sendResponse(res: SipResponse): void {
    this.layer.sendTo(res, this.dest);
  }

  resendResponse(bytes: Buffer): void {
    this.layer.resendTo(bytes, this.dest);
  }

  onTerminated(): void {
    if (this.tx) this.layer.serverEnded(this.key, this.tx);
  }

  onAckTimeout(finalStatus: number): void {
    if (this.tx instanceof InviteServerTransaction) this.layer.serverAckTimeout(this.tx, finalStatus);
  }
}

/** Lets onResponse hand the TU the inbound envelope (source address etc.) of a response. */
const lastInbound = new WeakMap<SipResponse, InboundMessage>();
