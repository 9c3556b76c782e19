import type { Binding, EndedNotice } from '../domain/binding.js';

/**
 * Both stores keep domain objects as JSON text. What comes back from disk or from a shared Redis
 * is checked before it is trusted, so a damaged record is reported and dropped instead of
 * surfacing later as an `undefined` field deep in a call.
 */

export class CorruptRecordError extends Error {
  readonly code = 'STORE_CORRUPT_RECORD';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CorruptRecordError';
  }
}

/** A push claim only needs to know until when it blocks another push. */
export interface PushClaim {
  expiresAt: number;
}

type Fields = Record<string, unknown>;

function parseObject(text: string): Fields {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CorruptRecordError('record is not valid JSON', { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptRecordError('record is not a JSON object');
  }
  return value as Fields;
}

function requireTypes(record: Fields, kind: string, fields: Record<string, 'string' | 'number' | 'object'>): void {
  for (const [name, type] of Object.entries(fields)) {
    const value = record[name];
    const ok = type === 'number' ? Number.isFinite(value) : typeof value === type && value !== null;
    if (!ok) throw new CorruptRecordError(`${kind} record has no valid ${name}`);
  }
}

export function parseBinding(text: string): Binding {
  const record = parseObject(text);
  requireTypes(record, 'binding', {
    aor: 'string',
    deviceKey: 'string',
    contact: 'string',
    flow: 'object',
    localContactUser: 'string',
    upstreamCallId: 'string',
    deviceExpiresAt: 'number',
    upstreamExpiresAt: 'number',
    createdAt: 'number',
    registeredAt: 'number',
  });
  if (record['push'] !== undefined) requireTypes(record['push'] as Fields, 'binding push', { token: 'string' });
  return record as unknown as Binding;
}

export function parseEndedNotice(text: string): EndedNotice {
  const record = parseObject(text);
  requireTypes(record, 'ended notice', {
    aor: 'string',
    deviceKey: 'string',
    callUuid: 'string',
    callId: 'string',
    expiresAt: 'number',
  });
  return record as unknown as EndedNotice;
}

export function parsePushClaim(text: string): PushClaim {
  const record = parseObject(text);
  requireTypes(record, 'push claim', { expiresAt: 'number' });
  return record as unknown as PushClaim;
}

/** The same binding without its push token; everything else, including expiry, is kept. */
export function withoutPush(binding: Binding): Binding {
  const { push: _dropped, ...rest } = binding;
  return rest;
}
