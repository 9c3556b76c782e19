import { advertisedFromHostport } from '../../lib/sip/local-address.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, readConfigFile, resolveConfig } from '../../lib/config/load.js';
import { DEFAULTS } from '../../lib/config/defaults.js';

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'pwcfg-')), 'c.yaml');
  writeFileSync(p, text);
  return p;
}

const expectKey = (fn: () => unknown, key: string): void => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe(key);
    return;
  }
  throw new Error('no error');
};

describe('configuration', () => {
  it('the embedded defaults are valid and documented values', () => {
    const c = loadConfig({ env: {} });
    expect(c.engine.mode).toBe('embedded');
    expect(c.call.wakeTimeoutMs).toBe(25_000);
    expect(c.apns.ttlSeconds).toBe(30);
    expect(c.endedNotice).toEqual({ mode: 'invite-cancel', windowSeconds: 60 });
    expect(c.store.kind).toBe('embedded');
  });

  it('config/pushwake.yaml documents exactly the defaults in code, key for key and value for value', () => {
    expect(readConfigFile(join(import.meta.dirname, '../../config/pushwake.yaml'))).toEqual(DEFAULTS);
  });

  it('options given as objects pass the same rules with the same messages as the YAML file', () => {
    const fromObject = (): unknown => resolveConfig({ call: { wakeTimeoutMs: 'fast' as unknown as number } });
    const fromFile = (): unknown => loadConfig({ env: {}, file: file('call:\n  wakeTimeoutMs: fast\n') });
    expect(fromObject).toThrow('config call.wakeTimeoutMs: must be an integer from 1000 to 300000 (got "fast")');
    expect(fromFile).toThrow('config call.wakeTimeoutMs: must be an integer from 1000 to 300000 (got "fast")');
    expectKey(() => resolveConfig({ call: { wakeTimeoutMs: 5000 } }, { nope: 1 }), 'nope');
    expectKey(() => resolveConfig({ registration: { minExpires: 8000 } }), 'registration.minExpires');
    // an option given as undefined is not given
    expect(resolveConfig({ apns: { keyFile: undefined as unknown as string } }).apns.keyFile).toBe('');
    // the defaults are not changed by a resolution
    expect(resolveConfig({ upstream: { trustedSources: ['10.0.0.1'] } }).upstream.trustedSources).toEqual(['10.0.0.1']);
    expect(DEFAULTS.upstream.trustedSources).toEqual(['127.0.0.0/8', '::1/128']);
  });

  it('cluster and Sentinel settings are checked, naming the key', () => {
    expectKey(() => resolveConfig({ cluster: { nodeId: 'a' } }), 'cluster.nodeId');
    expectKey(() => resolveConfig({ store: { kind: 'redis' }, cluster: { nodeId: 'a b' } }), 'cluster.nodeId');
    expectKey(() => resolveConfig({ store: { kind: 'redis' }, cluster: { nodeId: 'a', secret: 'short' } }), 'cluster.secret');
    expectKey(() => resolveConfig({ store: { kind: 'redis' }, cluster: { nodeId: 'a', nodeTimeoutSeconds: 0 } }), 'cluster.nodeTimeoutSeconds');
    expectKey(() => resolveConfig({ store: { kind: 'redis', sentinels: ['10.0.0.1'] } }), 'store.sentinels');
    expectKey(() => resolveConfig({ store: { kind: 'redis', sentinels: ['10.0.0.1:99999'] } }), 'store.sentinels');
    const ok = resolveConfig({ store: { kind: 'redis', sentinels: ['10.0.0.1:26379', '[::1]:26379'] }, cluster: { nodeId: 'pw-1.east' } });
    expect(ok.cluster).toEqual({ nodeId: 'pw-1.east', relayHost: '', secret: '', nodeTimeoutSeconds: 6 });
  });

  it('media settings are checked, naming the key: prompts, addresses, bounds', () => {
    expect(resolveConfig({ media: { enabled: true, wakePrompt: '/srv/prompts/wake.wav', unreachablePrompt: 'tone_stream://%(274,0,913.8)', pushFailedPrompt: '' } }).media.enabled).toBe(true);
    expect(resolveConfig({ media: { eventSocket: '[::1]:8021', sipAddress: 'fs.example.net:5080' } }).media.eventSocket).toBe('[::1]:8021');
    for (const bad of ['wake.wav', 'http://x/y.wav', '/a.wav!/b.wav', '', 'tone_stream://']) expectKey(() => resolveConfig({ media: { wakePrompt: bad } }), 'media.wakePrompt');
    expectKey(() => resolveConfig({ media: { unreachablePrompt: 'relative.wav' } }), 'media.unreachablePrompt');
    expectKey(() => resolveConfig({ media: { eventSocket: '127.0.0.1' } }), 'media.eventSocket');
    expectKey(() => resolveConfig({ media: { eventSocket: '127.0.0.1:70000' } }), 'media.eventSocket');
    expectKey(() => resolveConfig({ media: { wakePlayback: 'twice' } }), 'media.wakePlayback');
    expectKey(() => resolveConfig({ media: { setupTimeoutMs: 10 } }), 'media.setupTimeoutMs');
    expectKey(() => resolveConfig({ media: { maxAnnouncements: 0 } }), 'media.maxAnnouncements');
    expectKey(() => resolveConfig({ media: { profile: 'a b' } }), 'media.profile');
    expectKey(() => loadConfig({ env: { PUSHWAKE_MEDIA_CLOSING_PROMPT_MAX_MS: '-1' } }), 'media.closingPromptMaxMs');
  });

  it('a user file overrides only what it names', () => {
    const c = loadConfig({ env: {}, file: file('call:\n  wakeTimeoutMs: 20000\n') });
    expect(c.call.wakeTimeoutMs).toBe(20_000);
    expect(c.call.ringTimeoutMs).toBe(60_000);
  });

  it('env overrides beat the file', () => {
    const c = loadConfig({ file: file('call:\n  wakeTimeoutMs: 20000\n'), env: { PUSHWAKE_CALL_WAKE_TIMEOUT_MS: '15000', PUSHWAKE_UPSTREAM_TRUSTED_SOURCES: '["10.0.0.0/8"]', PUSHWAKE_ENGINE_SECRET: '0123' } });
    expect(c.call.wakeTimeoutMs).toBe(15_000);
    expect(c.upstream.trustedSources).toEqual(['10.0.0.0/8']);
    expect(c.engine.secret).toBe('0123');
  });

  it('payloadTemplate is replaced whole, not merged', () => {
    const c = loadConfig({ env: {}, file: file('call:\n  payloadTemplate:\n    hint: "{{pushHint}}"\n') });
    expect(c.call.payloadTemplate).toEqual({ hint: '{{pushHint}}' });
  });

  it.each([
    ['call:\n  wakeTimeoutMs: fast\n', 'call.wakeTimeoutMs'],
    ['call:\n  wakeTimeoutMs: 5\n', 'call.wakeTimeoutMs'],
    ['call:\n  wakeTimoutMs: 5000\n', 'call.wakeTimoutMs'],
    ['nonsense: 1\n', 'nonsense'],
    ['toString: 1\n', 'toString'],
    ['upstream:\n  trustedSources: ["10.0.0.0/33"]\n', 'upstream.trustedSources'],
    ['upstream:\n  registrar: "http://pbx"\n', 'upstream.registrar'],
    ['engine:\n  mode: docker\n', 'engine.mode'],
    ['sip:\n  listen: [{address: nowhere, port: 5060, transports: [udp]}]\n', 'sip.listen'],
    ['apns:\n  keyFile: /k.p8\n', 'apns.keyId'],
    ['registration:\n  minExpires: 9000\n', 'registration.minExpires'],
    ['call: [1, 2]\n', 'call'],
    ['call: {wakeTimeoutMs: [\n', '(file)'],
    ['sip:\n  listen: [{address: 127.0.0.1, port: 5060, transports: [udp, tls]}]\n', 'sip.tlsCertFile'],
    ['sip:\n  tlsCertFile: /c.pem\n', 'sip.tlsKeyFile'],
    ['sip:\n  listen: [{address: 127.0.0.1, port: 5060, transports: [udp], tlsPort: 5061}]\n', 'sip.listen'],
    ['sip:\n  listen: [{address: 127.0.0.1, port: 5060, transports: [ws]}]\n', 'sip.listen'],
    ['sip:\n  advertisedTransport: sctp\n', 'sip.advertisedTransport'],
    ['engine:\n  maxConnections: 0\n', 'engine.maxConnections'],
  ])('rejects %j naming %s', (text, key) => {
    expectKey(() => loadConfig({ env: {}, file: file(text) }), key);
  });

  it('a missing file is a clear error', () => {
    expectKey(() => loadConfig({ env: {}, file: '/nonexistent/pushwake.yaml' }), '(file)');
  });

  it('a bad env value names its key', () => {
    expectKey(() => loadConfig({ env: { PUSHWAKE_CALL_SEND_RINGING: 'maybe' } }), 'call.sendRinging');
  });
});

describe('the address advertised with an external drachtio-server', () => {
  it('is the listener of the advertised transport, else UDP, TCP, TLS, whatever order drachtio lists them in', () => {
    const listed = 'tls/127.0.0.1:5061,tcp/127.0.0.1:5060,udp/127.0.0.1:5060';
    expect(advertisedFromHostport(listed)).toEqual({ transport: 'udp', hostport: '127.0.0.1:5060' });
    expect(advertisedFromHostport(listed, 'tls')).toEqual({ transport: 'tls', hostport: '127.0.0.1:5061' });
    expect(advertisedFromHostport('tls/10.0.0.1:5061,tcp/10.0.0.1:5080')).toEqual({ transport: 'tcp', hostport: '10.0.0.1:5080' });
    expect(advertisedFromHostport('tls/[::1]:5061')).toEqual({ transport: 'tls', hostport: '[::1]:5061' });
    expect(advertisedFromHostport('', 'udp')).toBeUndefined();
  });
});
