/**
 * The options of `createPushwake`, as typed objects, and their validation. The settings are the
 * YAML config's sections (less what the host app owns: the engine and where SIP is listened on),
 * checked by the same rules with the same messages (`resolveConfig`).
 */
import type Srf from 'drachtio-srf';
import { ConfigError, resolveConfig } from '../config/load.js';
import type { PushwakeConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PushSender } from '../push/push-outcome.js';
import type { BindingStore } from '../store/binding-store.js';

/** What to do with a request that is not pushwake's business. */
export type Unclaimed =
  /** call `next()`: the host's later handlers get it (module mode's default). */
  | 'pass'
  /** answer it as the standalone proxy does: 404 for an unknown user, 403 for an untrusted caller. */
  | 'answer';

/** Settings of one section, every key optional: the defaults are config/pushwake.yaml's. */
type Section<K extends keyof PushwakeConfig> = Partial<PushwakeConfig[K]>;

/** The settings a mounted pushwake takes; each is documented in config/pushwake.yaml beside its default. */
export interface PushwakeSettings {
  /**
   * Only what pushwake tells others. Where SIP is listened on is the host's engine's business;
   * by default the advertised host is learned from it when the Srf connects.
   */
  sip?: Partial<Pick<PushwakeConfig['sip'], 'advertisedHost' | 'advertisedTransport'>>;
  upstream?: Section<'upstream'>;
  registration?: Section<'registration'>;
  apns?: Section<'apns'>;
  fcm?: Section<'fcm'>;
  call?: Section<'call'>;
  alerts?: Section<'alerts'>;
  devices?: Section<'devices'>;
  endedNotice?: Section<'endedNotice'>;
  /** Announcements on FreeSWITCH through drachtio-fsmrf on the host's Srf (README "Announcements"). */
  media?: Section<'media'>;
  /** Which store to open; ignored when `bindingStore` is given. */
  store?: Section<'store'>;
  /** Several nodes on one Redis (docs/scale-out.md). */
  cluster?: Section<'cluster'>;
}

export interface PushwakeOptions extends PushwakeSettings {
  /** The host app's Srf. pushwake never connects or disconnects it. */
  srf: Srf;
  /** Names this instance in its log lines and errors (two tenants in one app); default "pushwake". */
  name?: string;
  /** The host's pino logger: pushwake logs through `logger.child({ pushwake: name })`. Default: pino on stdout at info. */
  logger?: Logger;
  /** Use this store instead of opening `store`. Pass one store to two instances to share their bindings. */
  bindingStore?: BindingStore;
  /** Send pushes through this instead of the APNs sender built from `apns`. */
  pushSender?: PushSender;
  /** What the middleware does with requests that are not pushwake's; default "pass". */
  unclaimed?: Unclaimed;
}

/** Keys of PushwakeOptions that are not settings. */
const WIRING = new Set(['srf', 'name', 'logger', 'bindingStore', 'pushSender', 'unclaimed']);
const SETTINGS = new Set(['sip', 'upstream', 'registration', 'apns', 'fcm', 'call', 'alerts', 'devices', 'endedNotice', 'media', 'store', 'cluster']);
/** Settings of the standalone proxy that a mounted pushwake leaves to its host, and why. */
const HOST_OWNED: Record<string, string> = {
  engine: 'is not a module option: the host app owns the Srf and its connection',
  log: 'is not a module option: pass your pino logger as `logger`',
  admin: 'is not a module option: serve `pushwake.metrics` from your own HTTP server',
  'sip.listen': 'is not a module option: the host app\'s SIP engine decides where SIP is listened on',
  'sip.tlsCertFile': 'is not a module option: TLS is the host app\'s SIP engine\'s',
  'sip.tlsKeyFile': 'is not a module option: TLS is the host app\'s SIP engine\'s',
  'sip.tlsCaFile': 'is not a module option: TLS is the host app\'s SIP engine\'s',
  'sip.tlsWatchFiles': 'is not a module option: TLS is the host app\'s SIP engine\'s',
};

export interface ResolvedOptions {
  config: PushwakeConfig;
  name: string;
  unclaimed: Unclaimed;
}

/** Validate the options; throws ConfigError (code PUSHWAKE_CONFIG) naming the key at fault. */
export function resolveOptions(options: PushwakeOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError('(options)', 'must be an object');
  const record = options as unknown as Record<string, unknown>;
  const srf = record['srf'] as { use?: unknown; request?: unknown } | undefined;
  if (typeof srf !== 'object' || srf === null || typeof srf.use !== 'function' || typeof srf.request !== 'function') {
    throw new ConfigError('srf', 'must be a drachtio-srf Srf instance');
  }
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (WIRING.has(key)) continue;
    if (HOST_OWNED[key]) throw new ConfigError(key, HOST_OWNED[key]);
    if (!SETTINGS.has(key)) throw new ConfigError(key, 'unknown option');
    settings[key] = value;
  }
  const sip = settings['sip'];
  if (typeof sip === 'object' && sip !== null) {
    for (const key of Object.keys(sip)) {
      const why = HOST_OWNED[`sip.${key}`];
      if (why) throw new ConfigError(`sip.${key}`, why);
    }
  }
  const name = options.name ?? 'pushwake';
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new ConfigError('name', 'must be 1 to 64 letters, digits, dots, dashes or underscores');
  const unclaimed = options.unclaimed ?? 'pass';
  if (unclaimed !== 'pass' && unclaimed !== 'answer') throw new ConfigError('unclaimed', 'must be one of: pass, answer');
  for (const [key, method] of [['bindingStore', 'listBindings'], ['pushSender', 'send'], ['logger', 'child']] as const) {
    const v = record[key] as Record<string, unknown> | undefined;
    if (v !== undefined && (typeof v !== 'object' || v === null || typeof v[method] !== 'function')) {
      throw new ConfigError(key, `must be ${key === 'logger' ? 'a pino logger' : `a ${key === 'bindingStore' ? 'BindingStore' : 'PushSender'}`}`);
    }
  }
  return { config: resolveConfig(settings), name, unclaimed };
}
