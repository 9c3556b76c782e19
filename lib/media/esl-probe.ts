/**
 * A look at FreeSWITCH before drachtio-fsmrf is let near it: connect to the inbound event socket,
 * authenticate, and check that the sofia profile endpoints are made on is running. drachtio-fsmrf
 * 4.x throws from inside a socket callback when the profile is missing, which would take the whole
 * process down; a probe that fails instead keeps media off with a clear log line. Also the cheap
 * health check while FreeSWITCH is away.
 *
 * Speaks just enough of the event socket protocol: header blocks ended by an empty line, and a
 * body of Content-Length bytes.
 */
import net from 'node:net';

export type ProbeFailureCode =
  /** Nothing listens there, or the connection broke. */
  | 'MEDIA_ESL_UNREACHABLE'
  /** The event socket refused the password, or this address (its ACL). */
  | 'MEDIA_ESL_REFUSED'
  /** FreeSWITCH has no running sofia profile of that name. */
  | 'MEDIA_PROFILE_MISSING'
  /** No answer within the time given. */
  | 'MEDIA_ESL_TIMEOUT';

export type ProbeResult =
  | { kind: 'ok'; profileUrl: string }
  | { kind: 'failed'; code: ProbeFailureCode; why: string };

export interface ProbeTarget {
  host: string;
  port: number;
  secret: string;
  profile: string;
  timeoutMs: number;
}

/** Largest reply looked at (sofia status of a busy switch is a few KiB). */
const MAX_REPLY = 256 * 1024;

export function probeEventSocket(t: ProbeTarget): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: t.host, port: t.port });
    let buffer = '';
    let step: 'auth' | 'authed' | 'status' = 'auth';
    let settled = false;
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ kind: 'failed', code: 'MEDIA_ESL_TIMEOUT', why: `no answer from ${t.host}:${t.port} within ${t.timeoutMs} ms` }), t.timeoutMs);
    socket.setEncoding('utf8');
    socket.on('error', (err) => done({ kind: 'failed', code: 'MEDIA_ESL_UNREACHABLE', why: `${t.host}:${t.port}: ${err.message}` }));
    socket.on('close', () => done({ kind: 'failed', code: 'MEDIA_ESL_UNREACHABLE', why: `${t.host}:${t.port} closed the event socket` }));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REPLY) return done({ kind: 'failed', code: 'MEDIA_ESL_UNREACHABLE', why: 'event socket reply too large' });
      for (;;) {
        const message = takeMessage(buffer);
        if (!message) return;
        buffer = buffer.slice(message.length);
        const type = message.headers.get('content-type');
        if (type === 'text/rude-rejection') return done({ kind: 'failed', code: 'MEDIA_ESL_REFUSED', why: `event socket refused this address: ${message.body.trim().slice(0, 200)}` });
        if (step === 'auth' && type === 'auth/request') {
          socket.write(`auth ${t.secret}\n\n`);
          step = 'authed';
        } else if (step === 'authed' && type === 'command/reply') {
          const reply = message.headers.get('reply-text') ?? '';
          if (!reply.startsWith('+OK')) return done({ kind: 'failed', code: 'MEDIA_ESL_REFUSED', why: `event socket refused the password (${reply.slice(0, 100)})` });
          socket.write('api sofia status\n\n');
          step = 'status';
        } else if (step === 'status' && type === 'api/response') {
          return done(profileIn(message.body, t.profile));
        }
      }
    });
  });
}

/** The running profile's SIP URL in `sofia status` output, or why not. Pure. */
export function profileIn(status: string, profile: string): ProbeResult {
  for (const line of status.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] === profile && cols[1] === 'profile' && /^sips?:/.test(cols[2] ?? '')) {
      if (!/RUNNING/.test(line)) return { kind: 'failed', code: 'MEDIA_PROFILE_MISSING', why: `sofia profile ${profile} is not running: ${line.trim().slice(0, 200)}` };
      return { kind: 'ok', profileUrl: cols[2] ?? '' };
    }
  }
  return { kind: 'failed', code: 'MEDIA_PROFILE_MISSING', why: `FreeSWITCH has no sofia profile named ${profile}` };
}

interface EslMessage {
  headers: Map<string, string>;
  body: string;
  /** characters it took from the buffer */
  length: number;
}

/** One whole message at the head of `buffer`, or undefined until it has arrived. Pure. */
export function takeMessage(buffer: string): EslMessage | undefined {
  const end = buffer.indexOf('\n\n');
  if (end < 0) return undefined;
  const headers = new Map<string, string>();
  for (const line of buffer.slice(0, end).split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const length = Number(headers.get('content-length') ?? 0);
  const start = end + 2;
  // Content-Length counts bytes; the bodies here are ASCII
  if (buffer.length < start + length) return undefined;
  return { headers, body: buffer.slice(start, start + length), length: start + length };
}
