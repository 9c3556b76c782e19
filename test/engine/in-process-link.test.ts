/**
 * The in-process wire link (issue 14): drachtio-srf and the embedded engine in one process speak
 * the wire protocol without a socket. The link keeps a socket's ordering and asynchrony; srf runs
 * over it unchanged; when the engine stops, srf hears the close and does not dial anywhere.
 */
import net from 'node:net';
import Srf from 'drachtio-srf';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LinkFramingError, openInProcessLink, unframe } from '../../lib/engine/wire/in-process-link.js';
import type { EmbeddedEngine } from '../../lib/engine/index.js';
import { createSipApp, newSrf } from '../../lib/sip/srf.js';
import { settle, startEngine } from './support/harness.js';
import { TestUa } from './support/test-ua.js';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('in-process link ends', () => {
  it('deliver what one turn wrote, message by message and in order, on a later turn, never inside write', async () => {
    const { app, engine } = openInProcessLink();
    const got: string[] = [];
    engine.on('message', (m: string) => got.push(m));
    const written: string[] = [];
    app.write('3#abc', () => written.push('first'));
    app.write(Buffer.from('2#de'), () => written.push('second'));
    app.sendMessage('unframed');
    expect(got).toEqual([]);
    await nextTurn();
    await nextTurn();
    expect(got).toEqual(['abc', 'de', 'unframed']);
    expect(written).toEqual(['first', 'second']);
  });

  it('cut frames by bytes: several in one write, and text that is not ASCII', () => {
    expect(unframe('3#abc2#de')).toEqual(['abc', 'de']);
    // "é" is two bytes: the length counts bytes, as on the wire
    expect(unframe('5#caf\u00e91#x')).toEqual(['caf\u00e9', 'x']);
    expect(unframe(Buffer.from('5#\u{1F4DE}a'))).toEqual(['\u{1F4DE}a']);
  });

  it('refuse a write that is not whole frames (a bug in this process, never network input)', () => {
    expect(() => unframe('abc')).toThrow(LinkFramingError);
    expect(() => unframe('9#short')).toThrow(/longer than its write/);
    const { app } = openInProcessLink();
    expect(() => app.write('x#y')).toThrow(LinkFramingError);
  });

  it('are net.Sockets to drachtio-srf, and connect on the next turn', async () => {
    const { app } = openInProcessLink();
    expect(app).toBeInstanceOf(net.Socket);
    const connected = vi.fn();
    app.on('connect', connected);
    expect(connected).not.toHaveBeenCalled();
    await nextTurn();
    expect(connected).toHaveBeenCalledTimes(1);
  });

  it('hold corked writes until uncorked', async () => {
    const { app, engine } = openInProcessLink();
    const got: string[] = [];
    app.on('message', (m: string) => got.push(m));
    engine.cork();
    engine.sendMessage('a');
    await nextTurn();
    await nextTurn();
    expect(got).toEqual([]);
    engine.uncork();
    await nextTurn();
    expect(got).toEqual(['a']);
  });

  it('end() delivers what was written, then closes both ends', async () => {
    const { app, engine } = openInProcessLink();
    const events: string[] = [];
    engine.on('message', (m: string) => events.push(`message ${m}`));
    engine.on('close', () => events.push('engine close'));
    app.on('close', () => events.push('app close'));
    app.write('1#z');
    app.end();
    expect(app.write('1#y')).toBe(false);
    await nextTurn();
    await nextTurn();
    expect(events[0]).toBe('message z');
    expect(events.slice(1).sort()).toEqual(['app close', 'engine close']);
    expect(engine.destroyed && app.destroyed).toBe(true);
  });

  it('destroy() closes both ends at once and drops what was not delivered', async () => {
    const { app, engine } = openInProcessLink();
    const got: string[] = [];
    engine.on('message', (m: string) => got.push(m));
    const closed = vi.fn();
    app.on('close', closed);
    engine.on('close', closed);
    app.write('1#q');
    engine.destroy();
    await nextTurn();
    await nextTurn();
    expect(got).toEqual([]);
    expect(closed).toHaveBeenCalledTimes(2);
    expect(engine.sendMessage('r')).toBe(false);
  });
});

describe('drachtio-srf over the in-process link', () => {
  let engine: EmbeddedEngine | undefined;
  let ua: TestUa | undefined;
  afterEach(async () => {
    ua?.close();
    await engine?.stop();
    engine = undefined;
    ua = undefined;
  });

  it('authenticates, learns the hostports, and answers OPTIONS from the network', async () => {
    engine = await startEngine();
    const e = engine;
    const srf = newSrf();
    const app = createSipApp(srf);
    app.onRequest('options', (_req, res) => res.send(200, 'OK', { headers: { 'X-Linked': 'in-process' } }));
    const hostports = await app.connect({ host: '127.0.0.1', port: 1, secret: 'cymru', inProcess: () => e.openAppLink() });
    const udp = e.sipAddresses.find((a) => a.transport === 'udp');
    expect(hostports).toContain(`udp/127.0.0.1:${udp?.port}`);
    ua = await TestUa.udp({ address: '127.0.0.1', port: udp?.port ?? 0 });
    const req = ua.makeRequest('OPTIONS', `sip:127.0.0.1:${udp?.port}`);
    ua.send(req);
    const res = await ua.response(req.callId, 200);
    expect(res.headers.get('x-linked')).toBe('in-process');
    app.disconnect();
  });

  it('hears the close when the engine stops, and does not dial a socket to reconnect', async () => {
    engine = await startEngine();
    const e = engine;
    const srf = newSrf();
    const app = createSipApp(srf);
    await app.connect({ host: '127.0.0.1', port: 1, secret: 'cymru', inProcess: () => e.openAppLink() });
    const gone = new Promise<void>((resolve) => app.onDisconnect(resolve));
    const dial = vi.spyOn(net, 'connect');
    await e.stop();
    engine = undefined;
    await gone;
    await settle(400);
    expect(dial).not.toHaveBeenCalled();
    dial.mockRestore();
  });

  it('an oversize message from the app closes its link, as an oversize frame closes a wire connection', async () => {
    engine = await startEngine();
    const app = engine.openAppLink();
    const answered = new Promise<string>((resolve) => app.once('message', (m: string) => resolve(m)));
    app.sendMessage('a|authenticate|cymru|');
    expect(await answered).toMatch(/\|OK\|/);
    const closed = new Promise<void>((resolve) => app.on('close', () => resolve()));
    // the wire takes messages up to 1 MiB (twice the SIP limit, at least 1 MiB); a ping that size is refused whole
    expect(app.sendMessage(`x|ping|${'a'.repeat(1_100_000)}`)).toBe(true);
    await closed;
    expect(app.destroyed).toBe(true);
    expect(app.sendMessage('y|ping')).toBe(false);
  });

  it('over TCP too, the app hears that the engine went (pushwake turns /readyz red on it)', async () => {
    engine = await startEngine();
    const app = createSipApp(newSrf());
    await app.connect({ host: '127.0.0.1', port: engine.wirePort, secret: 'cymru' });
    const gone = new Promise<void>((resolve) => app.onDisconnect(resolve));
    await engine.stop();
    engine = undefined;
    await gone;
    app.disconnect();
  });

  it('leaves a plain TCP connect to the wire port as it was', async () => {
    engine = await startEngine();
    const srf = new Srf();
    srf.on('error', () => undefined);
    const connected = new Promise<void>((resolve, reject) => srf.once('connect', (err: Error | null) => (err ? reject(err) : resolve())));
    srf.connect({ host: '127.0.0.1', port: engine.wirePort, secret: 'cymru' });
    await connected;
    srf.disconnect();
  });
});
