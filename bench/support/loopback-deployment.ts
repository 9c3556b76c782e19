/**
 * A whole deployment on loopback for benchmarks: pushwake in a child process (embedded engine,
 * embedded store in a temp dir), and in this process the push sink standing in for APNs and the
 * agents (a PBX and phones from lib/testkit) on their own embedded engine. It is the e2e
 * SipLab's shape, with the lookups a few thousand phones need (maps, not scans).
 */
import { mergeTrees, runCleanups, type Cleanup } from '../../lib/testkit/cleanups.js';
import { loopbackOverrides } from '../../lib/testkit/loopback-config.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { startDrachtioServer } from '../../lib/testkit/drachtio-server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeepPartial } from '../../lib/config/load.js';
import type { PushwakeConfig } from '../../lib/config/types.js';
import { startPushSink, type PushSink, type ReceivedPush } from '../../lib/push-sink/index.js';
import { parseSipUri } from '../../lib/sip/name-addr.js';
import type { SipApp } from '../../lib/sip/srf.js';
import { Pbx, Phone, startAgentHost } from '../../lib/testkit/agents.js';
import { PushwakeProcess } from './pushwake-process.js';
import { inWindows } from './windowed.js';

/** Every message of the run comes from 127.0.0.1: the per-source limit must not be the bottleneck. */
const NO_SOURCE_LIMIT = 1_000_000;

export interface DeploymentOptions {
  /** Merged over the deployment's own settings (listeners, registrar, APNs, store). */
  config: DeepPartial<PushwakeConfig>;
  trace: boolean;
  logLevel: string;
  /** How long a phone takes from its push to its REGISTER when it wakes. */
  wakeDelayMs: number;
  /** How the PBX reaches pushwake. TCP does not lose a 180 when this process is saturated. */
  pbxTransport: 'udp' | 'tcp';
  /** pushwake's SIP engine: its embedded one, or a drachtio-server (DRACHTIO_BIN) beside it. */
  engine?: 'embedded' | 'drachtio';
}


export class LoopbackDeployment {
  private readonly phonesByContactUser = new Map<string, Phone>();
  private readonly phonesByToken = new Map<string, Phone>();
  private readonly wakeTimers = new Set<NodeJS.Timeout>();
  private readonly pushListeners: Array<(push: ReceivedPush, phone: Phone | undefined) => void> = [];
  private stopped = false;

  private constructor(
    readonly pushwake: PushwakeProcess,
    readonly sink: PushSink,
    readonly pbx: Pbx,
    /** The next hop for the PBX's INVITEs: pushwake, over the chosen transport. */
    readonly pbxProxy: string,
    readonly agentApp: SipApp,
    private readonly agentHost: string,
    private readonly wakeDelayMs: number,
    private readonly cleanups: Cleanup[],
  ) {}

  static async start(opts: DeploymentOptions): Promise<LoopbackDeployment> {
    const cleanups: Cleanup[] = [];
    try {
      const dir = mkdtempSync(join(tmpdir(), 'pushwake-bench-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

      const agents = await startAgentHost({ perSourceRatePerSec: NO_SOURCE_LIMIT });
      cleanups.push(() => agents.stop());
      const { app: agentApp, host: agentHost } = agents;

      // Keeps only a few pushes: the benchmarks listen to 'push' events instead.
      const sink = await startPushSink({ output: 'none', maxRecorded: 16 });
      cleanups.push(() => sink.stop());

      // every message comes from 127.0.0.1, a trusted source: lift its budget and the others too
      let engine: Record<string, unknown> = {
        mode: 'embedded', port: 0, perSourceRatePerSec: NO_SOURCE_LIMIT, trustedSourceRatePerSec: NO_SOURCE_LIMIT, untrustedRatePerSec: NO_SOURCE_LIMIT,
      };
      if (opts.engine === 'drachtio') {
        const bin = drachtioBin();
        if (!bin) throw new Error('--engine drachtio needs DRACHTIO_BIN or drachtio on PATH');
        const drachtio = await startDrachtioServer(bin, 'bench');
        cleanups.push(() => drachtio.stop());
        engine = { mode: 'external', host: '127.0.0.1', port: drachtio.wirePort, secret: drachtio.secret };
      }
      const config = mergeTrees(
        { ...loopbackOverrides(sink, dir, `sip:${agentHost}`), engine },
        opts.config as Record<string, unknown>,
      );
      const pushwake = await PushwakeProcess.start({ config, trace: opts.trace, logLevel: opts.logLevel });
      // Stopped first on the way out (cleanups run in reverse), while its peers are still up.
      cleanups.push(() => pushwake.stop());

      const pbxProxy = `sip:${pushwake.sipHost};transport=${opts.pbxTransport}`;
      const pbx = new Pbx(agentApp, pbxProxy);
      const d = new LoopbackDeployment(pushwake, sink, pbx, pbxProxy, agentApp, agentHost, opts.wakeDelayMs, cleanups);
      agentApp.onRequest('register', (req, res) => pbx.handleRegister(req, res));
      agentApp.onRequest('invite', (req, res) => {
        const user = parseSipUri(req.uri)?.user;
        const phone = user === undefined ? undefined : d.phonesByContactUser.get(user);
        if (phone) phone.handleInvite(req, res);
        else res.send(404, 'Not Found', {});
      });
      sink.on('push', (push) => d.pushArrived(push));
      return d;
    } catch (err) {
      await runCleanups(cleanups);
      throw err;
    }
  }

  /** A phone that registers over TCP with an X-Token header, as the e2e suite's default phone. */
  addPhone(user: string): Phone {
    const phone = new Phone(this.agentApp, user, 'example.com', 'tcp', this.pushwake.sipHost, 'x-token', this.agentHost);
    this.phonesByContactUser.set(phone.contactUser, phone);
    this.phonesByToken.set(phone.token, phone);
    return phone;
  }

  phoneByToken(token: string): Phone | undefined {
    return this.phonesByToken.get(token);
  }

  /** Register phones through pushwake, `window` at a time; returns how many got a 200. */
  async registerAll(phones: readonly Phone[], window = 100): Promise<number> {
    const statuses = await inWindows(phones, window, (p) => p.register().then((r) => r.status, () => 0));
    return statuses.filter((s) => s === 200).length;
  }

  /** Told of every push the sink accepted, with the phone it was for. */
  onPush(listener: (push: ReceivedPush, phone: Phone | undefined) => void): void {
    this.pushListeners.push(listener);
  }

  /** The phone "receives" its push: it re-registers after wakeDelayMs, unless told to sleep on. */
  private pushArrived(push: ReceivedPush): void {
    const phone = this.phonesByToken.get(push.token);
    for (const fn of this.pushListeners) fn(push, phone);
    if (!phone?.wakeOnPush || this.stopped) return;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(timer);
      void phone.register().catch(() => undefined);
    }, this.wakeDelayMs);
    this.wakeTimers.add(timer);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
    await runCleanups(this.cleanups);
  }

  /** Last resort when a run is abandoned: no child left behind. */
  kill(): void {
    this.pushwake.kill();
  }
}

