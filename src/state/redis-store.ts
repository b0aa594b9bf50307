/**
 * Redis implementation of the {@link StateStore} contract.
 *
 * Guarantees:
 * - `loadMany` is one round trip (one `MGET`), `saveMany` is one round trip (one pipeline of the
 *   `save-state-1.lua` compare-and-set, one script call per entry, answered in order).
 * - Each save is atomic and idempotent: it writes only when the new watermark is strictly
 *   greater than the stored one. Re-sending a save (after a timeout, a reconnect, a retried batch)
 *   can only ever answer `stale`, never regress the state.
 * - Binary-safe: states are sent and read as Buffers, byte for byte; `loadMany` returns fresh
 *   copies that share no memory with the connection's buffers.
 * - During a Redis outage calls wait in ioredis's offline queue while it reconnects with capped
 *   exponential backoff; a call fails only after `maxRetriesPerRequest` reconnect attempts or
 *   `commandTimeoutMs`, and then with `TrustlineError('STATE_UNAVAILABLE', …, retriable)`.
 *   The process never crashes on a connection error (the client always has an `error` listener).
 *
 * Redis Cluster: every key of one agent has one hash tag (src/state/keys.ts), so a per-agent
 * script never spans slots. A cluster-aware variant must split `loadMany`'s `MGET` and
 * `saveMany`'s pipeline by `keySlot` (keys.ts; per node, in parallel), since a multi-key `MGET`
 * across slots is rejected with `CROSSSLOT` and ioredis's cluster pipeline refuses keys of
 * different nodes. This class targets a single node (or a proxy that does the splitting).
 */
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { TrustlineError } from '../shared/errors.ts';
import { agentKeyPattern, auditHeadKey, checkKeyPrefix, stateKey } from './keys.ts';
import { SAVE_AUDIT_HEAD, SAVE_STATE, defineStateCommands, statePipeline, stateTransaction, type StateRedis } from './lua-commands.ts';
import { decodeAuditHead, encodeAuditHead, watermarkOf, type AgentKey, type AuditChainKey, type AuditHeadSave, type SaveEntry, type SaveOutcome, type StateStore, type StoredAuditHead } from './store.ts';

/** Options shared by both ways of constructing a {@link RedisStateStore}. */
type CommonOptions = {
  /** Namespace of every key (`<keyPrefix>:{<tenant>:<agentId>}`); must not contain `{` or `}`. Keep it short. */
  keyPrefix: string;
  /** Called with every connection-level error the client reports (for logging; calls still fail with a TrustlineError). */
  onError?: (err: Error) => void;
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
  private readonly ownsClient: boolean;
  private readonly errorListener: (err: Error) => void;
  private closing: Promise<void> | undefined;

  constructor(options: RedisStateStoreOptions) {
    this.keyPrefix = checkKeyPrefix(options.keyPrefix);
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

  /** Redis key of an agent's state under this store's prefix. */
  keyOf(key: AgentKey): string {
    return stateKey(this.keyPrefix, key);
  }

  async loadMany(keys: readonly AgentKey[]): Promise<(Uint8Array | null)[]> {
    this.assertOpen('loadMany');
    if (keys.length === 0) return [];
    let values: (Buffer | null)[];
    try {
      values = await this.redis.mgetBuffer(keys.map((k) => this.keyOf(k)));
    } catch (err) {
      throw toStateError(err, 'loadMany');
    }
    return values.map((v) => (v === null ? null : Buffer.from(v)));
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

  /**
   * With audit heads, the heads and the states are sent as one MULTI/EXEC (one round trip,
   * atomic: a crash or a Redis restart never keeps states without the head that follows them,
   * which would fork the chain on re-processing). Heads come first in the transaction.
   */
  async saveMany(entries: readonly SaveEntry[], auditHeads: readonly AuditHeadSave[] = []): Promise<SaveOutcome[]> {
    this.assertOpen('saveMany');
    if (entries.length === 0 && auditHeads.length === 0) return [];
    for (const e of entries) checkEntry(e);
    const pipeline = auditHeads.length ? stateTransaction(this.redis) : statePipeline(this.redis);
    for (const a of auditHeads) pipeline.trustlineSaveAuditHead(auditHeadKey(this.keyPrefix, a.chain.topic, a.chain.partition), String(a.head.position), encodeAuditHead(a.head));
    for (const e of entries) pipeline.trustlineSaveState(this.keyOf(e.key), String(e.watermark), asBuffer(e.state));
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      throw toStateError(err, 'saveMany');
    }
    if (replies === null || replies.length !== entries.length + auditHeads.length) {
      throw new TrustlineError('STATE_UNAVAILABLE', `saveMany: expected ${entries.length + auditHeads.length} replies, got ${replies?.length ?? 'none'}`, { retriable: true });
    }
    // Other entries of the batch may have been written: retrying the whole batch is safe (they answer 'stale').
    const failed = replies.find(([err]) => err !== null);
    if (failed) throw toStateError(failed[0], 'saveMany');
    for (let i = 0; i < auditHeads.length; i++) {
      const code = replies[i]![1];
      if (code !== SAVE_AUDIT_HEAD.SAVED && code !== SAVE_AUDIT_HEAD.STALE) {
        throw new TrustlineError(code === SAVE_AUDIT_HEAD.STORED_CORRUPT ? 'STATE_CORRUPT' : 'INTERNAL', `saveMany: save-audit-head script answered ${String(code)}`);
      }
    }
    return replies.slice(auditHeads.length).map(([, code], i) => {
      if (code === SAVE_STATE.SAVED) return 'saved';
      if (code === SAVE_STATE.STALE) return 'stale';
      const key = describeKey(entries[i]!.key);
      if (code === SAVE_STATE.STORED_CORRUPT) {
        throw new TrustlineError('STATE_CORRUPT', `saveMany: the stored value of ${key} is not an encoded state; nothing written`);
      }
      throw new TrustlineError('INTERNAL', `saveMany: save-state script rejected ${key} with code ${String(code)}`);
    });
  }

  /** Deletes every per-agent key under this prefix, found with SCAN (never KEYS) and removed with UNLINK. */
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
