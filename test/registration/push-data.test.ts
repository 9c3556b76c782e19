import { describe, expect, it } from 'vitest';
import { readRegister, type RegisterSettings } from '../../lib/registration/register-request.js';

const TOKEN = 'ab'.repeat(32);
const s: RegisterSettings = {
  tokenHeader: 'X-Token',
  tokenParam: 'xToken',
  defaultTopic: 'com.example.phone.voip',
  defaultEnvironment: 'production',
  minExpires: 30,
  maxExpires: 7200,
  defaultExpires: 600,
  contactUserPrefix: 'pw-',
  pushHintHeader: 'X-PushHint',
  pushHintParam: 'pushHint',
};

function read(headers: Record<string, string>, settings: RegisterSettings = s) {
  const h = { To: '<sip:alice@Example.COM>', ...headers };
  return readRegister((n) => Object.entries(h).find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1], settings);
}

describe('reading push data from a REGISTER', () => {
  it('takes the X-Token header with the default topic', () => {
    const r = read({ Contact: '<sip:alice@10.0.0.1:5060;transport=tcp>', 'X-Token': TOKEN.toUpperCase() });
    expect(r).toMatchObject({ kind: 'register', aor: 'sip:alice@example.com', deviceExpires: 600, push: { kind: 'valid', source: 'header', push: { token: TOKEN, topic: 'com.example.phone.voip', environment: 'production' } } });
  });

  it('takes the xToken Contact URI param', () => {
    const r = read({ Contact: `<sip:alice@10.0.0.1;xToken=${TOKEN}>;expires=300` });
    expect(r).toMatchObject({ kind: 'register', deviceExpires: 300, push: { kind: 'valid', source: 'param' } });
  });

  it('takes RFC 8599 pn-* params, topic from pn-param after the Team ID', () => {
    const r = read({ Contact: `<sip:alice@10.0.0.1;pn-provider=apns;pn-prid=${TOKEN};pn-param=ABCDE12345.com.acme.phone.voip>` });
    expect(r).toMatchObject({ push: { kind: 'valid', source: 'rfc8599', push: { token: TOKEN, topic: 'com.acme.phone.voip', environment: 'production' } } });
  });

  it('apns.dev means the development environment; the voip part of a Linphone prid is used', () => {
    const r = read({ Contact: `<sip:a@h;pn-provider=apns.dev;pn-prid=${'cd'.repeat(32)}:remote&${TOKEN}:voip;pn-param=ABCDE12345.com.acme.phone>` });
    expect(r).toMatchObject({ push: { kind: 'valid', push: { token: TOKEN, topic: 'com.acme.phone.voip', environment: 'development' } } });
  });

  it("reads Linphone's pn-param services suffix (remote&voip)", () => {
    const r = read({ Contact: `<sip:a@h;pn-provider=apns;pn-prid=${'cd'.repeat(32)}:remote&${TOKEN}:voip;pn-param=ABCDE12345.org.linphone.phone.remote&voip>` });
    expect(r).toMatchObject({ push: { kind: 'valid', push: { token: TOKEN, topic: 'org.linphone.phone.voip' } } });
    const remoteOnly = read({ Contact: `<sip:a@h;pn-provider=apns;pn-prid=${TOKEN}:remote;pn-param=ABCDE12345.org.linphone.phone.remote>` });
    expect(remoteOnly).toMatchObject({ push: { kind: 'invalid', reason: 'pn-param offers no voip push service' } });
  });

  it('takes legacy pn-tok/app-id/pn-type, with .dev naming the environment', () => {
    const r = read({ Contact: `<sip:a@h;pn-type=apple;pn-tok=${TOKEN};app-id=org.linphone.phone.dev>` });
    expect(r).toMatchObject({ push: { kind: 'valid', source: 'legacy', push: { topic: 'org.linphone.phone.voip', environment: 'development' } } });
  });

  it('uses +sip.instance as the device key when present', () => {
    const r = read({ Contact: `<sip:a@h>;+sip.instance="<urn:uuid:0f0e>"`, 'X-Token': TOKEN });
    expect(r).toMatchObject({ kind: 'register', instanceId: 'urn:uuid:0f0e', deviceKey: 'inst:urn:uuid:0f0e' });
  });

  it('an RFC 8599 pn-provider pushwake does not serve gets 555 with the Feature-Caps it does serve, and is not relayed', () => {
    for (const provider of ['fcm', 'webpush', 'x-unknown']) {
      expect(read({ Contact: `<sip:a@h;pn-provider=${provider};pn-prid=${TOKEN};pn-param=x>` })).toEqual({
        kind: 'reject', status: 555, reason: 'Push Notification Service Not Supported', headers: { 'Feature-Caps': '*;+sip.pns="apns"' },
      });
    }
    // an unregister with it still removes the binding
    expect(read({ Contact: `<sip:a@h;pn-provider=fcm;pn-prid=${TOKEN};pn-param=x>;expires=0` }).kind).toBe('unregister');
  });

  it('with FCM configured: an Android REGISTER becomes an FCM binding; an unknown project is relayed without push', () => {
    const fcm = { ...s, pns: ['apns', 'fcm'], fcmProjects: ['my-project-1'] };
    const token = `dGVzdC10b2tlbg:APA91b${'Q'.repeat(120)}`;
    const ok = read({ Contact: `<sip:a@h;pn-provider=fcm;pn-prid=${token};pn-param=my-project-1>` }, fcm);
    expect(ok).toMatchObject({ kind: 'register', push: { kind: 'valid', source: 'rfc8599', push: { provider: 'fcm', token, topic: 'my-project-1' } } });
    const other = read({ Contact: `<sip:a@h;pn-provider=fcm;pn-prid=${token};pn-param=someone-else>` }, fcm);
    expect(other).toMatchObject({ kind: 'register', push: { kind: 'invalid', reason: 'FCM project "someone-else" is not configured (fcm.serviceAccountFile)' } });
    expect(read({ Contact: `<sip:a@h;pn-provider=fcm;pn-prid=bad token;pn-param=my-project-1>` }, fcm)).toMatchObject({ push: { kind: 'invalid' } });
    // an unsupported provider lists both served services
    expect(read({ Contact: `<sip:a@h;pn-provider=webpush;pn-prid=${token};pn-param=x>` }, fcm)).toMatchObject({ status: 555, headers: { 'Feature-Caps': '*;+sip.pns="apns,fcm"' } });
  });

  it('reads an echoed push hint from the header or a contact param', () => {
    expect(read({ Contact: '<sip:a@h>', 'X-PushHint': 'abc' })).toMatchObject({ pushHint: 'abc' });
    expect(read({ Contact: '<sip:a@h;pushHint=def>' })).toMatchObject({ pushHint: 'def' });
  });

  it.each([
    ['a non-hex token', { 'X-Token': 'zz'.repeat(32) }, 'X-Token is not an APNs token'],
    ['an absurdly long token', { 'X-Token': 'ab'.repeat(5000) }, 'X-Token is not an APNs token'],
    ['a short token', { 'X-Token': 'abcd' }, 'X-Token is not an APNs token'],
    ['pn-provider without prid', { Contact: '<sip:a@h;pn-provider=apns;pn-param=ABCDE12345.a.b>' }, 'without pn-prid'],
    ['a bad pn-param', { Contact: `<sip:a@h;pn-provider=apns;pn-prid=${TOKEN};pn-param=nodots>` }, 'pn-param is not'],
    ['an unknown legacy pn-type', { Contact: `<sip:a@h;pn-type=google;pn-tok=${TOKEN}>` }, 'unsupported pn-type'],
    ['control characters in the token', { 'X-Token': `${TOKEN}\u0000` }, 'X-Token is not an APNs token'],
  ])('relays without push for %s', (_name, headers, why) => {
    const r = read({ Contact: '<sip:a@h>', ...headers });
    expect(r.kind).toBe('register');
    if (r.kind === 'register') {
      expect(r.push.kind).toBe('invalid');
      if (r.push.kind === 'invalid') expect(r.push.reason).toContain(why);
    }
  });

  it('a token with no topic anywhere is invalid', () => {
    const r = read({ Contact: '<sip:a@h>', 'X-Token': TOKEN }, { ...s, defaultTopic: '' });
    expect(r).toMatchObject({ push: { kind: 'invalid' } });
  });

  it('no push data at all is a plain registration', () => {
    expect(read({ Contact: '<sip:a@h>' })).toMatchObject({ kind: 'register', push: { kind: 'none' }, deviceKey: 'ct:sip:a@h' });
  });
});

describe('reading the rest of a REGISTER', () => {
  it.each([
    [{ To: 'garbage' }, 400, 'Bad To Header'],
    [{ To: '<tel:+123>' }, 400, 'Bad To Header'],
    [{ Contact: '<sip:a@h' }, 400, 'Bad Contact Header'],
    [{ Contact: '<sip:a@h>, <sip:b@h>' }, 400, 'One Contact Per REGISTER'],
    [{ Contact: '<http://x>' }, 400, 'Bad Contact URI'],
    [{ Contact: '<sip:a@h>', Expires: 'soon' }, 400, 'Bad Expires'],
    [{ Contact: '<sip:a@h>;expires=-1' }, 400, 'Bad Expires'],
    [{ Contact: '*' }, 400, 'Contact * Requires Expires 0'],
    [{ Contact: '<sip:a@h>', Expires: '10' }, 423, 'Interval Too Brief'],
    [{}, 403, 'Binding Queries Not Supported'],
    [{ Contact: `<sip:a@h>;x=${'y'.repeat(10_000)}` }, 400, 'Bad Contact Header'],
  ])('%j gets %i %s', (headers, status, reason) => {
    expect(read(headers)).toMatchObject({ kind: 'reject', status, reason });
  });

  it('423 carries Min-Expires', () => {
    expect(read({ Contact: '<sip:a@h>;expires=5' })).toMatchObject({ headers: { 'Min-Expires': '30' } });
  });

  it('caps the phone expiry at maxExpires', () => {
    expect(read({ Contact: '<sip:a@h>;expires=999999' })).toMatchObject({ deviceExpires: 7200 });
  });

  it('Expires: 0 unregisters the device; Contact * unregisters all', () => {
    expect(read({ Contact: '<sip:a@h>', Expires: '0' })).toMatchObject({ kind: 'unregister', aor: 'sip:alice@example.com' });
    expect(read({ Contact: '*', Expires: '0' })).toMatchObject({ kind: 'unregister-all' });
  });

  it('the per-device upstream contact user is stable and prefixed', () => {
    const a = read({ Contact: '<sip:a@h>', 'X-Token': TOKEN });
    const b = read({ Contact: '<sip:a@other>', 'X-Token': TOKEN });
    expect(a.kind === 'register' && b.kind === 'register' && a.localContactUser === b.localContactUser).toBe(true);
    expect(a.kind === 'register' && /^pw-[0-9a-f]{20}$/.test(a.localContactUser)).toBe(true);
  });
});
