/** A call's log (issue 14): its fields on every line, as a pino child would write them, without holding a child. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, FieldLog } from '../../lib/log.js';

function lines(level: string): { log: ReturnType<typeof createLogger>; read: () => Array<Record<string, unknown>> } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return { log: createLogger(level, stream, 'json'), read: () => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('FieldLog', () => {
  it('writes the call fields on each line, with the line own fields and its message', () => {
    const { log, read } = lines('info');
    const call = new FieldLog(log, { callId: 'c-1', aor: 'sip:alice@example.com' });
    call.info({ deviceKey: 'phone' }, 'device woke');
    call.warn('push failed');
    call.error({ err: new Error('boom') }, 'leg failed');
    const [woke, failed, errored] = read();
    expect(woke).toMatchObject({ level: 30, msg: 'device woke', callId: 'c-1', aor: 'sip:alice@example.com', deviceKey: 'phone', app: 'pushwake' });
    expect(failed).toMatchObject({ level: 40, msg: 'push failed', callId: 'c-1' });
    // pino's serialisers still apply to the merged fields
    expect(errored).toMatchObject({ level: 50, callId: 'c-1', err: { message: 'boom', type: 'Error' } });
  });

  it('a line field of the same name wins over the call field, as with a child logger', () => {
    const { log, read } = lines('info');
    new FieldLog(log, { deviceKey: 'call-level' }).info({ deviceKey: 'line-level' }, 'x');
    expect(read()[0]).toMatchObject({ deviceKey: 'line-level' });
  });

  it('writes nothing below the logger level, and does no work for it', () => {
    const { log, read } = lines('warn');
    const fields = new Proxy({ callId: 'c-2' }, { ownKeys: () => { throw new Error('fields read for a line that is not written'); } });
    const call = new FieldLog(log, fields);
    call.debug({ a: 1 }, 'hidden');
    call.info('hidden too');
    expect(read()).toEqual([]);
  });
});
