import { describe, expect, it } from 'vitest';
import { readInstanceId } from '../../lib/registration/device-identity.js';
import { readRegister, type RegisterSettings } from '../../lib/registration/register-request.js';
import { upstreamSupported } from '../../lib/registration/registration-relay.js';

const settings: RegisterSettings = {
  tokenHeader: 'X-Token', tokenParam: 'xToken', defaultTopic: 'com.example.voip', defaultEnvironment: 'production',
  minExpires: 30, maxExpires: 7200, defaultExpires: 600, contactUserPrefix: 'pw-', pushHintHeader: 'X-PushHint', pushHintParam: 'pushHint',
};
const TOKEN = 'ab'.repeat(32);

function register(contact: string): ReturnType<typeof readRegister> {
  const headers: Record<string, string> = { To: '<sip:alice@example.com>', Contact: contact, 'X-Token': TOKEN };
  return readRegister((n) => headers[n], settings);
}

describe('+sip.instance read strictly', () => {
  it('reads the RFC 5626 form', () => {
    expect(readInstanceId('"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"')).toEqual({ kind: 'valid', id: 'urn:uuid:00000000-0000-1000-8000-000A95A0E128' });
  });

  it('reports an oversize, unterminated or unbalanced instance instead of half-reading it', () => {
    expect(readInstanceId(`"<urn:uuid:${'a'.repeat(5000)}>"`).kind).toBe('invalid');
    expect(readInstanceId('"<urn:uuid:1234>').kind).toBe('invalid');
    expect(readInstanceId('"<urn:uuid:1234"').kind).toBe('invalid');
    expect(readInstanceId('"<>"').kind).toBe('invalid');
    expect(readInstanceId('""').kind).toBe('invalid');
  });

  it('keys a device with an unusable instance by its token, and says why (Warning)', () => {
    for (const contact of [
      `<sip:alice@192.0.2.7:5060>;+sip.instance="<urn:uuid:${'a'.repeat(5000)}>"`,
      '<sip:alice@192.0.2.7:5060>;+sip.instance="<urn:uuid:1234>',
    ]) {
      const intent = register(contact);
      expect(intent.kind).toBe('register');
      if (intent.kind !== 'register') return;
      expect(intent.instanceId).toBeUndefined();
      expect(intent.deviceKey).toBe(`tok:${TOKEN}`);
      expect(intent.identityWarning).toContain('+sip.instance');
    }
  });
});

describe('the REGISTER relayed upstream', () => {
  it('drops the option tags that describe the phone\'s own Contact (outbound, gruu)', () => {
    expect(upstreamSupported('outbound, gruu')).toEqual({});
    expect(upstreamSupported('path, outbound, 100rel')).toEqual({ Supported: 'path, 100rel' });
    expect(upstreamSupported(undefined)).toEqual({});
  });
});
