import { createHash } from 'node:crypto';

/**
 * Lua scripts of the Redis store. A script runs atomically on the server, which gives the store
 * compare-and-set without WATCH; WATCH would need a connection of its own per operation, since
 * node-redis pipelines every caller's commands over one socket.
 *
 * Scripts only use keys they are given, and never decode JSON: the caller reads a record, decides
 * in TypeScript, and the script applies the change only if the record is still byte-for-byte what
 * was read (`expected`, '' for absent). A script answering 0 means "changed meanwhile, retry".
 */

/** What the store needs from a Redis connection; a client from `createClient()` fits. */
export interface RedisCommandClient {
  sendCommand(args: ReadonlyArray<string>): Promise<unknown>;
}

export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, loading the script with EVAL the first time a server has not seen it. */
  async run(client: RedisCommandClient, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(['EVALSHA', this.#sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.sendCommand(['EVAL', this.#source, ...tail]);
    }
  }
}

/** Shared by scripts that grow an index key's TTL to cover its longest-lived member. */
const EXTEND_TTL = `
local function extend_ttl(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;

/**
 * KEYS: binding, aor index, new local index, old local index (may equal the new one).
 * ARGV: expected, binding JSON, ttl ms, aor index field, expiresAt, local index value.
 */
export const PUT_BINDING = new RedisScript(`${EXTEND_TTL}
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if KEYS[4] ~= KEYS[3] and redis.call('GET', KEYS[4]) == ARGV[6] then redis.call('DEL', KEYS[4]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('SET', KEYS[3], ARGV[6], 'PX', ttl)
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
extend_ttl(KEYS[2], ttl)
return 1
`);

/**
 * KEYS: binding, aor index, local index (optional: unknown when the record is damaged).
 * ARGV: expected, aor index field, local index value.
 */
export const REMOVE_BINDING = new RedisScript(`
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[2])
if KEYS[3] and redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
return 1
`);

/** KEYS: record. ARGV: expected, replacement. The record keeps its TTL. */
export const REPLACE_KEEPING_TTL = new RedisScript(`
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`);

/**
 * KEYS: aor index. ARGV: field, value, field, value, ...
 * Drops each field only if it still holds the value read, so a device that re-registered
 * between the read and the prune keeps its entry.
 */
export const PRUNE_INDEX_FIELDS = new RedisScript(`
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
`);

/** KEYS: notices of a device. ARGV: field, notice JSON, ttl ms. */
export const ADD_NOTICE = new RedisScript(`${EXTEND_TTL}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
extend_ttl(KEYS[1], tonumber(ARGV[3]))
return 1
`);

/** KEYS: notices of a device. Returns the notice JSON values; the hash is gone afterwards. */
export const TAKE_NOTICES = new RedisScript(`
local values = redis.call('HVALS', KEYS[1])
redis.call('DEL', KEYS[1])
return values
`);
