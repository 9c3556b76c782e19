import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProviderToken, type ProviderTokenOptions } from '../../lib/push/provider-token.js';
import { generateApnsTestKey, shellQuote, startPushSink, type PushSink } from '../../lib/push-sink/index.js';
import type { HookExit } from '../../lib/push-sink/on-push-hook.js';

const TOKEN = 'c0ffee'.repeat(10) + 'abcd'; // 64 hex

let sink: PushSink;
let dir: string;
const sinks: PushSink[] = [];

beforeAll(async () => {
  sink = await startPushSink({ output: 'none' });
  dir = await mkdtemp(join(tmpdir(), 'push-sink-test-'));
});
afterEach(async () => {
  sink.clearRules();
  sink.pushes.length = 0;
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await sink.stop();
  await rm(dir, { recursive: true, force: true });
});

async function extraSink(options: Parameters<typeof startPushSink>[0]): Promise<PushSink> {
  const started = await startPushSink(options);
  sinks.push(started);
  return started;
}

function bearer(target: PushSink, overrides: Partial<ProviderTokenOptions> = {}): string {
  const token = new ProviderToken({
    signingKey: target.keyPem ?? '',
    keyId: target.keyId ?? '',
    teamId: target.teamId ?? '',
    ...overrides,
  });
  return `bearer ${token.current()}`;
}

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

/** One raw HTTP/2 request, so tests can send what the APNs sender never would. */
async function request(
  target: PushSink,
  init: { method?: string; path?: string; headers?: Record<string, string>; body?: string; omit?: string[] } = {},
): Promise<Answer> {
  const session = http2.connect(target.url, { ca: target.caCertPem });
  try {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': init.method ?? 'POST',
      ':path': init.path ?? `/3/device/${TOKEN}`,
      ...(target.keyPem === undefined ? {} : { authorization: bearer(target) }),
      'apns-topic': 'com.example.app.voip',
      'apns-push-type': 'voip',
      'apns-priority': '10',
      'apns-expiration': String(Math.floor(Date.now() / 1000) + 30),
      'apns-collapse-id': 'call-1',
      ...init.headers,
    };
    for (const name of init.omit ?? []) delete headers[name];
    const stream = session.request(headers, { endStream: false });
    stream.setEncoding('utf8');
    let text = '';
    stream.on('data', (chunk: string) => (text += chunk));
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const responded = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
    stream.end(init.body ?? '');
    const [responseHeaders] = await Promise.all([responded, ended]);
    return {
      status: Number(responseHeaders[':status']),
      headers: responseHeaders,
      body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
    };
  } finally {
    session.close();
  }
}

const payload = JSON.stringify({
  aps: { callerNumber: '+4930123456', callerName: 'Alice', withVideo: false, pushHint: 'hint-1' },
  callUuid: '0b6e3c55-4a3c-4f0e-9d3e-0d1f6e6f2a11',
  callId: 'abc@pbx',
});

describe('push sink: accepted pushes', () => {
  it('answers 200 with an apns-id and records the push', async () => {
    const seen: unknown[] = [];
    sink.on('push', (push) => seen.push(push));
    const answer = await request(sink, { body: payload });
    expect(answer.status).toBe(200);
    expect(answer.headers['apns-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.body).toBeUndefined();
    expect(sink.pushes).toHaveLength(1);
    expect(sink.pushes[0]).toMatchObject({
      token: TOKEN,
      topic: 'com.example.app.voip',
      pushType: 'voip',
      priority: 10,
      collapseId: 'call-1',
      apnsId: answer.headers['apns-id'],
      payload: JSON.parse(payload) as unknown,
    });
    expect(seen).toEqual(sink.pushes);
  });

  it("echoes the client's own apns-id", async () => {
    const apnsId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    const answer = await request(sink, { body: payload, headers: { 'apns-id': apnsId } });
    expect(answer.headers['apns-id']).toBe(apnsId);
  });

  it('appends each accepted push as one JSON line to the configured file', async () => {
    const file = join(dir, 'pushes.jsonl');
    const fileSink = await startPushSink({ output: { jsonlFile: file } });
    await request(fileSink, { body: payload });
    await request(fileSink, { body: payload, headers: { 'apns-collapse-id': 'call-2' } });
    await request(fileSink, { body: payload, headers: { 'apns-topic': 'x.voip' }, omit: ['authorization'] });
    await fileSink.stop();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { collapseId: string }).collapseId)).toEqual(['call-1', 'call-2']);
  });
});

describe('push sink: checks requests as APNs does', () => {
  const cases: Array<[string, Parameters<typeof request>[1], number, string]> = [
    ['GET', { method: 'GET' }, 405, 'BadMethod'],
    ['another path', { path: `/3/devices/${TOKEN}` }, 404, 'BadPath'],
    ['no token', { path: '/3/device/' }, 400, 'MissingDeviceToken'],
    ['a non-hex token', { path: `/3/device/${'zz'.repeat(32)}` }, 400, 'BadDeviceToken'],
    ['a short token', { path: '/3/device/abcdef' }, 400, 'BadDeviceToken'],
    ['no topic', { omit: ['apns-topic'] }, 400, 'MissingTopic'],
    ['no push type', { omit: ['apns-push-type'] }, 400, 'InvalidPushType'],
    ['a VoIP push to a non-.voip topic', { headers: { 'apns-topic': 'com.example.app' } }, 400, 'BadTopic'],
    ['priority 7', { headers: { 'apns-priority': '7' } }, 400, 'BadPriority'],
    ['a non-numeric expiration', { headers: { 'apns-expiration': 'soon' } }, 400, 'BadExpirationDate'],
    ['a 65-byte collapse id', { headers: { 'apns-collapse-id': 'x'.repeat(65) } }, 400, 'BadCollapseId'],
    ['a non-UUID apns-id', { headers: { 'apns-id': 'nope' } }, 400, 'BadMessageId'],
    ['no body', { body: '' }, 400, 'PayloadEmpty'],
    ['a body that is not JSON', { body: '{"aps":' }, 400, 'BadPayload'],
    ['a VoIP body over 5120 bytes', { body: JSON.stringify({ pad: 'x'.repeat(5200) }) }, 413, 'PayloadTooLarge'],
    ['no authorization', { omit: ['authorization'] }, 403, 'MissingProviderToken'],
    ['a malformed bearer token', { headers: { authorization: 'bearer not-a-jwt' } }, 403, 'InvalidProviderToken'],
  ];
  for (const [what, init, status, reason] of cases) {
    it(`refuses ${what} with ${status} ${reason}`, async () => {
      const answer = await request(sink, { body: payload, ...init });
      expect([answer.status, answer.body?.['reason']]).toEqual([status, reason]);
      expect(sink.pushes).toHaveLength(0);
    });
  }

  it('accepts a 4096-byte-plus VoIP body up to 5120 bytes, but not for alerts', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(4500) });
    expect((await request(sink, { body })).status).toBe(200);
    const alert = await request(sink, {
      body,
      headers: { 'apns-push-type': 'alert', 'apns-topic': 'com.example.app' },
    });
    expect([alert.status, alert.body?.['reason']]).toEqual([413, 'PayloadTooLarge']);
  });

  it('refuses tokens signed by another key, or with the wrong kid or iss', async () => {
    const stranger = generateApnsTestKey();
    for (const overrides of [{ signingKey: stranger.keyPem }, { keyId: 'WRONGKEYID' }, { teamId: 'WRONGTEAM1' }]) {
      const answer = await request(sink, { body: payload, headers: { authorization: bearer(sink, overrides) } });
      expect([answer.status, answer.body?.['reason']]).toEqual([403, 'InvalidProviderToken']);
    }
  });

  it('refuses a token issued more than an hour ago with ExpiredProviderToken', async () => {
    const old = bearer(sink, { now: () => Date.now() - 61 * 60_000 });
    const answer = await request(sink, { body: payload, headers: { authorization: old } });
    expect([answer.status, answer.body?.['reason']]).toEqual([403, 'ExpiredProviderToken']);
  });

  it("checks tokens against a provider's own public key", async () => {
    const key = generateApnsTestKey();
    const keyed = await extraSink({
      output: 'none',
      providerKey: { publicKeyPem: key.publicKeyPem, keyId: key.keyId, teamId: key.teamId },
    });
    expect(keyed.keyPem).toBeUndefined();
    const signed = `bearer ${new ProviderToken({ signingKey: key.keyPem, keyId: key.keyId, teamId: key.teamId }).current()}`;
    expect((await request(keyed, { body: payload, headers: { authorization: signed } })).status).toBe(200);
  });

  it("with providerKey 'unchecked', accepts pushes without a token", async () => {
    const open = await extraSink({ output: 'none', providerKey: 'unchecked' });
    expect((await request(open, { body: payload, omit: ['authorization'] })).status).toBe(200);
  });
});

describe('push sink: rules', () => {
  it('answers 410 Unregistered with a timestamp for a dead token', async () => {
    sink.setRule({ token: TOKEN, respond: 'unregistered' });
    const answer = await request(sink, { body: payload });
    expect(answer.status).toBe(410);
    expect(answer.body?.['reason']).toBe('Unregistered');
    expect(answer.body?.['timestamp']).toBeTypeOf('number');
    expect(sink.pushes).toHaveLength(0);
  });

  it('answers 429 with Retry-After the first N times only', async () => {
    sink.setRule({ token: TOKEN, respond: 'too-many-requests', times: 2, retryAfterSeconds: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(sink, { body: payload })).status);
    expect(statuses).toEqual([429, 429, 200]);
    sink.setRule({ token: TOKEN, respond: 'too-many-requests', retryAfterSeconds: 5 });
    expect((await request(sink, { body: payload })).headers['retry-after']).toBe('5');
  });

  it('answers 400 BadDeviceToken, 500 and 503 as told, and only for that token', async () => {
    sink.setRule({ token: TOKEN, respond: 'bad-device-token' });
    expect((await request(sink, { body: payload })).body?.['reason']).toBe('BadDeviceToken');
    sink.setRule({ token: TOKEN, respond: 'internal-error' });
    expect((await request(sink, { body: payload })).status).toBe(500);
    sink.setRule({ token: TOKEN, respond: 'service-unavailable' });
    expect((await request(sink, { body: payload })).status).toBe(503);
    const other = await request(sink, { body: payload, path: `/3/device/${'ab'.repeat(32)}` });
    expect(other.status).toBe(200);
  });

  it('a "*" rule applies to tokens without their own', async () => {
    sink.setRule({ token: '*', respond: 'internal-error' });
    sink.setRule({ token: TOKEN, respond: 'unregistered' });
    expect((await request(sink, { body: payload })).status).toBe(410);
    expect((await request(sink, { body: payload, path: `/3/device/${'ab'.repeat(32)}` })).status).toBe(500);
  });

  it('delays the answer by delayMs', async () => {
    sink.setRule({ token: TOKEN, delayMs: 300 });
    const started = Date.now();
    expect((await request(sink, { body: payload })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('loads rules from a JSON file', async () => {
    const file = join(dir, 'rules.json');
    await writeFile(file, JSON.stringify({ rules: [{ token: TOKEN.toUpperCase(), respond: 'unregistered' }] }));
    const ruled = await extraSink({ output: 'none', rulesFile: file });
    expect((await request(ruled, { body: payload })).status).toBe(410);
  });

  it('refuses a rules file with a bad rule, naming it', async () => {
    const file = join(dir, 'bad-rules.json');
    await writeFile(file, JSON.stringify([{ token: TOKEN, respond: 'explode' }]));
    await expect(startPushSink({ output: 'none', rulesFile: file })).rejects.toThrow(/rules\[0\]\.respond/);
  });
});

describe('push sink: onPush command', () => {
  function exits(target: PushSink, count: number): Promise<HookExit[]> {
    const seen: HookExit[] = [];
    return new Promise((resolve) =>
      target.on('hook-exit', (exit) => {
        seen.push(exit);
        if (seen.length === count) resolve(seen);
      }),
    );
  }

  it('runs the command per accepted push with the push values substituted', async () => {
    const out = join(dir, 'hook.txt');
    const hooked = await extraSink({ output: 'none', onPush: `echo {token} {pushHint} {callUuid} {callerNumber} {callId} >> ${out}` });
    const done = exits(hooked, 1);
    const answer = await request(hooked, { body: payload });
    expect(answer.status).toBe(200);
    expect((await done)[0]?.exitCode).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(
      `${TOKEN} hint-1 0b6e3c55-4a3c-4f0e-9d3e-0d1f6e6f2a11 +4930123456 abc@pbx\n`,
    );
  });

  it('keeps hostile payload values as one shell word', async () => {
    const out = join(dir, 'hostile.txt');
    const pwned = join(dir, 'pwned');
    const hooked = await extraSink({ output: 'none', onPush: `printf '%s|' {pushHint} > ${out}` });
    const done = exits(hooked, 1);
    const hint = `'; touch ${pwned}; echo '$(touch ${pwned})`;
    await request(hooked, { body: JSON.stringify({ aps: { pushHint: hint } }) });
    await done;
    expect(await readFile(out, 'utf8')).toBe(`${hint}|`);
    await expect(readFile(pwned)).rejects.toThrow();
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('answers before the command finishes and bounds how many run at once', async () => {
    const out = join(dir, 'order.txt');
    const hooked = await extraSink({
      output: 'none',
      onPush: { command: `echo start >> ${out}; sleep 0.3; echo end >> ${out}`, concurrency: 1 },
    });
    const done = exits(hooked, 2);
    const started = Date.now();
    await request(hooked, { body: payload });
    await request(hooked, { body: payload });
    expect(Date.now() - started).toBeLessThan(300);
    await done;
    expect((await readFile(out, 'utf8')).trim().split('\n')).toEqual(['start', 'end', 'start', 'end']);
  });

  it('does not run the command for refused pushes', async () => {
    const out = join(dir, 'refused.txt');
    const hooked = await extraSink({ output: 'none', onPush: `echo {token} >> ${out}` });
    hooked.setRule({ token: TOKEN, respond: 'unregistered' });
    await request(hooked, { body: payload });
    await request(hooked, { body: payload, omit: ['apns-topic'] });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(readFile(out)).rejects.toThrow();
  });

  it('stop() ends running commands', async () => {
    const hooked = await startPushSink({ output: 'none', onPush: 'sleep 30' });
    const done = exits(hooked, 1);
    await request(hooked, { body: payload });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await hooked.stop();
    expect((await done)[0]?.signal).toBe('SIGTERM');
  });
});
