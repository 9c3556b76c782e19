/**
 * The signed grant one cluster node puts on the INVITE it asks another node to deliver over a
 * phone's flow: "node B, deliver this to the phone on this flow of yours, until then". Signed with
 * the cluster's key (HMAC-SHA256), so a node delivers only what a peer asked, never what a PBX or a
 * phone sends. Pure: no I/O, no throwing on hostile input.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Flow } from '../domain/binding.js';

/** The header that carries the grant between nodes; never sent on to a phone. */
export const RELAY_HEADER = 'X-Pushwake-Relay';

/** How long a grant is good for: the hop is immediate, so a short life bounds any replay. */
export const GRANT_LIFETIME_MS = 30_000;

/** A grant longer than this is refused unread. */
const MAX_GRANT_CHARS = 2048;

export interface RelayGrant {
  /** The node asked to deliver (the edge holding the flow). */
  nodeId: string;
  /** The node asking (the one holding the call). */
  fromNodeId: string;
  flow: Flow;
  /** The phone's own Contact URI: the Request-URI of the INVITE the edge sends it. */
  contact: string;
  aor: string;
  deviceKey: string;
  /** Epoch ms. */
  expiresAt: number;
}

export type GrantCheck = { kind: 'granted'; grant: RelayGrant } | { kind: 'refused'; why: string };

const b64 = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

export function signGrant(key: Buffer, grant: RelayGrant): string {
  const payload = b64(JSON.stringify(grant));
  return `${payload}.${b64(mac(key, payload))}`;
}

/** Is this a grant, signed with `key`, for this node, still alive? */
export function checkGrant(key: Buffer, token: string | undefined, selfNodeId: string, now: number): GrantCheck {
  if (token === undefined || token === '') return { kind: 'refused', why: 'no grant' };
  if (token.length > MAX_GRANT_CHARS) return { kind: 'refused', why: 'grant too long' };
  const dot = token.indexOf('.');
  if (dot <= 0) return { kind: 'refused', why: 'grant is not payload.signature' };
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(key, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'refused', why: 'bad signature (not signed with this cluster\'s key)' };
  let grant: unknown;
  try {
    grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { kind: 'refused', why: 'grant payload is not JSON' };
  }
  if (!isGrant(grant)) return { kind: 'refused', why: 'grant payload has the wrong shape' };
  if (grant.nodeId !== selfNodeId) return { kind: 'refused', why: `grant is for node ${JSON.stringify(grant.nodeId)}` };
  if (grant.expiresAt < now) return { kind: 'refused', why: 'grant expired' };
  return { kind: 'granted', grant };
}

function isGrant(v: unknown): v is RelayGrant {
  if (typeof v !== 'object' || v === null) return false;
  const g = v as Record<string, unknown>;
  const flow = g['flow'] as Record<string, unknown> | undefined;
  return typeof g['nodeId'] === 'string' && typeof g['fromNodeId'] === 'string' && typeof g['aor'] === 'string' && typeof g['contact'] === 'string' && typeof g['deviceKey'] === 'string'
    && typeof g['expiresAt'] === 'number' && typeof flow === 'object' && flow !== null
    && ['udp', 'tcp', 'tls', 'ws', 'wss'].includes(flow['transport'] as string) && typeof flow['sourceAddress'] === 'string' && Number.isInteger(flow['sourcePort']);
}
