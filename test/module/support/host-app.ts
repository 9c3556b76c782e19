/**
 * A provider's own srf app with pushwake mounted in it, on loopback: the host's Srf on the embedded
 * engine (imported from the package's public entry, as a host would), the host's own routes, the
 * push sink for APNs, and the agents playing the PBX and the phones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Srf from 'drachtio-srf';
import { createPushwake, startEmbeddedEngine, type EmbeddedEngine, type Pushwake, type PushwakeOptions } from '../../../lib/index.js';
import { startPushSink, type PushSink } from '../../../lib/push-sink/index.js';
import { sipAppOf } from '../../../lib/sip/srf.js';
import { parseSipUri } from '../../../lib/sip/name-addr.js';
import { Pbx, Phone, startAgentHost, type AgentHost, type PushStyle } from '../../../lib/testkit/agents.js';
import { runCleanups } from '../../../lib/testkit/cleanups.js';
import { loopbackOverrides } from '../../../lib/testkit/loopback-config.js';
import { silentLogger } from '../../../lib/log.js';

/** What reached the host's own handlers, by method. */
export interface HostSaw {
  method: string;
  uri: string;
  /** Whether a response had been sent already when the host got it (must never be). */
  answered: boolean;
}

type Settings = Omit<PushwakeOptions, 'srf'>;

export class HostApp {
  readonly saw: HostSaw[] = [];
  readonly phones: Phone[] = [];
  readonly pushwakes: Pushwake[] = [];

  private constructor(
    readonly srf: Srf,
    readonly engine: EmbeddedEngine,
    readonly agents: AgentHost,
    readonly sink: PushSink,
    readonly pbx: Pbx,
    readonly dir: string,
    private readonly cleanups: Array<() => Promise<void> | void>,
  ) {}

  /** host:port of the host app's SIP engine. */
  get sipHost(): string {
    const a = this.engine.sipAddresses[0];
    return `127.0.0.1:${a?.port ?? 0}`;
  }

  /**
   * Start the host. `mount` adds pushwake before the host's routes (middleware runs in the order
   * it is mounted); both happen before the Srf connects unless `mountAfterConnect`.
   */
  static async start(opts: { mount?: (host: HostApp) => Promise<void>; mountAfterConnect?: boolean } = {}): Promise<HostApp> {
    const cleanups: Array<() => Promise<void> | void> = [];
    try {
      const dir = mkdtempSync(join(tmpdir(), 'pushwake-host-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const agents = await startAgentHost();
      cleanups.push(() => agents.stop());
      const sink = await startPushSink({ output: 'none' });
      cleanups.push(() => sink.stop());
      const engine = await startEmbeddedEngine({ sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp'] }], wire: { secret: 'host' } });
      cleanups.push(() => engine.stop());
      const srf = new Srf();
      srf.on('error', () => undefined);
      cleanups.push(() => srf.disconnect());
      const sip = engine.sipAddresses[0];
      const pbx = new Pbx(agents.app, `sip:127.0.0.1:${sip?.port ?? 0}`);
      const host = new HostApp(srf, engine, agents, sink, pbx, dir, cleanups);
      const connect = (): Promise<string> => sipAppOf(srf).connect({ host: '127.0.0.1', port: engine.wirePort, secret: 'host' });
      if (opts.mountAfterConnect) await connect();
      // middleware runs in the order it is mounted: pushwake first, then the host's own handlers
      if (opts.mount) await opts.mount(host);
      host.routeOwn();
      if (!opts.mountAfterConnect) await connect();
      agents.app.onRequest('register', (req, res) => pbx.handleRegister(req, res));
      agents.app.onRequest('invite', (req, res) => {
        const user = parseSipUri(req.uri)?.user;
        const phone = host.phones.find((p) => p.contactUser === user);
        if (phone) phone.handleInvite(req, res);
        else res.send(404, 'Not Found', {});
      });
      sink.on('push', (push) => {
        const phone = host.phones.find((p) => p.token === push.token);
        if (phone?.wakeOnPush) setTimeout(() => void phone.register().catch(() => undefined), 30);
      });
      return host;
    } catch (err) {
      await runCleanups(cleanups);
      throw err;
    }
  }

  /** The settings a pushwake on this host needs: the PBX as registrar, the sink as APNs, a store of its own. */
  settings(name: string): Settings {
    const o = loopbackOverrides(this.sink, this.dir, `sip:${this.agents.host}`) as { apns: Settings['apns']; registration: Settings['registration'] };
    return {
      name,
      logger: silentLogger(),
      upstream: { registrar: `sip:${this.agents.host}`, trustedSources: ['127.0.0.0/8'] },
      registration: o.registration ?? {},
      apns: { ...o.apns, retryBaseDelayMs: 20 },
      call: { wakeTimeoutMs: 4000, ringTimeoutMs: 8000 },
      store: { kind: 'embedded', path: join(this.dir, `store-${name}`) },
    };
  }

  /** Create a pushwake on this host's Srf and mount it. */
  async mount(options: Settings): Promise<Pushwake> {
    const pw = await createPushwake({ srf: this.srf, ...options });
    this.cleanups.push(() => pw.close());
    pw.attach();
    this.pushwakes.push(pw);
    return pw;
  }

  phone(user: string, opts: { push?: PushStyle; domain?: string; transport?: 'udp' | 'tcp' } = {}): Phone {
    const p = new Phone(this.agents.app, user, opts.domain ?? 'example.com', opts.transport ?? 'tcp', this.sipHost, opts.push ?? 'x-token', this.agents.host);
    this.phones.push(p);
    return p;
  }

  /** The host's own routes: a registrar for phones without push, a "proxy" that answers 486, OPTIONS. */
  private routeOwn(): void {
    const note = (req: Srf.SrfRequest, res: Srf.SrfResponse): void => {
      this.saw.push({ method: req.method, uri: req.uri, answered: res.finalResponseSent });
    };
    this.srf.use('register', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      note(req, res);
      res.send(200, 'Host Registrar', { headers: { Contact: req.get('Contact'), Expires: '60' } });
    });
    this.srf.invite((req, res) => {
      note(req, res);
      res.send(486, 'Host Busy', {});
    });
    this.srf.use('options', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      note(req, res);
      res.send(200, 'Host OK', {});
    });
  }

  async stop(): Promise<void> {
    await runCleanups(this.cleanups);
  }
}
