import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULTS } from './defaults.js';
import { rules } from './rules.js';
import type { PushwakeConfig } from './types.js';

/** A configuration problem; `key` is the dotted key at fault (e.g. `call.wakeTimeoutMs`). */
export class ConfigError extends Error {
  readonly code = 'PUSHWAKE_CONFIG';
  constructor(readonly key: string, message: string) {
    super(`config ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Tree = Record<string, unknown>;

function readYaml(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('(file)', `${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('(file)', `${path} must hold a mapping`);
  return doc as Tree;
}

const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Merge `over` onto `base`, refusing keys that `base` (the defaults) does not have. */
function mergeKnown(base: Tree, over: Tree, prefix: string): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const key = prefix ? `${prefix}.${k}` : k;
    // an option given as undefined (a JavaScript caller's `{ keyFile: process.env.X }`) is not given
    if (v === undefined) continue;
    if (!Object.hasOwn(base, k)) throw new ConfigError(key, 'unknown key');
    const b = base[k];
    // Leaves that are objects in the defaults (payloadTemplate) are replaced whole, not merged.
    if (isTree(b) && !(key in rules)) {
      if (!isTree(v)) throw new ConfigError(key, 'must be a mapping');
      out[k] = mergeKnown(b, v, key);
    } else {
      out[k] = v;
    }
  }
  return out;
}

const snake = (camel: string): string => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Environment overrides: PUSHWAKE_<SECTION>_<KEY>, values parsed as YAML scalars or JSON. */
function envOverrides(defaults: Tree, env: NodeJS.ProcessEnv): Tree {
  const over: Tree = {};
  for (const [section, keys] of Object.entries(defaults)) {
    if (!isTree(keys)) continue;
    for (const key of Object.keys(keys)) {
      const name = `PUSHWAKE_${snake(section)}_${snake(key)}`;
      const raw = env[name];
      if (raw === undefined) continue;
      let value: unknown;
      try {
        value = parseYaml(raw);
      } catch {
        throw new ConfigError(`${section}.${key}`, `cannot parse ${name}=${JSON.stringify(raw)}`);
      }
      // An empty value or a string default keeps strings as strings ("0123" stays text).
      if (typeof keys[key] === 'string') value = raw;
      const target = (over[section] ??= {}) as Tree;
      target[key] = value;
    }
  }
  return over;
}

function validate(tree: Tree): PushwakeConfig {
  for (const [key, rule] of Object.entries(rules)) {
    const [section, leaf] = key.split('.') as [string, string];
    const holder = tree[section];
    const value = isTree(holder) ? holder[leaf] : undefined;
    const problem = rule(value);
    if (problem) throw new ConfigError(key, `${problem} (got ${JSON.stringify(value)})`);
  }
  const c = tree as unknown as PushwakeConfig;
  if (c.registration.minExpires > c.registration.maxExpires) {
    throw new ConfigError('registration.minExpires', 'must not exceed registration.maxExpires');
  }
  if (c.registration.defaultExpires < c.registration.minExpires || c.registration.defaultExpires > c.registration.maxExpires) {
    throw new ConfigError('registration.defaultExpires', 'must lie between minExpires and maxExpires');
  }
  const listensTls = c.sip.listen.some((l) => l.transports.includes('tls'));
  if (listensTls && c.engine.mode === 'embedded' && (c.sip.tlsCertFile === '' || c.sip.tlsKeyFile === '')) {
    throw new ConfigError(c.sip.tlsCertFile === '' ? 'sip.tlsCertFile' : 'sip.tlsKeyFile', 'is required when a sip.listen entry has tls');
  }
  if ((c.sip.tlsCertFile === '') !== (c.sip.tlsKeyFile === '')) {
    throw new ConfigError(c.sip.tlsCertFile === '' ? 'sip.tlsCertFile' : 'sip.tlsKeyFile', 'must be set together with its pair (tlsCertFile and tlsKeyFile)');
  }
  if (c.fcm.moreServiceAccountFiles.length > 0 && c.fcm.serviceAccountFile === '') {
    throw new ConfigError('fcm.moreServiceAccountFiles', 'needs fcm.serviceAccountFile (the first project) as well');
  }
  if (c.cluster.nodeId !== '' && c.store.kind !== 'redis') {
    throw new ConfigError('cluster.nodeId', 'needs store.kind redis: the nodes of a cluster share one Redis');
  }
  if (c.cluster.secret !== '' && c.cluster.secret.length < 16) {
    throw new ConfigError('cluster.secret', 'must be at least 16 characters');
  }
  if (c.apns.keyFile !== '' && (c.apns.keyId === '' || c.apns.teamId === '')) {
    throw new ConfigError(c.apns.keyId === '' ? 'apns.keyId' : 'apns.teamId', 'is required when apns.keyFile is set');
  }
  return c;
}

export interface LoadOptions {
  /** A user config file merged over the defaults. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Programmatic overrides (tests), merged last. */
  overrides?: DeepPartial<PushwakeConfig>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/**
 * Settings given as objects, merged over the defaults in order and validated: the one place every
 * value is checked, for the YAML file, the environment and the module's options alike.
 */
export function resolveConfig(...layers: Array<DeepPartial<PushwakeConfig> | Tree>): PushwakeConfig {
  let tree = structuredClone(DEFAULTS) as unknown as Tree;
  for (const layer of layers) {
    if (!isTree(layer)) throw new ConfigError('(options)', 'must be an object');
    tree = mergeKnown(tree, layer as Tree, '');
  }
  return validate(structuredClone(tree));
}

/** Load and validate: the defaults, then the user's file, then env, then overrides. */
export function loadConfig(options: LoadOptions = {}): PushwakeConfig {
  const layers: Tree[] = [];
  if (options.file) layers.push(readYaml(options.file));
  layers.push(envOverrides(DEFAULTS as unknown as Tree, options.env ?? process.env));
  if (options.overrides) layers.push(options.overrides as Tree);
  return resolveConfig(...layers);
}

/** The documented defaults file (config/pushwake.yaml) read as a tree; tests hold it equal to DEFAULTS. */
export function readConfigFile(path: string): Record<string, unknown> {
  return readYaml(path);
}
