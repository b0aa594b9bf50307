/**
 * Redis implementation of the {@link StateStore} contract.
 *
 * Layout (src/state/keys.ts, docs/operations.md "Redis"): agent states are fields of bucket
 * hashes (`<prefix>:{<tenant>::<bucket>}`, field = the agent id), which Redis keeps in its compact
 * listpack encoding while a bucket holds at most `hash-max-listpack-entries` fields of at most
 * `hash-max-listpack-value` bytes (set the latter to 512: a state is 233 bytes, 253 with its
 * control tail; scripts/services.sh and docker-compose.yml do). Audit chain heads are plain keys.
 *
 * Guarantees:
 * - `loadMany` is one round trip and one command (`load-many.lua`: one `HGET` per agent inside
 *   the script), `saveMany` is one round trip and one command: the `save-many.lua`
 *   compare-and-set over every state and audit head of the call, answered in entry order.
 * - Each save is atomic and idempotent: a record is written only when its watermark is strictly
 *   greater than the stored one. Re-sending a save (after a timeout, a reconnect, a retried batch)
 *   can only ever answer `stale`, never regress the state. The whole call is one script, so a
 *   crash or a Redis restart never keeps states without the audit head that follows them.
 * - Binary-safe: states are sent and read as Buffers, byte for byte; `loadMany` returns fresh
 *   copies that share no memory with the connection's buffers. The script reads only the
 *   watermark (float64 at byte 1), so states may grow.
 * - During a Redis outage calls wait in ioredis's offline queue while it reconnects with capped
 *   exponential backoff; a call fails only after `maxRetriesPerRequest` reconnect attempts or
 *   `commandTimeoutMs`, and then with `TrustlineError('STATE_UNAVAILABLE', …, retriable)`.
 *   The process never crashes on a connection error (the client always has an `error` listener).
 *
 * Redis Cluster: every bucket key and every audit head key is one hash tag, so one slot. The
 * single-node store sends one script call over all keys of a batch (load and save); a cluster-aware
 * variant sends one call per slot (group by `keySlot`, keys.ts; the per-slot calls of one batch are then not
 * atomic together, so the audit head goes last). This class targets a single node (or a proxy that
 * does the splitting).
 */
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { TrustlineError } from '../shared/errors.ts';
import { DEFAULT_STATE_BUCKETS, agentKeyPattern, auditHeadKey, checkKeyPrefix, stateLocation } from './keys.ts';
import { POSITION_AT, SAVE_CODE, defineStateCommands, type StateRedis } from './lua-commands.ts';
import {
  decodeAuditHead,
  encodeAuditHead,
  watermarkOf,
  type AgentKey,
  type AuditChainKey,
  type AuditHeadSave,
  type SaveEntry,
  type SaveOutcome,
  type StateStore,
  type StoredAuditHead,
} from './store.ts';

/** Options shared by both ways of constructing a {@link RedisStateStore}. */
type CommonOptions = {
  /** Namespace of every key (`<keyPrefix>:{<tenant>:<agentId>}`); must not contain `{` or `}`. Keep it short. */
  keyPrefix: string;
  /** Called with every connection-level error the client reports (for logging; calls still fail with a TrustlineError). */
  onError?: (err: Error) => void;
  /** State buckets per tenant (default {@link DEFAULT_STATE_BUCKETS}); part of the layout: keep it for the life of the data (keys.ts). */
  stateBuckets?: number;
};

/** Construct from a URL: the store creates, configures and owns the connection; `close()` quits it. */
export type RedisStateStoreUrlOptions = CommonOptions & {
  url: string;
  /**
   * Reconnect attempts after which waiting calls fail with `STATE_UNAVAILABLE` (default 20:
   * about 30 s of outage with the default backoff when connections are refused). ioredis counts
   * attempts per connection, not per call, and fails every waiting call each time the count
   * reaches a multiple of N + 1, so a call made late in an outage may fail sooner. `null` waits
   * forever (then only `commandTimeoutMs` bounds a call).
   */
  maxRetriesPerRequest?: number | null;
  /** A call that got no reply within this many ms fails with `STATE_UNAVAILABLE` (default 30 000; 0 = never). */
  commandTimeoutMs?: number;
  /** Extra ioredis options, applied last. */
  redisOptions?: RedisOptions;
};

/**
 * Construct on an existing ioredis client: the store defines its scripts on it and leaves its
 * options and its lifetime to the caller (`close()` does not quit it).
 */
export type RedisStateStoreClientOptions = CommonOptions & { redis: Redis };

export type RedisStateStoreOptions = RedisStateStoreUrlOptions | RedisStateStoreClientOptions;

/** Reconnect delay: 50 ms doubling up to 2 s; never gives up (a number is always returned). */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(Math.max(attempt - 1, 0), 6), 2000);
}

/** ioredis options for a long-running stream processor (see the class doc). */
export function streamProcessorRedisOptions(opts: Pick<RedisStateStoreUrlOptions, 'maxRetriesPerRequest' | 'commandTimeoutMs'> = {}): RedisOptions {
  const commandTimeout = opts.commandTimeoutMs ?? 30_000;
  return {
    connectionName: 'trustline',
    enableOfflineQueue: true,
    enableReadyCheck: true,
    maxRetriesPerRequest: opts.maxRetriesPerRequest === undefined ? 20 : opts.maxRetriesPerRequest,
    retryStrategy: reconnectDelay,
    // After a failover the old primary answers READONLY: reconnect and resend (the CAS makes resending safe).
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    connectTimeout: 10_000,
    keepAlive: 30_000,
    ...(commandTimeout > 0 ? { commandTimeout } : {}),
  };
}

const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|OOM|MOVED|ASK|EXECABORT)\b/;
const AUTH_REPLIES = /^(NOAUTH|WRONGPASS|NOPERM)\b/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** Maps an ioredis failure onto the closed list of TrustlineError codes. */
export function toStateError(err: unknown, op: string): TrustlineError {
  if (err instanceof TrustlineError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const msg = e.message;
  if (
    e.name === 'MaxRetriesPerRequestError' ||
    msg === 'Connection is closed.' ||
    msg === 'Command timed out' ||
    msg.startsWith("Stream isn't writeable") ||
    (typeof code === 'string' && NETWORK_CODES.has(code)) ||
    UNAVAILABLE_REPLIES.test(msg)
  ) {
    return new TrustlineError('STATE_UNAVAILABLE', `Redis unavailable during ${op}: ${msg}`, { cause: e, retriable: true });
  }
  if (AUTH_REPLIES.test(msg)) {
    return new TrustlineError('CONFIG_INVALID', `Redis refused the credentials during ${op}: ${msg}`, { cause: e });
  }
  if (msg.includes('WRONGTYPE')) {
    return new TrustlineError('STATE_CORRUPT', `a state key holds a non-string value (${op}): ${msg}`, { cause: e });
  }
  return new TrustlineError('INTERNAL', `Redis ${op} failed: ${msg}`, { cause: e });
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function describeKey(key: AgentKey): string {
  return `${JSON.stringify(key.tenant)}/${JSON.stringify(key.agentId)}`;
}

/** Rejects an entry the CAS script would reject, before anything is sent (so a bad batch writes nothing). */
function checkEntry(e: SaveEntry): void {
  if (!Number.isFinite(e.watermark)) {
    throw new TrustlineError('INTERNAL', `saveMany: watermark of ${describeKey(e.key)} is not a finite number (${e.watermark})`);
  }
  if (e.state.byteLength < 9) {
    throw new TrustlineError('INTERNAL', `saveMany: state of ${describeKey(e.key)} is ${e.state.byteLength} bytes, too short to hold a watermark`);
  }
  const inside = watermarkOf(e.state);
  if (inside !== e.watermark) {
    throw new TrustlineError('INTERNAL', `saveMany: watermark ${e.watermark} of ${describeKey(e.key)} differs from the one encoded in its state (${inside})`);
  }
}

/** The Redis-backed state store. See the module doc for guarantees. */
export class RedisStateStore implements StateStore {
  /** The underlying client, with the state scripts defined (exposed for tools and tests). */
  readonly redis: StateRedis;
  readonly keyPrefix: string;
  readonly stateBuckets: number;
  private readonly ownsClient: boolean;
  private readonly errorListener: (err: Error) => void;
  private closing: Promise<void> | undefined;

  constructor(options: RedisStateStoreOptions) {
    this.keyPrefix = checkKeyPrefix(options.keyPrefix);
    this.stateBuckets = options.stateBuckets ?? DEFAULT_STATE_BUCKETS;
    if (!Number.isSafeInteger(this.stateBuckets) || this.stateBuckets < 1)
      throw new TrustlineError('CONFIG_INVALID', `stateBuckets must be a positive integer (got ${this.stateBuckets})`);
    const onError = options.onError;
    this.errorListener = (err) => onError?.(err);
    let redis: Redis;
    if ('redis' in options) {
      redis = options.redis;
      this.ownsClient = false;
    } else {
      redis = new Redis(options.url, { ...streamProcessorRedisOptions(options), ...options.redisOptions });
      this.ownsClient = true;
    }
    // An EventEmitter without an 'error' listener would report every reconnect failure as unhandled.
    redis.on('error', this.errorListener);
    this.redis = defineStateCommands(redis);
  }

  /** Where an agent's state lives under this store's prefix: the bucket hash and the field. */
  locate(key: AgentKey): { key: string; field: string } {
    return stateLocation(this.keyPrefix, key, this.stateBuckets);
  }

  async loadMany(keys: readonly AgentKey[]): Promise<(Uint8Array | null)[]> {
    this.assertOpen('loadMany');
    if (keys.length === 0) return [];
    // One load-many.lua call: the bucket keys, then (key index, field) per agent.
    const keyIndex = new Map<string, number>();
    const args: (string | number)[] = [];
    for (const k of keys) {
      const loc = this.locate(k);
      let i = keyIndex.get(loc.key);
      if (i === undefined) keyIndex.set(loc.key, (i = keyIndex.size + 1));
      args.push(i, loc.field);
    }
    let values: (Buffer | null)[];
    try {
      values = await this.redis.trustlineLoadManyBuffer(keyIndex.size, [...keyIndex.keys()], args);
    } catch (err) {
      throw toStateError(err, 'loadMany');
    }
    if (!Array.isArray(values) || values.length !== keys.length)
      throw new TrustlineError('STATE_UNAVAILABLE', `loadMany: expected ${keys.length} replies, got ${Array.isArray(values) ? values.length : 'none'}`, {
        retriable: true,
      });
    return values.map((v) => (v ? Buffer.from(v) : null));
  }

  async loadAuditHeads(chains: readonly AuditChainKey[]): Promise<(StoredAuditHead | null)[]> {
    this.assertOpen('loadAuditHeads');
    if (chains.length === 0) return [];
    let values: (Buffer | null)[];
    try {
      values = await this.redis.mgetBuffer(chains.map((c) => auditHeadKey(this.keyPrefix, c.topic, c.partition)));
    } catch (err) {
      throw toStateError(err, 'loadAuditHeads');
    }
    return values.map((v) => {
      if (v === null) return null;
      const h = decodeAuditHead(v);
      if (!h) throw new TrustlineError('STATE_CORRUPT', 'loadAuditHeads: a stored audit head is unreadable');
      return h;
    });
  }

  /** One `save-many.lua` call over every state and audit head (heads first): one command, atomic. */
  async saveMany(entries: readonly SaveEntry[], auditHeads: readonly AuditHeadSave[] = []): Promise<SaveOutcome[]> {
    this.assertOpen('saveMany');
    if (entries.length === 0 && auditHeads.length === 0) return [];
    for (const e of entries) checkEntry(e);
    const keyIndex = new Map<string, number>();
    const indexOf = (key: string): number => {
      let i = keyIndex.get(key);
      if (i === undefined) keyIndex.set(key, (i = keyIndex.size + 1));
      return i;
    };
    const args: (string | number | Buffer)[] = [];
    for (const a of auditHeads)
      args.push(
        indexOf(auditHeadKey(this.keyPrefix, a.chain.topic, a.chain.partition)),
        '',
        POSITION_AT.auditHead,
        String(a.head.position),
        encodeAuditHead(a.head),
      );
    for (const e of entries) {
      const loc = this.locate(e.key);
      args.push(indexOf(loc.key), loc.field, POSITION_AT.state, String(e.watermark), asBuffer(e.state));
    }
    let codes: number[];
    try {
      codes = await this.redis.trustlineSaveMany(keyIndex.size, [...keyIndex.keys()], args);
    } catch (err) {
      throw toStateError(err, 'saveMany');
    }
    if (!Array.isArray(codes) || codes.length !== entries.length + auditHeads.length) {
      throw new TrustlineError(
        'STATE_UNAVAILABLE',
        `saveMany: expected ${entries.length + auditHeads.length} replies, got ${Array.isArray(codes) ? codes.length : 'none'}`,
        { retriable: true },
      );
    }
    for (let i = 0; i < auditHeads.length; i++) {
      const code = codes[i];
      if (code !== SAVE_CODE.SAVED && code !== SAVE_CODE.STALE) {
        throw new TrustlineError(
          code === SAVE_CODE.STORED_CORRUPT || code === SAVE_CODE.WRONG_TYPE ? 'STATE_CORRUPT' : 'INTERNAL',
          `saveMany: save-many script answered ${String(code)} for an audit head`,
        );
      }
    }
    return codes.slice(auditHeads.length).map((code, i) => {
      if (code === SAVE_CODE.SAVED) return 'saved';
      if (code === SAVE_CODE.STALE) return 'stale';
      const key = describeKey(entries[i]!.key);
      if (code === SAVE_CODE.STORED_CORRUPT)
        throw new TrustlineError('STATE_CORRUPT', `saveMany: the stored value of ${key} is not an encoded state; nothing written`);
      if (code === SAVE_CODE.WRONG_TYPE)
        throw new TrustlineError('STATE_CORRUPT', `saveMany: the state bucket of ${key} holds a non-hash value; nothing written`);
      throw new TrustlineError('INTERNAL', `saveMany: save-many script rejected ${key} with code ${String(code)}`);
    });
  }

  /** Deletes every state bucket (and any per-agent key) under this prefix, found with SCAN (never KEYS) and removed with UNLINK. */
  async clear(): Promise<void> {
    this.assertOpen('clear');
    const pattern = agentKeyPattern(this.keyPrefix);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next.toString('latin1');
        if (keys.length > 0) await this.redis.unlink(...keys);
      } while (cursor !== '0');
    } catch (err) {
      throw toStateError(err, 'clear');
    }
  }

  /**
   * Quits the connection if this store created it (waiting at most `deadlineMs` for pending
   * replies, then disconnecting); a client passed in is left open. Safe to call twice.
   */
  close(deadlineMs = 2000): Promise<void> {
    this.closing ??= this.shutdown(deadlineMs);
    return this.closing;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    if (!this.ownsClient) {
      this.redis.off('error', this.errorListener);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadlineMs);
      timer.unref();
    });
    // Resolves once the socket is gone, so a shutdown sequence can rely on it.
    const ended = new Promise<'ended'>((resolve) => {
      if (this.redis.status === 'end') resolve('ended');
      else this.redis.once('end', () => resolve('ended'));
    });
    try {
      const outcome = await Promise.race([this.redis.quit().then(() => ended), ended, deadline]);
      if (outcome === 'timeout') this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    } finally {
      clearTimeout(timer);
    }
  }

  private assertOpen(op: string): void {
    if (this.closing) throw new TrustlineError('STATE_UNAVAILABLE', `${op} on a closed state store`, { retriable: false });
  }
}
