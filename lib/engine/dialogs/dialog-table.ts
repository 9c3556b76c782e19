import type { SipRequest } from '../messages/index.js';
import type { Dialog } from './dialog.js';

/** Every dialog the engine tracks, findable by drachtio id and by RFC 3261 dialog key. */
export class DialogTable {
  private readonly byId = new Map<string, Dialog>();
  private readonly byKey = new Map<string, Dialog>();
  private readonly byCallId = new Map<string, Set<Dialog>>();

  constructor(private readonly maxDialogs = 100_000) {}

  get size(): number {
    return this.byId.size;
  }

  add(dialog: Dialog): boolean {
    if (this.byId.size >= this.maxDialogs && !this.byId.has(dialog.id)) return false;
    this.byId.set(dialog.id, dialog);
    this.byKey.set(key(dialog.callId, dialog.localTag, dialog.remoteTag), dialog);
    const set = this.byCallId.get(dialog.callId) ?? new Set<Dialog>();
    set.add(dialog);
    this.byCallId.set(dialog.callId, set);
    return true;
  }

  get(id: string): Dialog | undefined {
    return this.byId.get(id);
  }

  /** The dialog an inbound request belongs to: our tag is its To tag. */
  match(req: SipRequest): Dialog | undefined {
    const local = req.toTag;
    if (!local) return undefined;
    return this.byKey.get(key(req.callId, local, req.fromTag ?? ''));
  }

  /** The dialog with these tags (RFC 3261 12: Call-ID, local tag, remote tag). */
  find(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.byKey.get(key(callId, localTag, remoteTag));
  }

  findByCallId(callId: string): Dialog | undefined {
    return this.byCallId.get(callId)?.values().next().value;
  }

  remove(dialog: Dialog): void {
    if (this.byId.get(dialog.id) === dialog) this.byId.delete(dialog.id);
    const k = key(dialog.callId, dialog.localTag, dialog.remoteTag);
    if (this.byKey.get(k) === dialog) this.byKey.delete(k);
    const set = this.byCallId.get(dialog.callId);
    set?.delete(dialog);
    if (set && set.size === 0) this.byCallId.delete(dialog.callId);
  }

  all(): Dialog[] {
    return [...this.byId.values()];
  }
}

function key(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}
