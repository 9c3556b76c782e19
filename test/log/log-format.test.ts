/** Logs: JSON lines for machines, pretty lines for a person at a terminal (log.format). */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.js';

function capture(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return { stream, text: () => out };
}

describe('log.format', () => {
  it('json (and auto to anything that is not a terminal) writes one JSON object per line', () => {
    for (const format of ['json', 'auto'] as const) {
      const { stream, text } = capture();
      createLogger('info', stream, format).info({ aor: 'sip:alice@example.com' }, 'device registered');
      const line = JSON.parse(text().trim()) as Record<string, unknown>;
      expect(line).toMatchObject({ msg: 'device registered', aor: 'sip:alice@example.com', app: 'pushwake', level: 30 });
    }
  });

  it('pretty writes a readable line with the level, the message and the fields', () => {
    const { stream, text } = capture();
    createLogger('info', stream, 'pretty').warn({ aor: 'sip:alice@example.com' }, 'push failed');
    const out = text();
    expect(() => JSON.parse(out)).toThrow();
    expect(out).toMatch(/WARN.*push failed/);
    expect(out).toContain('aor: "sip:alice@example.com"');
  });
});
