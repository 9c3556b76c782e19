import { describe, expect, it } from 'vitest';
import { SipHeaders } from '../../../lib/engine/messages/headers.js';

describe('header spelling on the wire', () => {
  it('keeps an extension header as written (clients may look it up case-sensitively)', () => {
    const h = new SipHeaders();
    h.append('X-PushHint', 'abc');
    h.append('X-Call-UUID', 'u');
    expect(h.entries.map((e) => e.spelling)).toEqual(['X-PushHint', 'X-Call-UUID']);
    expect(h.get('x-pushhint')).toBe('abc');
  });

  it('gives compact forms and lower-case names the canonical spelling', () => {
    const h = new SipHeaders();
    h.append('i', 'call');
    h.append('call-id', 'call2');
    h.append('www-authenticate', 'Digest');
    expect(h.entries.map((e) => e.spelling)).toEqual(['Call-ID', 'Call-ID', 'WWW-Authenticate']);
  });
});
