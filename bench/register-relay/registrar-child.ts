/**
 * The raw registrar (raw-registrar.ts) on one UDP socket on 127.0.0.1, in a process of its own:
 * `node --import tsx registrar-child.ts '<RegistrarOptions JSON>'` with an IPC channel. Says
 * `ready` with its port; answers each datagram to where it came from (as with rport: every relay
 * here sends from the socket it listens on).
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RegistrarCounts, RegistrarOptions, RegistrarReply, RegistrarRequest } from './protocol.js';
import { answerRegister, type RegistrarSettings } from './raw-registrar.js';

const SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;

const send = (m: RegistrarReply): void => {
  if (process.connected) process.send?.(m);
};

const opts = JSON.parse(process.argv[2] ?? '{}') as RegistrarOptions;
const counts: RegistrarCounts = { registers: 0, challenges: 0, oks: 0, ignored: 0 };
const noncePrefix = randomBytes(8).toString('hex');
let nonces = 0;
const settings: RegistrarSettings = {
  digest: opts.digest,
  toTag: `reg${randomBytes(4).toString('hex')}`,
  nonce: () => `${noncePrefix}${(++nonces).toString(16)}`,
};

const socket = createSocket('udp4');
socket.on('message', (msg, from) => {
  const answer = answerRegister(msg.toString('latin1'), settings);
  if (!answer) {
    counts.ignored++;
    return;
  }
  counts.registers++;
  if (answer.status === 401) counts.challenges++;
  else counts.oks++;
  socket.send(Buffer.from(answer.text, 'latin1'), from.port, from.address);
});
socket.on('error', (err) => {
  send({ type: 'start-failed', error: String(err.stack ?? err) });
  process.exit(1);
});
socket.bind(0, '127.0.0.1', () => {
  socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
  socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
  process.on('message', (raw: unknown) => {
    const m = raw as RegistrarRequest & { id: number };
    if (m.type === 'counts') send({ type: 'counts', id: m.id, counts: { ...counts } });
  });
  send({ type: 'ready', port: socket.address().port });
});

// The parent went away (end of run, crash, Ctrl-C): stop rather than linger.
process.on('disconnect', () => process.exit(0));
