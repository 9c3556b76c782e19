/**
 * The package as a host installs it: `npm pack`, then `npm install <tarball>` into a fresh project
 * outside the repo, type-check a TypeScript consumer and both examples against the shipped .d.ts,
 * and run the examples end to end (mount-in-srf-app when DRACHTIO_BIN names a drachtio-server): a phone registers through it, a call wakes it and
 * is answered, and the host's own routes (OPTIONS, a relayed call) are still served.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPushSink, type PushSink } from '../../lib/push-sink/index.js';
import { parseSipUri } from '../../lib/sip/name-addr.js';
import { Pbx, Phone, startAgentHost, waitFor, type AgentHost } from '../../lib/testkit/agents.js';
import { freePort } from '../../lib/testkit/free-port.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { startDrachtioServer } from '../../lib/testkit/drachtio-server.js';
import { loopbackOverrides } from '../../lib/testkit/loopback-config.js';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const versionOf = (pkg: string): string => (JSON.parse(readFileSync(join(repo, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

/** A consumer of the public API; every line must type-check against the shipped .d.ts. */
const CONSUMER = `
import Srf from 'drachtio-srf';
import { createPushwake, ConfigError, startEmbeddedEngine, openBindingStore, resolveConfig,
  type Pushwake, type PushwakeOptions, type CallEndedEvent, type DeviceRegisteredEvent, type BindingStore,
  type PushSender, type SrfMiddleware, type EmbeddedEngine } from 'pushwake';

const srf = new Srf();
const options: PushwakeOptions = { srf, name: 'tenant-a', upstream: { registrar: 'sip:pbx.example.com' }, call: { wakeTimeoutMs: 20_000 }, unclaimed: 'pass' };

export async function mount(): Promise<Pushwake> {
  const pw = await createPushwake(options);
  srf.use('register', pw.register);
  srf.use('invite', pw.invite);
  pw.on('callEnded', (e: CallEndedEvent) => console.log(e.callUuid, e.ending));
  pw.on('deviceRegistered', (e: DeviceRegisteredEvent) => console.log(e.aor, e.pushable, e.expiresAt + 1));
  const calls: number = pw.activeCalls;
  console.log(calls, pw.advertisedHost.length);
  await pw.close();
  return pw;
}

export async function engine(): Promise<EmbeddedEngine> {
  return startEmbeddedEngine({ sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp'] }], wire: { secret: 's' } });
}

export async function store(): Promise<BindingStore> {
  return openBindingStore({ kind: 'embedded', path: './data' });
}

export function isConfigError(err: unknown): string | undefined {
  return err instanceof ConfigError ? err.key + err.code : undefined;
}

export const wakeTimeout: number = resolveConfig({ call: { wakeTimeoutMs: 10_000 } }).call.wakeTimeoutMs;
export const mw: SrfMiddleware = (_req, _res, next) => next();
export const sender: PushSender = { send: () => Promise.resolve({ kind: 'delivered', apnsId: 'x', status: 200 }), close: () => Promise.resolve() };

// @ts-expect-error the engine is the host's: not a module option
export const noEngine: PushwakeOptions = { srf, engine: { mode: 'external' } };
// @ts-expect-error a number
export const badValue: PushwakeOptions = { srf, call: { wakeTimeoutMs: 'fast' } };
// @ts-expect-error the Srf is required
export const noSrf: PushwakeOptions = { upstream: {} };
`;

/** Probe that internal modules are not importable at run time. */
const INTERNAL_PROBE = `
try { await import('pushwake/dist/lib/pushwake.js'); console.log('importable'); }
catch (err) { console.log(err.code); }
`;

describe('the npm package', () => {
  let tmp: string;
  let project: string;
  let tarball: string;
  let files: string[];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pushwake-pkg-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: repo, maxBuffer: 64 * 1024 * 1024 });
    const packed = (JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>)[0];
    if (!packed) throw new Error('npm pack printed nothing');
    tarball = join(tmp, packed.filename);
    files = packed.files.map((f) => f.path);
    project = join(tmp, 'host-app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({
      name: 'host-app', private: true, type: 'module',
      dependencies: { pushwake: `file:${tarball}`, 'drachtio-srf': versionOf('drachtio-srf'), pino: versionOf('pino') },
      devDependencies: { typescript: versionOf('typescript'), '@types/node': versionOf('@types/node') },
    }, null, 2));
    // the npm cache holds every dependency after the repo's own npm ci
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, maxBuffer: 64 * 1024 * 1024 });
    copyFileSync(join(repo, 'examples', 'embedded-engine', 'app.ts'), join(project, 'app.ts'));
    copyFileSync(join(repo, 'examples', 'embedded-engine', 'tsconfig.json'), join(project, 'tsconfig.json'));
    copyFileSync(join(repo, 'examples', 'mount-in-srf-app', 'app.ts'), join(project, 'mount.ts'));
    writeFileSync(join(project, 'consumer.ts'), CONSUMER);
    writeFileSync(join(project, 'probe.mjs'), INTERNAL_PROBE);
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the built API with its .d.ts, the docs and the examples; not the sources, the testkit or source maps', () => {
    for (const f of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli.js', 'README.md', 'CHANGELOG.md', 'config/pushwake.yaml', 'examples/embedded-engine/app.ts', 'examples/mount-in-srf-app/app.ts', 'package.json']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('lib/') || f.startsWith('test/') || f.startsWith('dist/lib/testkit') || f.startsWith('dist/lib/demo') || f.endsWith('.map'))).toEqual([]);
  });

  it('type-checks a strict TypeScript consumer and the example against the shipped .d.ts', async () => {
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', '.'], { cwd: project }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? 'failed' }));
    expect(`${result.stdout}${result.stderr}`).toBe('');
    // and the package's own .d.ts hold no errors (skipLibCheck off for them)
    const own = await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', 'node_modules/pushwake/dist/lib/index.d.ts'], { cwd: project })
      .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? 'failed', stderr: '' }));
    expect(own.stdout.split('\n').filter((l) => l.includes('node_modules/pushwake/'))).toEqual([]);
  }, 120_000);

  it('keeps internal modules out of reach: only the package root is exported', async () => {
    const { stdout } = await run(process.execPath, ['probe.mjs'], { cwd: project });
    expect(stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  describe('the embedded-engine example, run from the installed package', () => {
    exampleRun(() => project, () => tmp, 'app.js', async () => ({ env: { SIP_PORT: String(await freePort()) }, sipPort: 0, stop: () => undefined }), 'B2BUA');
  });

  describe.skipIf(!drachtioBin())('the mount-in-srf-app example on drachtio-server, run from the installed package', () => {
    exampleRun(() => project, () => tmp, 'mount.js', async () => {
      const server = await startDrachtioServer(drachtioBin() ?? '', 'pkg-example');
      return {
        env: { DRACHTIO_HOST: '127.0.0.1', DRACHTIO_PORT: String(server.wirePort), DRACHTIO_SECRET: server.secret },
        sipPort: server.sipPort,
        stop: () => server.stop(),
      };
    }, 'proxy');
  });
});

if (!drachtioBin()) console.log('[package] SKIPPED the mount-in-srf-app example on drachtio-server: no DRACHTIO_BIN and no drachtio on PATH.');

interface ExampleServer {
  env: Record<string, string>;
  /** The SIP port when the server is not the example itself (drachtio-server); 0: SIP_PORT of env. */
  sipPort: number;
  stop: () => Promise<void> | void;
}

/**
 * Run a compiled example from the installed package against the agents (PBX, phones) and the push
 * sink: a push phone registers and is woken for a call; the host's OPTIONS, a REGISTER without push
 * and a call for a phone without push take the app's own routes.
 */
function exampleRun(project: () => string, tmp: () => string, script: string, server: () => Promise<ExampleServer>, relay: 'B2BUA' | 'proxy'): void {
  let agents: AgentHost;
  let sink: PushSink;
  let example: ChildProcess;
  let engine: ExampleServer;
  let sipPort: number;
  let pbx: Pbx;
  const lines: Array<Record<string, unknown>> = [];
  const phones: Phone[] = [];

  beforeAll(async () => {
    agents = await startAgentHost();
    sink = await startPushSink({ output: 'none' });
    engine = await server();
    sipPort = engine.sipPort || Number(engine.env['SIP_PORT']);
    const o = loopbackOverrides(sink, tmp(), `sip:${agents.host}`) as { apns: Record<string, string | number> };
    example = spawn(process.execPath, [join('dist', script)], {
      cwd: project(),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '',
        ...engine.env,
        PBX_URI: `sip:${agents.host}`,
        PBX_ADDRESS: '127.0.0.1',
        APNS_TOPIC: 'com.example.phone.voip',
        APNS_KEY_FILE: String(o.apns['keyFile']),
        APNS_KEY_ID: String(o.apns['keyId']),
        APNS_TEAM_ID: String(o.apns['teamId']),
        APNS_HOST: '127.0.0.1',
        APNS_PORT: String(sink.port),
        APNS_CA_FILE: String(o.apns['caFile']),
        STORE_PATH: join(tmp(), `store-${script}`),
      },
    });
    let partial = '';
    example.stdout?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) {
        try {
          lines.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          lines.push({ msg: l });
        }
      }
    });
    let stderr = '';
    example.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitFor('the example to start', () => lines.some((l) => l['msg'] === 'example ready') || example.exitCode !== null, 30_000);
    if (example.exitCode !== null) throw new Error(`the example exited ${example.exitCode}: ${stderr}`);
    pbx = new Pbx(agents.app, `sip:127.0.0.1:${sipPort}`);
    agents.app.onRequest('register', (req, res) => pbx.handleRegister(req, res));
    agents.app.onRequest('invite', (req, res) => {
      const phone = phones.find((p) => p.contactUser === parseSipUri(req.uri)?.user);
      if (phone) phone.handleInvite(req, res);
      else res.send(404, 'Not Found', {});
    });
    sink.on('push', (push) => {
      const phone = phones.find((p) => p.token === push.token);
      if (phone) setTimeout(() => void phone.register().catch(() => undefined), 30);
    });
  }, 60_000);

  afterAll(async () => {
    if (example && example.exitCode === null) example.kill('SIGKILL');
    await engine?.stop();
    await sink?.stop();
    await agents?.stop();
  });

  it(`a phone registers through it and a call wakes it by push and is answered; the app's OPTIONS, REGISTERs without push and other calls (${relay}) are still its own`, async () => {
    const phone = new Phone(agents.app, 'alice', 'example.com', 'tcp', `127.0.0.1:${sipPort}`, 'x-token', agents.host);
    phones.push(phone);
    const reg = await phone.register();
    expect(reg.status).toBe(200);
    expect(pbx.registers.at(-1)?.contact).toMatch(new RegExp(`^sip:pw-[0-9a-f]{20}@127\\.0\\.0\\.1:${sipPort};transport=udp$`));

    const call = pbx.call('sip:alice@example.com');
    const result = await call.done;
    expect(result.status).toBe(200);
    expect(sink.pushes.filter((p) => p.token === phone.token)).toHaveLength(1);
    expect(phone.invites).toHaveLength(1);
    await result.dialog?.destroy();
    await waitFor('the call-ended line', () => lines.some((l) => l['msg'] === 'pushwake call ended' && l['ending'] === 'answered-hangup'));

    const options = await new Promise<number>((resolve, reject) => {
      agents.app.request(`sip:127.0.0.1:${sipPort}`, { method: 'OPTIONS', headers: {} }, (res) => resolve(res.status)).catch(reject);
    });
    expect(options).toBe(200);
    const desk = new Phone(agents.app, 'desk', 'example.com', 'tcp', `127.0.0.1:${sipPort}`, 'none', agents.host);
    phones.push(desk);
    const registersBefore = pbx.registers.length;
    const deskReg = await desk.register();
    if (relay === 'proxy') {
      // proxied to the PBX by the app itself: the PBX sees the desk phone's own contact
      expect(deskReg.status).toBe(200);
      expect(pbx.registers.at(-1)?.contact).toContain(desk.contactUser);
    } else {
      expect(deskReg.status).toBe(403);
      expect(pbx.registers).toHaveLength(registersBefore);
    }
    const relayed = await pbx.call(`sip:${desk.contactUser}@example.com`).done;
    expect(relayed.status).toBe(200);
    expect(desk.invites).toHaveLength(1);
    await relayed.dialog?.destroy();
    expect(sink.pushes).toHaveLength(1);
  }, 60_000);

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => example.once('exit', (code) => resolve(code)));
    example.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
}
