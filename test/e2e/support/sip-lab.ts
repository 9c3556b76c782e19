/**
 * A whole pushwake deployment on loopback: pushwake (on the embedded engine or on a real
 * drachtio-server named by DRACHTIO_BIN), its store, the push sink standing in for APNs, and the
 * agents playing the PBX and the phones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type DeepPartial } from '../../../lib/config/load.js';
import type { PushwakeConfig } from '../../../lib/config/types.js';
import { silentLogger, createLogger } from '../../../lib/log.js';
import { startPushSink, type PushSink, type ReceivedPush } from '../../../lib/push-sink/index.js';
import { startPushwake, type RunningPushwake } from '../../../lib/pushwake.js';
import type { SipApp } from '../../../lib/sip/srf.js';
import { parseSipUri } from '../../../lib/sip/name-addr.js';
import { Pbx, Phone, startAgentHost, type PushStyle } from '../../../lib/testkit/agents.js';
import { startDrachtioServer, type DrachtioServer } from '../../../lib/testkit/drachtio-server.js';
import { drachtioBin } from '../../../lib/testkit/binaries.js';
import { mergeTrees, runCleanups } from '../../../lib/testkit/cleanups.js';
import { loopbackOverrides } from '../../../lib/testkit/loopback-config.js';
import { createTestPki, type IssuedCertificate, type TestPki } from '../../../lib/testkit/test-pki.js';

export type EngineKind = 'embedded' | 'drachtio';

export interface LabOptions {
  engine: EngineKind;
  config?: DeepPartial<PushwakeConfig>;
  /** Use this store kind (default: embedded, in a temp dir). */
  redisUrl?: string;
  /** More config made once the push sink exists (e.g. a second app's APNs key from sink.addProviderKey). */
  withSink?: (sink: PushSink, dir: string) => DeepPartial<PushwakeConfig>;
  /** pushwake also listens on SIP over TLS, with a certificate from a CA the phones trust (on
   * engine 'drachtio', drachtio-server listens on TLS with that certificate) */
  tls?: boolean;
}

export class SipLab {
  readonly phones: Phone[] = [];
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  private constructor(
    public pushwake: RunningPushwake,
    readonly sink: PushSink,
    readonly pbx: Pbx,
    readonly agentApp: SipApp,
    readonly pushwakeHost: string,
    private readonly agentHost: string,
    readonly config: PushwakeConfig,
    /** host:port of drachtio-server's SIP over TLS listener (engine 'drachtio' with `tls`). */
    private readonly drachtioTlsHost?: string,
  ) {}

  static async start(opts: LabOptions): Promise<SipLab> {
    const cleanups: Array<() => Promise<void> | void> = [];
    try {
      return await SipLab.build(opts, cleanups);
    } catch (err) {
      await runCleanups(cleanups);
      throw err;
    }
  }

  private static async build(opts: LabOptions, cleanups: Array<() => Promise<void> | void>): Promise<SipLab> {
    const dir = mkdtempSync(join(tmpdir(), 'pushwake-lab-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    let pki: TestPki | undefined;
    let pushwakeCert: IssuedCertificate | undefined;
    if (opts.tls) {
      pki = await createTestPki();
      const made = pki;
      cleanups.push(() => made.remove());
      pushwakeCert = await pki.issue('pushwake');
    }
    // The agents' own engine: the PBX registrar and the phones live there.
    const agents = await startAgentHost({}, pki && pushwakeCert ? { certFile: pushwakeCert.certFile, keyFile: pushwakeCert.keyFile, caFile: pki.caCertFile, watch: false } : undefined);
    cleanups.push(() => agents.stop());
    const { app: agentApp, host: agentHost } = agents;

    const sink = await startPushSink({ output: 'none' });
    cleanups.push(() => sink.stop());

    let drachtio: DrachtioServer | undefined;
    if (opts.engine === 'drachtio') {
      const bin = drachtioBin();
      if (!bin) throw new Error('no drachtio-server: set DRACHTIO_BIN or put drachtio on PATH');
      // with `tls`, drachtio-server terminates SIP over TLS with the lab's 'pushwake' certificate
      drachtio = await startDrachtioServer(bin, 'pushwake-e2e', pki && pushwakeCert
        ? { tls: { certFile: pushwakeCert.certFile, keyFile: pushwakeCert.keyFile, chainFile: pki.caCertFile } }
        : {});
      cleanups.push(async () => {
        await drachtio?.stop();
        if (process.env['DRACHTIO_TEST_LOG']) process.stderr.write(drachtio?.output() ?? '');
      });
    }
    const config = loadConfig({
      env: {},
      overrides: mergeTrees(
        mergeTrees(loopbackOverrides(sink, dir, `sip:${agentHost}`), {
          ...(drachtio ? { engine: { mode: 'external', host: '127.0.0.1', port: drachtio.wirePort, secret: drachtio.secret } } : {}),
          apns: { retryBaseDelayMs: 20 },
          call: { wakeTimeoutMs: 4000, ringTimeoutMs: 8000 },
          ...(opts.redisUrl ? { store: { kind: 'redis', url: opts.redisUrl, keyPrefix: `lab${Date.now()}:` } } : {}),
          ...(pushwakeCert && !drachtio ? {
            sip: {
              listen: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp', 'tls'], tlsPort: 0 }],
              tlsCertFile: pushwakeCert.certFile, tlsKeyFile: pushwakeCert.keyFile, tlsWatchFiles: false,
            },
          } : {}),
        }),
        mergeTrees(opts.config ?? {}, opts.withSink?.(sink, dir) ?? {}),
      ),
    });
    const log = process.env['PUSHWAKE_TEST_LOG'] ? createLogger(process.env['PUSHWAKE_TEST_LOG']) : silentLogger();
    const pushwake = await startPushwake(config, { log });
    cleanups.push(() => pushwake.stop());
    const pushwakeHost = drachtio ? `127.0.0.1:${drachtio.sipPort}` : pushwake.advertisedHost;

    const pbx = new Pbx(agentApp, `sip:${pushwakeHost}`);
    const drachtioTlsHost = drachtio?.tlsPort !== undefined ? `127.0.0.1:${drachtio.tlsPort}` : undefined;
    const lab = new SipLab(pushwake, sink, pbx, agentApp, pushwakeHost, agentHost, config, drachtioTlsHost);
    lab.cleanups.push(...cleanups);
    agentApp.onRequest('register', (req, res) => pbx.handleRegister(req, res));
    agentApp.onRequest('invite', (req, res) => {
      const user = parseSipUri(req.uri)?.user;
      const phone = lab.phones.find((p) => p.contactUser === user);
      if (phone) phone.handleInvite(req, res);
      else res.send(404, 'Not Found', {});
    });
    agentApp.onRequest('message', (req, res) => {
      const user = parseSipUri(req.uri)?.user;
      const phone = lab.phones.find((p) => p.contactUser === user);
      if (phone) phone.handleMessage(req, res);
      else res.send(404, 'Not Found', {});
    });
    sink.on('push', (push) => lab.onPush(push));
    return lab;
  }

  /**
   * Stop pushwake and start it again on the same SIP port and store (embedded engine only): what
   * a restart or a deploy does. Bindings must survive it.
   */
  async restartPushwake(): Promise<void> {
    const port = this.pushwake.sipAddresses[0]?.port;
    if (port === undefined) throw new Error('restartPushwake needs the embedded engine');
    await this.pushwake.stop();
    const config = { ...this.config, sip: { ...this.config.sip, listen: [{ address: '127.0.0.1', port, transports: ['udp', 'tcp'] as Array<'udp' | 'tcp'> }] } };
    this.pushwake = await startPushwake(config, { log: silentLogger() });
    this.cleanups.push(() => this.pushwake.stop());
  }

  phone(user: string, opts: { transport?: 'udp' | 'tcp' | 'tls'; push?: PushStyle; domain?: string } = {}): Phone {
    const transport = opts.transport ?? 'tcp';
    const tls = this.pushwake.sipAddresses.find((a) => a.transport === 'tls');
    const tlsHost = this.drachtioTlsHost ?? (tls ? `${tls.address}:${tls.port}` : undefined);
    const host = transport === 'tls' && tlsHost ? tlsHost : this.pushwakeHost;
    const p = new Phone(this.agentApp, user, opts.domain ?? 'example.com', transport, host, opts.push ?? 'x-token', this.agentHost);
    this.phones.push(p);
    return p;
  }

  /** Pushes that reached the sink for one phone. */
  pushesFor(phone: Phone): ReceivedPush[] {
    return this.sink.pushes.filter((p) => p.token === phone.token);
  }

  private onPush(push: ReceivedPush): void {
    const phone = this.phones.find((p) => p.token === push.token);
    if (phone?.wakeOnPush) setTimeout(() => void phone.register().catch(() => undefined), 30);
  }

  async stop(): Promise<void> {
    await runCleanups(this.cleanups);
  }
}

/** Which engines the end-to-end suites run against here. */
export function enginesUnderTest(): EngineKind[] {
  return drachtioBin() ? ['embedded', 'drachtio'] : ['embedded'];
}
