/**
 * Which REGISTERs are pushwake's when it is mounted in a host's srf app: those that carry push data
 * (or answer a push), and those of a device pushwake already holds, such as a refresh or an
 * unregister that leaves its push data out. Every other REGISTER goes on to the host.
 */
import type { BindingStore } from '../store/binding-store.js';
import { readRegister, type RegisterSettings } from './register-request.js';

export type RegisterClaim =
  | { kind: 'ours' }
  | { kind: 'not-ours' }
  /** Ours when the store holds this device (by its key, else by its contact URI). */
  | { kind: 'if-known'; aor: string; deviceKey: string; contactUri: string }
  /** `Contact: *`: ours when the store holds any device of the AOR. */
  | { kind: 'if-any'; aor: string };

/** RFC 8599 and legacy Contact params that say "push me". */
const PUSH_PARAMS = ['pn-provider', 'pn-prid', 'pn-param', 'pn-tok'];

/** One pattern per settings object: REGISTER storms must not compile regular expressions. */
const patterns = new WeakMap<RegisterSettings, RegExp>();

function pushParamPattern(s: RegisterSettings): RegExp {
  let re = patterns.get(s);
  if (!re) {
    const names = [...PUSH_PARAMS, s.tokenParam, s.pushHintParam].map((p) => escapeRegExp(p.toLowerCase()));
    re = new RegExp(`;\\s*(?:${names.join('|')})\\s*(?:=|;|>|,|$)`, 'i');
    patterns.set(s, re);
  }
  return re;
}

/** Decide from the message alone, or name the store question that decides. Pure. */
export function claimRegister(header: (name: string) => string | undefined, s: RegisterSettings): RegisterClaim {
  if (header(s.tokenHeader) !== undefined || header(s.pushHintHeader) !== undefined) return { kind: 'ours' };
  if (pushParamPattern(s).test(header('Contact') ?? '')) return { kind: 'ours' };
  const intent = readRegister(header, s);
  switch (intent.kind) {
    case 'reject':
      // a REGISTER pushwake cannot read and that says nothing of push is the host's to answer
      return { kind: 'not-ours' };
    case 'unregister-all':
      return { kind: 'if-any', aor: intent.aor };
    case 'unregister':
      return { kind: 'if-known', aor: intent.aor, deviceKey: intent.deviceKey, contactUri: intent.contactUri };
    case 'register':
      return { kind: 'if-known', aor: intent.aor, deviceKey: intent.deviceKey, contactUri: intent.contact.uri };
  }
}

/** Answer the store question of a claim. Rejects when the store does (the caller answers 503). */
export async function settleClaim(claim: RegisterClaim, store: BindingStore): Promise<boolean> {
  switch (claim.kind) {
    case 'ours':
      return true;
    case 'not-ours':
      return false;
    case 'if-any':
      return (await store.listBindings(claim.aor)).length > 0;
    case 'if-known':
      if (await store.getBinding(claim.aor, claim.deviceKey)) return true;
      return (await store.listBindings(claim.aor)).some((b) => b.contact === claim.contactUri);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
