import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddedEngine } from '../../lib/engine/index.js';
import { frame, WireFramer } from '../../lib/engine/wire/framing.js';
import { connectSrf, SECRET, startEngine } from './support/harness.js';

/** A bare wire-protocol client, to poke the engine the way drachtio-srf never would. */
async function rawClient(port: number) {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const framer = new WireFramer(1 << 20);
  const inbox: string[] = [];
  let closed = false;
  sock.on('data', (c) => inbox.push(...framer.push(c)));
  sock.on('close', () => { closed = true; });
  sock.on('error', () => undefined);
  return {
    send: (payload: string) => sock.write(frame(payload)),
    sendRaw: (bytes: string) => sock.write(bytes),
    async reply(msgId: string): Promise<string[]> {
      for (let i = 0; i < 100; i++) {
        const hit = inbox.find((m) => m.split('|')[2] === msgId);
        if (hit) return hit.split('\r\n')[0]!.split('|');
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no reply to ${msgId}`);
    },
    get closed() { return closed; },
    close: () => sock.destroy(),
  };
}

describe('the wire protocol', () => {
  let engine: EmbeddedEngine | undefined;
  afterEach(async () => { await engine?.stop(); engine = undefined; });

  it('authenticates and answers with hostports, version and local hostports', async () => {
    engine = await startEngine();
    const c = await rawClient(engine.wirePort);
    c.send(`m1|authenticate|${SECRET}|tag-a,tag-b`);
    const t = await c.reply('m1');
    expect(t[3]).toBe('OK');
    const port = engine.sipAddresses[0]!.port;
    expect(t[4]).toBe(`udp/127.0.0.1:${port},tcp/127.0.0.1:${port}`);
    expect(t[5]).toMatch(/^v\d+\.\d+\.\d+/);
    c.send('m2|ping');
    expect((await c.reply('m2')).slice(3)).toEqual(['OK', 'pong']);
    c.close();
  });

  it('refuses a wrong secret with "incorrect secret" and closes', async () => {
    engine = await startEngine();
    const c = await rawClient(engine.wirePort);
    c.send('m1|authenticate|nope|');
    expect((await c.reply('m1')).slice(3)).toEqual(['NO', 'incorrect secret']);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.closed).toBe(true);
  });

  it('refuses commands before authentication', async () => {
    engine = await startEngine();
    const c = await rawClient(engine.wirePort);
    c.send('m1|route|invite');
    expect((await c.reply('m1'))[3]).toBe('NO');
  });

  it('answers an unsupported command with an error that names it', async () => {
    engine = await startEngine();
    const c = await rawClient(engine.wirePort);
    c.send(`m1|authenticate|${SECRET}|`);
    await c.reply('m1');
    c.send('m2|frobnicate|x');
    const t = await c.reply('m2');
    expect(t[3]).toBe('NO');
    expect(t[4]).toContain('frobnicate');
    c.close();
  });

  it('answers a response for an unknown transaction with NOK', async () => {
    engine = await startEngine();
    const c = await rawClient(engine.wirePort);
    c.send(`m1|authenticate|${SECRET}|`);
    await c.reply('m1');
    c.send('m2|sip|no-such-txn|\r\nSIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n');
    const t = await c.reply('m2');
    expect(t[3]).toBe('NOK');
    expect(t[4]).toContain('unknown transaction');
    c.send('m3|sip||no-such-dialog\r\nBYE sip:placeholder SIP/2.0\r\n\r\n');
    expect((await c.reply('m3'))[4]).toContain('unable to find dialog');
    c.send('m4|sip|no-such-invite|\r\nCANCEL sip:x@127.0.0.1 SIP/2.0\r\n\r\n');
    expect((await c.reply('m4'))[4]).toContain('unable to cancel unknown transaction');
    c.close();
  });

  it('closes a connection with a bad length prefix and still accepts apps afterwards', async () => {
    engine = await startEngine();
    const c = await rawClient(engine.wirePort);
    c.sendRaw('abc#garbage');
    await new Promise((r) => setTimeout(r, 50));
    expect(c.closed).toBe(true);
    const srf = await connectSrf(engine.wirePort);
    srf.disconnect();
  });
});
