/**
 * The integrator's test kit run end to end on loopback: pushwake in-process on the embedded
 * engine, the push sink standing in for APNs, and the shipped SIPp scenarios playing the PBX's
 * registrar, the PBX's calls and the phones. The phone is woken the way docs/sipp.md does it
 * with `--on-push`: every push the sink accepts starts device-wake.xml with that push's token
 * and hint.
 */
import { mergeTrees } from '../../../lib/testkit/cleanups.js';
import { loopbackOverrides } from '../../../lib/testkit/loopback-config.js';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../lib/config/load.js';
import { createLogger, silentLogger } from '../../../lib/log.js';
import { startPushSink, type HookExit, type PushSink, type ReceivedPush } from '../../../lib/push-sink/index.js';
import { startPushwake, type RunningPushwake } from '../../../lib/pushwake.js';
import { createTestPki, type IssuedCertificate } from '../../../lib/testkit/test-pki.js';
import { freePort, scenario, SippRunner, USERS_CSV, type SippResult, type SippRun } from './sipp-process.js';

export type SippTransport = 'udp' | 'tcp' | 'tls';
export type RegisterVariant = 'x-token' | 'xtoken-param' | 'rfc8599';
/** The -oocsf half of a woken phone: what it does with pushwake's INVITE. */
export type PhoneRole = 'device-wake-answer.xml' | 'device-wake-decline.xml' | 'device-wake-busy.xml' | 'device-late-wake.xml';

export interface LabOptions {
  registrar?: 'pbx-registrar.xml' | 'pbx-registrar-digest.xml';
  /** Give the sink this --on-push command instead of starting phones from its 'push' event.
   * {pushwake} is replaced by pushwake's host:port, {sipp} by the sipp binary, {dir} by a temp dir. */
  onPushCommand?: string;
  /** pushwake also listens on SIP over TLS (its own port, a certificate from a test CA), and
   * SIPp gets a certificate and key of its own for `-t l1` (it does not verify pushwake's).
   * In onPushCommand, {pushwakeTls} is pushwake's TLS host:port, {tlsCert}/{tlsKey} SIPp's files. */
  tls?: boolean;
}

export interface WakeRun {
  push: ReceivedPush;
  run: SippRun;
}

const FLAGS: Record<SippTransport, string> = { udp: 'u1', tcp: 't1', tls: 'l1' };
const flag = (t: SippTransport): string => FLAGS[t];

export class SippLab {
  /** Phones started by pushes, in push order. */
  readonly wakes: WakeRun[] = [];
  /** How the sink's --on-push commands ended (LabOptions.onPushCommand). */
  readonly hookExits: HookExit[] = [];
  private wakeRole: { role: PhoneRole; transport: SippTransport } | undefined;

  private constructor(
    readonly sipp: SippRunner,
    readonly pushwake: RunningPushwake,
    readonly sink: PushSink,
    /** host:port of pushwake's SIP listener (UDP and TCP), the target of every scenario. */
    readonly pushwakeHost: string,
    private readonly cleanups: Array<() => Promise<void> | void>,
    /** host:port of pushwake's SIP over TLS listener (LabOptions.tls). */
    readonly pushwakeTlsHost?: string,
    /** SIPp's own certificate and key for -t l1 (LabOptions.tls). */
    private readonly sippCert?: IssuedCertificate,
  ) {}

  static async start(sippBin: string, opts: LabOptions = {}): Promise<SippLab> {
    const cleanups: Array<() => Promise<void> | void> = [];
    try {
      const dir = mkdtempSync(join(tmpdir(), 'pushwake-sipp-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const sipp = new SippRunner(sippBin, dir);
      cleanups.push(() => sipp.killAll());

      // SIP over TLS: pushwake's certificate, and one for SIPp (SIPp will not start a TLS
      // transport without -tls_cert/-tls_key, client or server)
      let pushwakeCert: IssuedCertificate | undefined;
      let sippCert: IssuedCertificate | undefined;
      if (opts.tls) {
        const pki = await createTestPki();
        cleanups.push(() => pki.remove());
        pushwakeCert = await pki.issue('pushwake');
        sippCert = await pki.issue('sipp');
      }

      const registrarPort = await freePort();
      sipp.start('registrar', [
        '-sf', scenario(opts.registrar ?? 'pbx-registrar.xml'),
        '-i', '127.0.0.1', '-p', String(registrarPort), '-t', 'u1', '-deadcall_wait', '0', '-timeout', '300s',
      ], 310_000);
      await untilUdpBound(registrarPort);

      // pushwake's SIP port is known only once it runs, and the sink must run first (pushwake
      // needs its key): the hook command reads the port from a file written below.
      const portFile = join(dir, 'pushwake-sip');
      const tlsPortFile = join(dir, 'pushwake-sip-tls');
      const command = opts.onPushCommand
        ?.replaceAll('{pushwakeTls}', `"$(cat '${tlsPortFile}')"`)
        .replaceAll('{pushwake}', `"$(cat '${portFile}')"`)
        .replaceAll('{sipp}', `'${sippBin}'`)
        .replaceAll('{dir}', `'${dir}'`)
        .replaceAll('{tlsCert}', `'${sippCert?.certFile ?? ''}'`)
        .replaceAll('{tlsKey}', `'${sippCert?.keyFile ?? ''}'`);
      const sink = await startPushSink({ output: 'none', ...(command ? { onPush: { command, concurrency: 8 } } : {}) });
      cleanups.push(() => sink.stop());

      const config = loadConfig({
        env: {},
        overrides: mergeTrees(loopbackOverrides(sink, dir, `sip:127.0.0.1:${registrarPort}`), {
          apns: { retryBaseDelayMs: 20 },
          call: { wakeTimeoutMs: 8000 },
          ...(pushwakeCert ? {
            sip: {
              listen: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp', 'tls'], tlsPort: 0 }],
              tlsCertFile: pushwakeCert.certFile, tlsKeyFile: pushwakeCert.keyFile, tlsWatchFiles: false,
            },
          } : {}),
        }),
      });
      const log = process.env['PUSHWAKE_TEST_LOG'] ? createLogger(process.env['PUSHWAKE_TEST_LOG']) : silentLogger();
      const pushwake = await startPushwake(config, { log });
      cleanups.push(() => pushwake.stop());

      writeFileSync(portFile, pushwake.advertisedHost);
      const tls = pushwake.sipAddresses.find((a) => a.transport === 'tls');
      const tlsHost = tls ? `${tls.address}:${tls.port}` : undefined;
      if (opts.tls && !tlsHost) throw new Error('pushwake is not listening on TLS');
      if (tlsHost) writeFileSync(tlsPortFile, tlsHost);

      const lab = new SippLab(sipp, pushwake, sink, pushwake.advertisedHost, cleanups, tlsHost, sippCert);
      sink.on('push', (push) => lab.onPush(push));
      sink.on('hook-exit', (exit) => lab.hookExits.push(exit));
      return lab;
    } catch (err) {
      for (const c of cleanups.reverse()) await c();
      throw err;
    }
  }

  /** device-register-<variant>.xml for the first `users` lines of users.csv. */
  register(variant: RegisterVariant, transport: SippTransport, users = 1): Promise<SippResult> {
    return this.sipp.run(`register-${variant}-${transport}`, [
      this.target(transport), '-sf', scenario(`device-register-${variant}.xml`), '-inf', USERS_CSV,
      '-i', '127.0.0.1', ...this.transportArgs(transport), '-m', String(users), '-r', '20', '-timeout', '20s', '-timeout_error',
    ]);
  }

  /** Where a phone on `transport` sends: pushwake's TLS listener for tls, else its UDP/TCP one. */
  target(transport: SippTransport): string {
    if (transport !== 'tls') return this.pushwakeHost;
    if (!this.pushwakeTlsHost) throw new Error('start the lab with { tls: true } for SIPp over TLS');
    return this.pushwakeTlsHost;
  }

  /** -t, plus SIPp's certificate and key for TLS (-t l1). */
  transportArgs(transport: SippTransport): string[] {
    if (transport !== 'tls') return ['-t', flag(transport)];
    if (!this.sippCert) throw new Error('start the lab with { tls: true } for SIPp over TLS');
    return ['-t', flag(transport), '-tls_cert', this.sippCert.certFile, '-tls_key', this.sippCert.keyFile];
  }

  /** From now on, every push starts a phone: device-wake.xml with `role` as its -oocsf half. */
  wakeOnPush(role: PhoneRole, transport: SippTransport): void {
    this.wakeRole = { role, transport };
  }

  /** Start a phone by hand, e.g. one that wakes after the call ended. */
  async wake(role: PhoneRole, transport: SippTransport, token: string, hint: string): Promise<SippRun> {
    const port = await freePort();
    return this.sipp.start(`wake-${role}`, [
      this.target(transport), '-sf', scenario('device-wake.xml'), '-oocsf', scenario(role),
      '-inf', USERS_CSV, '-infindex', 'users.csv', '2', '-key', 'token', token, '-key', 'hint', hint,
      '-i', '127.0.0.1', '-p', String(port), ...this.transportArgs(transport), '-m', '1', '-timeout', '20s', '-timeout_error',
    ], 30_000);
  }

  /** A PBX scenario (pbx-call*.xml) over UDP, calling users.csv in order. */
  async pbx(name: string, extra: string[] = []): Promise<SippResult> {
    const port = await freePort();
    return this.sipp.run(name, [
      this.pushwakeHost, '-sf', scenario(name), '-inf', USERS_CSV,
      '-i', '127.0.0.1', '-p', String(port), '-t', 'u1', '-m', '1', '-timeout', '30s', '-timeout_error', ...extra,
    ], 90_000);
  }

  /** Wait for every phone started so far to end. */
  async wakeResults(): Promise<SippResult[]> {
    return Promise.all(this.wakes.map((w) => w.run.done));
  }

  async stop(): Promise<void> {
    for (const c of this.cleanups.reverse()) {
      try {
        await c();
      } catch {
        // Best effort: one failing cleanup must not leave the rest running.
      }
    }
  }

  private onPush(push: ReceivedPush): void {
    if (!this.wakeRole) return;
    const { role, transport } = this.wakeRole;
    const hint = String((push.payload['aps'] as Record<string, unknown> | undefined)?.['pushHint'] ?? '');
    // Record the run at once (wakeResults() may be called before the port is found).
    let resolveRun: (run: SippRun) => void = () => undefined;
    const started = new Promise<SippRun>((resolve) => (resolveRun = resolve));
    const run: SippRun = {
      done: started.then((r) => r.done),
      kill: () => void started.then((r) => r.kill()),
    };
    this.wakes.push({ push, run });
    void this.wake(role, transport, push.token, hint).then(resolveRun);
  }
}

/** SIPp is ready once its UDP port is taken. */
async function untilUdpBound(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (!free) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`sipp did not bind UDP port ${port}`);
}
