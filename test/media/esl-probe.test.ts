/**
 * The event socket probe against small servers on loopback that speak the protocol the way
 * FreeSWITCH does (auth/request, command/reply, api/response), and the ways it goes wrong.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeEventSocket, profileIn, takeMessage } from '../../lib/media/esl-probe.js';
import { freePort } from '../../lib/testkit/free-port.js';

const STATUS = [
  '                     Name\t   Type\t                                      Data\tState',
  '=================================================================================================',
  '                127.0.0.1\t  alias\t                              drachtio_mrf\tALIASED',
  '             drachtio_mrf\tprofile\t         sip:mod_sofia@127.0.0.1:5080\tRUNNING (0)',
  '=================================================================================================',
  '1 profile 1 alias',
  '',
].join('\n');

type Behaviour = 'ok' | 'bad-password' | 'rude' | 'silent' | 'no-profile';

function eslServer(behaviour: Behaviour): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((socket) => {
    if (behaviour === 'silent') return;
    if (behaviour === 'rude') {
      const body = 'Access Denied, go away.\n';
      socket.end(`Content-Type: text/rude-rejection\nContent-Length: ${body.length}\n\n${body}`);
      return;
    }
    socket.write('Content-Type: auth/request\n\n');
    socket.on('data', (d) => {
      const text = d.toString();
      if (text.startsWith('auth ')) {
        socket.write(behaviour === 'bad-password' ? 'Content-Type: command/reply\nReply-Text: -ERR invalid\n\n' : 'Content-Type: command/reply\nReply-Text: +OK accepted\n\n');
      } else if (text.startsWith('api sofia status')) {
        const body = behaviour === 'no-profile' ? STATUS.replace(/drachtio_mrf/g, 'internal') : STATUS;
        // in two pieces, as TCP may deliver it
        const whole = `Content-Type: api/response\nContent-Length: ${body.length}\n\n${body}`;
        socket.write(whole.slice(0, 40));
        setTimeout(() => socket.write(whole.slice(40)), 10);
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() })));
}

describe('event socket probe', () => {
  const closers: Array<() => void> = [];
  afterEach(() => closers.splice(0).forEach((c) => c()));

  const probe = async (behaviour: Behaviour, profile = 'drachtio_mrf') => {
    const s = await eslServer(behaviour);
    closers.push(s.close);
    return probeEventSocket({ host: '127.0.0.1', port: s.port, secret: 'ClueCon', profile, timeoutMs: 500 });
  };

  it('finds a running profile and its SIP URL', async () => {
    expect(await probe('ok')).toEqual({ kind: 'ok', profileUrl: 'sip:mod_sofia@127.0.0.1:5080' });
  });

  it('says MEDIA_PROFILE_MISSING for a profile FreeSWITCH does not run (drachtio-fsmrf would throw)', async () => {
    expect(await probe('no-profile')).toMatchObject({ kind: 'failed', code: 'MEDIA_PROFILE_MISSING' });
    expect(await probe('ok', 'other')).toMatchObject({ kind: 'failed', code: 'MEDIA_PROFILE_MISSING' });
  });

  it('says MEDIA_ESL_REFUSED for a wrong password or an ACL rejection', async () => {
    expect(await probe('bad-password')).toMatchObject({ kind: 'failed', code: 'MEDIA_ESL_REFUSED' });
    expect(await probe('rude')).toMatchObject({ kind: 'failed', code: 'MEDIA_ESL_REFUSED' });
  });

  it('says MEDIA_ESL_TIMEOUT for a server that never speaks, and MEDIA_ESL_UNREACHABLE when none listens', async () => {
    expect(await probe('silent')).toMatchObject({ kind: 'failed', code: 'MEDIA_ESL_TIMEOUT' });
    const port = await freePort();
    expect(await probeEventSocket({ host: '127.0.0.1', port, secret: 'x', profile: 'drachtio_mrf', timeoutMs: 500 })).toMatchObject({ kind: 'failed', code: 'MEDIA_ESL_UNREACHABLE' });
  });

  it('a profile that is not RUNNING is missing; messages are taken whole only', () => {
    expect(profileIn(STATUS.replace('RUNNING (0)', 'DOWN'), 'drachtio_mrf')).toMatchObject({ kind: 'failed', code: 'MEDIA_PROFILE_MISSING' });
    expect(takeMessage('Content-Type: api/response\nContent-Length: 10\n\n12345')).toBeUndefined();
    expect(takeMessage('Content-Type: api/response\nContent-Length: 5\n\n12345extra')).toMatchObject({ body: '12345', length: 51 });
  });
});
