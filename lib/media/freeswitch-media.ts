/**
 * Announcements on a real FreeSWITCH, through drachtio-fsmrf: one connection to its inbound event
 * socket for the life of the process, one endpoint (channel) per announcing call, made by an INVITE
 * through the app's own SIP engine, with FreeSWITCH connecting back over its outbound event socket.
 *
 * Nothing here may fail a call: FreeSWITCH down, refusing, slow or full all resolve `open` with an
 * `unavailable` outcome, and the call goes on as without media.
 *
 * The connection: a probe (esl-probe.ts) first, since drachtio-fsmrf 4.x throws out of a socket
 * callback (taking the process down) when the profile is missing; then drachtio-fsmrf's connect.
 * Once connected, drachtio-modesl reconnects by itself when FreeSWITCH goes and comes back; its
 * back-off is capped here (it grows without bound by default).
 */
import { ThrottledWarning, type Logger } from '../log.js';
import type { PushwakeConfig } from '../config/types.js';
import type { AnnouncementMedia, MediaEndpoint, MediaUnavailableCode, OpenOutcome } from './announcement-media.js';
import { probeEventSocket, type ProbeResult, type ProbeTarget } from './esl-probe.js';
import type { PlayCommand, PromptSettings } from './prompts.js';
import type { FsmrfEndpoint, FsmrfMediaServer, MrfConnector } from './fsmrf.js';

export type { MrfConnector } from './fsmrf.js';

/** media.* as validated (config/pushwake.yaml documents each), less the switch itself. */
export type MediaSettings = Omit<PushwakeConfig['media'], 'enabled'>;

/** What the operator's metrics hear. */
export interface MediaObserver {
  unavailable(code: MediaUnavailableCode): void;
  connected(up: boolean): void;
}

/** Retries of the first connection: 1 s, doubling, at most this. */
const MAX_RETRY_MS = 30_000;
/** drachtio-modesl's reconnect back-off once connected, capped at this. */
const MAX_RECONNECT_MS = 5_000;
/** A probe or connect that takes longer has failed. */
const CONNECT_TIMEOUT_MS = 5_000;
/** An endpoint FreeSWITCH does not let go of within this is dropped on our side (BYE). */
const RELEASE_TIMEOUT_MS = 3_000;

export function splitHostPort(hp: string): { host: string; port: number } {
  const colon = hp.lastIndexOf(':');
  return { host: hp.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(hp.slice(colon + 1)) };
}

export class FreeswitchMedia implements AnnouncementMedia {
  private server: FsmrfMediaServer | undefined;
  private up = false;
  private active = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = 1000;
  private lastFailure: string | undefined;
  private readonly skipped: ThrottledWarning;

  constructor(
    private readonly mrf: MrfConnector,
    private readonly settings: MediaSettings,
    private readonly log: Logger,
    private readonly observer: MediaObserver,
    /** The look before connecting (a fake in tests). */
    private readonly probe: (t: ProbeTarget) => Promise<ProbeResult> = probeEventSocket,
  ) {
    this.skipped = new ThrottledWarning(log, 'announcements skipped: calls go on without media (180, then the usual path)', 10_000);
  }

  get prompts(): PromptSettings {
    return this.settings;
  }

  /** Connected to FreeSWITCH's event socket now. */
  get isUp(): boolean {
    return this.up && this.server?.connected() === true;
  }

  /** Endpoints held now (made or being made). */
  get activeAnnouncements(): number {
    return this.active;
  }

  /** Connect in the background; calls find media down until it is up. */
  start(): void {
    void this.connect();
  }

  /** Resolves once connected (tests, and a start that wants media at once), or false after `ms`. */
  async whenUp(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.isUp && Date.now() < deadline && !this.closed) await new Promise((r) => setTimeout(r, 50));
    return this.isUp;
  }

  async open(callerSdp: string): Promise<OpenOutcome> {
    const server = this.server;
    if (!server || !this.isUp) return { kind: 'unavailable', code: 'MEDIA_DOWN', why: this.lastFailure ?? 'not connected to FreeSWITCH' };
    if (this.active >= this.settings.maxAnnouncements) return { kind: 'unavailable', code: 'MEDIA_BUSY', why: `media.maxAnnouncements (${this.settings.maxAnnouncements}) endpoints held` };
    this.active++;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<OpenOutcome>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve({ kind: 'unavailable', code: 'MEDIA_SLOW', why: `no endpoint within media.setupTimeoutMs (${this.settings.setupTimeoutMs} ms)` });
      }, this.settings.setupTimeoutMs);
    });
    // drachtio-fsmrf asserts synchronously on some offers (DTLS, a WebRTC caller's): a rejection here
    const made = createEndpoint(server, callerSdp).then(
      (ep): OpenOutcome => {
        const endpoint = new FreeswitchEndpoint(ep, () => this.active--, this.log);
        // too late: the call went on without it
        if (timedOut) void endpoint.release();
        return { kind: 'ready', endpoint };
      },
      (err: unknown): OpenOutcome => {
        this.active--;
        return { kind: 'unavailable', code: 'MEDIA_ERROR', why: `FreeSWITCH endpoint failed: ${(err as Error).message}` };
      },
    );
    const outcome = await Promise.race([made, slow]);
    clearTimeout(timer);
    return outcome;
  }

  unavailable(code: MediaUnavailableCode, why: string, callId: string): void {
    this.observer.unavailable(code);
    this.skipped.warn({ code, why, callId });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.dropServer();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const s = this.settings;
    const esl = splitHostPort(s.eventSocket);
    const probe: ProbeResult = await this.probe({ host: esl.host, port: esl.port, secret: s.eventSocketSecret, profile: s.profile, timeoutMs: CONNECT_TIMEOUT_MS });
    if (this.closed) return;
    if (probe.kind === 'failed') return this.retry(`${probe.code}: ${probe.why}`);
    const listen = splitHostPort(s.callbackListen);
    const advertise = s.callbackAdvertise ? splitHostPort(s.callbackAdvertise) : undefined;
    let server: FsmrfMediaServer;
    try {
      server = await withTimeout(this.mrf.connect({
        address: esl.host, port: esl.port, secret: s.eventSocketSecret, profile: s.profile,
        listenAddress: listen.host, listenPort: listen.port,
        ...(advertise ? { advertisedAddress: advertise.host, advertisedPort: advertise.port } : {}),
      }), CONNECT_TIMEOUT_MS);
    } catch (err) {
      return this.retry(`MEDIA_ESL_UNREACHABLE: drachtio-fsmrf could not connect: ${(err as Error).message}`);
    }
    if (this.closed) {
      safely(() => server.disconnect());
      return;
    }
    this.attach(server, probe.profileUrl);
  }

  private attach(server: FsmrfMediaServer, profileUrl: string): void {
    this.server = server;
    if (this.settings.sipAddress) server.sip.ipv4.udp.address = this.settings.sipAddress;
    capReconnect(server);
    // drachtio-fsmrf emits 'error' for event socket trouble; unheard, an EventEmitter would throw
    server.on('error', (err: Error) => this.log.warn({ err: err.message }, 'FreeSWITCH event socket error'));
    server.on('end', () => this.setUp(false, 'lost the event socket connection; reconnecting'));
    (server as unknown as { conn: { on(e: string, fn: () => void): void } }).conn.on('esl::ready', () => this.setUp(true, 'event socket connection is back'));
    this.retryMs = 1000;
    this.lastFailure = undefined;
    this.setUp(true, 'connected', { profileUrl, sipAddress: server.sip.ipv4.udp.address });
  }

  private setUp(up: boolean, msg: string, fields: Record<string, unknown> = {}): void {
    if (up === this.up) return;
    this.up = up;
    this.observer.connected(up);
    if (!up) this.lastFailure = 'FreeSWITCH event socket connection lost';
    this.log[up ? 'info' : 'warn']({ eventSocket: this.settings.eventSocket, ...fields }, `media server (FreeSWITCH): ${msg}`);
  }

  private retry(why: string): void {
    if (why !== this.lastFailure) this.log.warn({ eventSocket: this.settings.eventSocket, why, retryInMs: this.retryMs }, 'media server (FreeSWITCH) not reachable: announcements are off until it is');
    this.lastFailure = why;
    this.retryTimer = setTimeout(() => void this.connect(), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private dropServer(): void {
    const server = this.server;
    this.server = undefined;
    if (this.up) this.setUp(false, 'disconnected');
    if (!server) return;
    const conn = (server as unknown as { conn?: { reconnectVars?: { retryTimer?: NodeJS.Timeout | null } } }).conn;
    // a reconnect scheduled by drachtio-modesl would otherwise open a connection no one closes
    if (conn?.reconnectVars?.retryTimer) clearTimeout(conn.reconnectVars.retryTimer);
    // drachtio-fsmrf's disconnect emits 'error' on a connection already gone, after removing its listeners
    safely(() => server.disconnect());
  }
}

function createEndpoint(server: FsmrfMediaServer, remoteSdp: string): Promise<FsmrfEndpoint> {
  try {
    return server.createEndpoint({ remoteSdp });
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** drachtio-modesl's reconnect back-off grows by 1.7 per attempt with no cap unless one is set. */
function capReconnect(server: FsmrfMediaServer): void {
  const conn = (server as unknown as { conn?: { reconnectOpts?: { retryMaxDelay?: number } } }).conn;
  if (conn?.reconnectOpts) conn.reconnectOpts.retryMaxDelay = MAX_RECONNECT_MS;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // a library's teardown of something already gone
  }
}

/** `p`, or a rejection after `ms`; the timer never holds the process up (a stop in progress). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]);
}

/** One drachtio-fsmrf Endpoint, released exactly once, its loss heard once. */
class FreeswitchEndpoint implements MediaEndpoint {
  private released: Promise<void> | undefined;
  private lost = false;
  private readonly lostListeners: Array<() => void> = [];
  private readonly pendingPlays = new Set<(err: Error) => void>();

  constructor(private readonly ep: FsmrfEndpoint, private readonly onGone: () => void, private readonly log: Logger) {
    ep.on('destroy', () => {
      if (this.released || this.lost) return;
      this.lost = true;
      for (const fail of this.pendingPlays) fail(new Error('endpoint lost'));
      for (const fn of this.lostListeners) fn();
      void this.release();
    });
  }

  get sdp(): string {
    return this.ep.local.sdp;
  }

  play(command: PlayCommand): Promise<void> {
    if (this.lost || this.released) return Promise.reject(new Error('endpoint gone'));
    return new Promise<void>((resolve, reject) => {
      // a channel that vanishes never completes its application: its loss settles the play
      this.pendingPlays.add(reject);
      this.ep.execute(command.app, command.arg).then(
        () => {
          this.pendingPlays.delete(reject);
          resolve();
        },
        (err: unknown) => {
          this.pendingPlays.delete(reject);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  async stopPlaying(): Promise<void> {
    if (this.lost || this.released) return;
    await this.ep.api('uuid_break', `${this.ep.uuid} all`);
  }

  release(): Promise<void> {
    this.released ??= this.hangUp();
    return this.released;
  }

  onLost(fn: () => void): void {
    this.lostListeners.push(fn);
  }

  private async hangUp(): Promise<void> {
    for (const fail of this.pendingPlays) fail(new Error('endpoint released'));
    this.pendingPlays.clear();
    const dialog = this.ep.dialog;
    try {
      if (!this.lost) await withTimeout(this.ep.destroy(), RELEASE_TIMEOUT_MS);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, uuid: this.ep.uuid }, 'FreeSWITCH did not release an endpoint in time; ending its SIP dialog');
    } finally {
      // FreeSWITCH gone (or deaf): end the SIP dialog to it ourselves, or the engine keeps it
      if (dialog && dialog.connected !== false && (this.lost || this.ep.dialog)) await dialog.destroy().catch(() => undefined);
      this.onGone();
    }
  }
}
