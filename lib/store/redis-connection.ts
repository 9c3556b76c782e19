/**
 * One connection to the Redis that pushwake's nodes share: a plain server (`store.url`), or the
 * master that Redis Sentinel names (`store.sentinels`), followed across a failover. Both fail a
 * command at once while Redis is away (the phone gets 503 with Retry-After) and reconnect with
 * backoff, so traffic resumes within half a second of Redis' return.
 */
import { createClient, createSentinel } from 'redis';
import type { RedisCommandClient } from './redis-scripts.js';

export type RedisTarget =
  | { kind: 'server'; url: string }
  /** Sentinel: the master called `masterName`; `url` gives the data nodes' credentials, if any. */
  | { kind: 'sentinel'; sentinels: Array<{ host: string; port: number }>; masterName: string; url: string };

export interface RedisHooks {
  onError?: (err: Error) => void;
  /** Connected and ready (at start and after every reconnect). */
  onReady?: () => void;
}

export interface RedisConnection extends RedisCommandClient {
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  readonly isOpen: boolean;
  close(): Promise<void>;
  destroy(): void;
}

const CONNECT_TIMEOUT_MS = 2_000;
const RECONNECT_MAX_DELAY_MS = 500;

const socket = {
  connectTimeout: CONNECT_TIMEOUT_MS,
  reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), RECONNECT_MAX_DELAY_MS),
};

/** `host:port` entries of `store.sentinels`. Pure; throws on a bad entry (the config rules catch it first). */
export function parseSentinels(list: string[]): Array<{ host: string; port: number }> {
  return list.map((entry) => {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry.trim());
    if (!m?.[1] || !m[2] || Number(m[2]) > 65535) throw new Error(`not host:port: ${entry}`);
    return { host: m[1], port: Number(m[2]) };
  });
}

export async function connectRedis(target: RedisTarget, hooks: RedisHooks = {}): Promise<RedisConnection> {
  const onError = (err: unknown): void => hooks.onError?.(err instanceof Error ? err : new Error(String(err)));
  if (target.kind === 'server') {
    // While Redis is away a command fails at once instead of queueing behind a connection that
    // may never come back.
    const client = createClient({ url: target.url, disableOfflineQueue: true, socket });
    client.on('error', onError);
    client.on('ready', () => hooks.onReady?.());
    await client.connect();
    return {
      sendCommand: (args) => client.sendCommand([...args]),
      subscribe: (channel, listener) => client.subscribe(channel, (message: string) => listener(message)),
      get isOpen() {
        return client.isOpen;
      },
      close: () => client.close(),
      destroy: () => client.destroy(),
    };
  }
  const credentials = credentialsOf(target.url);
  const sentinel = createSentinel({
    name: target.masterName,
    sentinelRootNodes: target.sentinels,
    nodeClientOptions: { ...credentials, disableOfflineQueue: true, socket },
    sentinelClientOptions: { socket },
    passthroughClientErrorEvents: true,
  });
  sentinel.on('error', onError);
  await sentinel.connect();
  hooks.onReady?.();
  let open = true;
  return {
    sendCommand: (args) => sentinel.sendCommand(false, [...args]),
    subscribe: async (channel, listener) => {
      await sentinel.subscribe(channel, (message: string) => listener(message));
    },
    get isOpen() {
      return open;
    },
    close: async () => {
      open = false;
      await sentinel.close();
    },
    destroy: () => {
      open = false;
      void sentinel.destroy().catch(() => undefined);
    },
  };
}

/** The username and password in a redis:// URL, for the data nodes behind Sentinel. */
function credentialsOf(url: string): { username?: string; password?: string } {
  try {
    const u = new URL(url);
    return { ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(u.password ? { password: decodeURIComponent(u.password) } : {}) };
  } catch {
    return {};
  }
}
