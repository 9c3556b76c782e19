import { describe, expect, it } from 'vitest';
import {
  compilePayloadTemplate,
  DEFAULT_PAYLOAD_TEMPLATE,
  PAYLOAD_VAR_MAX_LENGTH,
  PayloadTemplateError,
  type PayloadVars,
} from '../../lib/push/payload.js';

const vars: PayloadVars = {
  callUuid: '0b6e3c55-4a3c-4f0e-9d3e-0d1f6e6f2a11',
  callId: 'a84b4c76e66710@pbx.example.com',
  callerNumber: '+4930123456',
  callerName: 'Alice',
  withVideo: false,
  pushHint: 'h-7f3a',
  aor: 'sip:bob@example.com',
};

function compileError(template: unknown): PayloadTemplateError {
  try {
    compilePayloadTemplate(template);
  } catch (err) {
    if (err instanceof PayloadTemplateError) return err;
    throw err;
  }
  throw new Error('template compiled');
}

describe('payload templates', () => {
  it('the default template gives the Siprix flow its fields under aps, withVideo as a boolean', () => {
    const payload = compilePayloadTemplate(DEFAULT_PAYLOAD_TEMPLATE).render({ ...vars, withVideo: true });
    expect(payload).toEqual({
      aps: { callerNumber: '+4930123456', callerName: 'Alice', withVideo: true, pushHint: 'h-7f3a' },
      callUuid: vars.callUuid,
      callId: vars.callId,
    });
  });

  it('a whole-string placeholder keeps the type; one inside text becomes text', () => {
    const template = compilePayloadTemplate({
      cancel: '{{cancel}}',
      video: '{{ withVideo }}',
      label: 'video={{withVideo}} from {{callerNumber}}',
      nested: [{ n: 1, ok: true, none: null, reason: '{{reason}}' }],
    });
    expect(template.render({ ...vars, cancel: true, reason: 'SIP;cause=487' })).toEqual({
      cancel: true,
      video: false,
      label: 'video=false from +4930123456',
      nested: [{ n: 1, ok: true, none: null, reason: 'SIP;cause=487' }],
    });
  });

  it('optional variables default to empty text and false', () => {
    const payload = compilePayloadTemplate({ aor: '{{aor}}', cancel: '{{cancel}}', reason: '{{reason}}' }).render({
      ...vars,
      aor: undefined,
    });
    expect(payload).toEqual({ aor: '', cancel: false, reason: '' });
  });

  it('an unknown placeholder is refused at load, naming it and where it is', () => {
    const err = compileError({ aps: { caller: '{{callerNumbr}}' } });
    expect(err.code).toBe('UNKNOWN_PLACEHOLDER');
    expect(err.message).toContain('{{callerNumbr}}');
    expect(err.message).toContain('$.aps.caller');
  });

  it('a placeholder in a key is refused', () => {
    expect(compileError({ '{{callId}}': 1 }).code).toBe('PLACEHOLDER_IN_KEY');
  });

  it('templates that are not JSON objects are refused', () => {
    expect(compileError('{"aps":{}}').code).toBe('NOT_AN_OBJECT');
    expect(compileError([{}]).code).toBe('NOT_AN_OBJECT');
    expect(compileError({ n: Number.NaN }).code).toBe('NOT_JSON');
    expect(compileError({ f: () => 1 }).code).toBe('NOT_JSON');
    expect(compileError({ d: new Date() }).code).toBe('NOT_JSON');
  });

  it('a template that could render over the 5120-byte VoIP limit is refused at load', () => {
    const big = { padding: 'x'.repeat(4000), a: '{{callId}}', b: '{{callId}}' };
    const err = compileError(big);
    expect(err.code).toBe('PAYLOAD_TOO_LARGE');
    expect(err.message).toMatch(/5120/);
  });

  it('the default template fits even with the longest values', () => {
    expect(compilePayloadTemplate(DEFAULT_PAYLOAD_TEMPLATE).maxRenderedBytes).toBeLessThanOrEqual(5120);
  });

  it('hostile caller names come out as valid, bounded, printable JSON', () => {
    const template = compilePayloadTemplate(DEFAULT_PAYLOAD_TEMPLATE);
    const hostile = [
      '"}, "aps": {"alert": "pwned"}, "x": "',
      'line1\nline2\r\n\u0000\u001b[31m',
      'Zoë 😀 \u202eevil\u2028',
      '\ud800 lone surrogate',
      '😀'.repeat(10_000),
    ];
    for (const callerName of hostile) {
      const payload = template.render({ ...vars, callerName, callerNumber: callerName });
      const json = JSON.stringify(payload);
      const back = JSON.parse(json) as { aps: { callerName: string } };
      const name = back.aps.callerName;
      expect(Array.from(name).length).toBeLessThanOrEqual(PAYLOAD_VAR_MAX_LENGTH.callerName);
      expect(name).not.toMatch(/[\u0000-\u001f\u2028\u202e]/);
      expect(name).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      expect(Buffer.byteLength(json)).toBeLessThanOrEqual(5120);
      expect(Object.keys(back.aps)).toEqual(['callerNumber', 'callerName', 'withVideo', 'pushHint']);
    }
    const emoji = template.render({ ...vars, callerName: '😀'.repeat(10_000) }) as { aps: { callerName: string } };
    expect(emoji.aps.callerName).toBe('😀'.repeat(PAYLOAD_VAR_MAX_LENGTH.callerName));
  });

  it('each render is a fresh object', () => {
    const template = compilePayloadTemplate(DEFAULT_PAYLOAD_TEMPLATE);
    const first = template.render(vars) as { aps: Record<string, unknown> };
    first.aps['callerName'] = 'changed';
    expect((template.render(vars) as { aps: Record<string, unknown> }).aps['callerName']).toBe('Alice');
  });
});
