/**
 * The Redis enforcer — for stateless gateways that cannot hold a Kafka consumer (serverless
 * functions, short-lived workers, gateways with thousands of instances). It looks an agent up
 * in Redis, where the processor keeps the agent's latest signed TrustUpdate and CircuitSignal
 * (src/enforcer/decision-key.ts), and decides with the same core as the Kafka enforcer.
 *
 * Guarantees (the same verification as the Kafka mode):
 * - Records are verified against the key ring (signature), must have a strictly newer `seq`
 *   than the one this instance holds (a record moved back in Redis is ignored), and are
 *   subject to their `ttlMs`; fail-open / fail-closed applies to stale records and to a Redis
 *   that does not answer for `policy.feedTimeoutMs`.
 * - `ioredis` is an optional peer dependency, loaded only when this mode is created with a
 *   `url` (an enforcing-only project without Redis mode never loads it); or pass your own client.
 * - A lookup that fails or takes longer than `lookupTimeoutMs` does not fail the decision: it
 *   is made from what this instance holds (and goes stale as above).
 *
 * Not followed in this mode: escalations (`hold` verdicts are not released by an approval) —
 * use the Kafka mode where humans approve. See docs/enforcers.md ("Stateless gateways").
 */
import type { Redis as IORedis } from 'ioredis';
import { TrustlineError } from '../shared/errors.ts';
import { createEnforcerLogger } from './logger.ts';
import { createEnforcerCore, type EnforcerCore, type EnforcerCoreOptions } from './core.ts';
import { DECISION_FIELDS, decisionKey } from './decision-key.ts';
import type { EnforcerPolicy } from './policy.ts';
import type { Decision, DecisionQuery, EnforcerMetrics } from './types.ts';

/** The part of a Redis client the enforcer uses (an ioredis `Redis` or `Cluster` fits). */
export type RedisLookupClient = {
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  ping(): Promise<unknown>;
};

/** Options of {@link createRedisEnforcer}. */
export type RedisEnforcerOptions = EnforcerCoreOptions & {
  redis: {
    /** `redis://…` / `rediss://…`: the enforcer creates an ioredis client (optional peer dependency). */
    url?: string;
    /** Or your own client (then ioredis is not loaded by the SDK). */
    client?: RedisLookupClient;
    /** The processor's `redis.keyPrefix` (default `tl`). */
    keyPrefix?: string;
  };
  /** Re-read an agent from Redis when this instance's copy is older than this, ms (default 1000; 0 = every decision). */
  refreshMs?: number;
  /** A lookup slower than this is abandoned and the decision made from what is held, ms (default 250). */
  lookupTimeoutMs?: number;
};

export type RedisEnforcer = {
  /** Connects (and loads ioredis when given a url); decisions before it are `not_ready`. Rejects when Redis does not answer. */
  ready(): Promise<void>;
  /** Look the agent up in Redis when its copy is older than `refreshMs`, then decide. Never rejects. */
  decide(query: DecisionQuery): Promise<Decision>;
  /** Decide from this instance's copy only (no I/O), like the Kafka enforcer's `decide()`. */
  decideCached(query: DecisionQuery): Decision;
  metrics(): EnforcerMetrics & { lookups: number; lookupErrors: number };
  /** The core's metrics in the Prometheus text exposition format (see src/enforcer/prometheus.ts). */
  prometheus(options?: { prefix?: string; labels?: Record<string, string> }): string;
  readonly policy: EnforcerPolicy;
  setContextPolicy: EnforcerCore['setContextPolicy'];
  /** Disconnect a client the enforcer created (yours stays open). Safe to call twice. */
  close(): Promise<void>;
};

/** Create a Redis-backed enforcer. Call `ready()` before serving (or accept `not_ready` decisions). */
export function createRedisEnforcer(options: RedisEnforcerOptions): RedisEnforcer {
  const log = options.logger ?? createEnforcerLogger({ name: 'trustline-enforcer' });
  const core = createEnforcerCore({ ...options, logger: log });
  const prefix = options.redis.keyPrefix ?? 'tl';
  if (options.redis.client === undefined && options.redis.url === undefined)
    throw new TrustlineError('CONFIG_INVALID', 'redis enforcer: give redis.url or redis.client');
  const refreshMs = options.refreshMs ?? 1000;
  const timeoutMs = options.lookupTimeoutMs ?? 250;
  // eslint-disable-next-line no-restricted-properties -- the enforcer's clock (see src/enforcer/core.ts)
  const now = options.now ?? Date.now;
  let client: RedisLookupClient | null = options.redis.client ?? null;
  const owned = options.redis.client === undefined;
  /** tenant → agentId → when this instance last read the agent's key. */
  const fetchedAt = new Map<string, Map<string, number>>();
  const inflight = new Map<string, Promise<void>>();
  let lookups = 0;
  let lookupErrors = 0;
  let lastErrorLog = Number.NEGATIVE_INFINITY;

  let readyPromise: Promise<void> | null = null;
  let closed = false;
  /** Stop an owned ioredis client for good (no reconnection loop keeps the process alive). */
  function dropOwned(): void {
    if (owned && client !== null) (client as unknown as { disconnect(): void }).disconnect();
    if (owned) client = null;
  }
  function ready(): Promise<void> {
    if (closed) return Promise.reject(new TrustlineError('CONFIG_INVALID', 'redis enforcer is closed'));
    readyPromise ??= (async () => {
      if (client === null) {
        let mod: { Redis: typeof IORedis };
        try {
          mod = await import('ioredis');
        } catch (cause) {
          throw new TrustlineError(
            'CONFIG_INVALID',
            'the Redis mode of the enforcer needs the optional peer dependency ioredis (npm install ioredis), or pass redis.client',
            { cause },
          );
        }
        client = new mod.Redis(options.redis.url!, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          commandTimeout: timeoutMs,
          connectTimeout: 5_000,
        }) as unknown as RedisLookupClient;
        (client as unknown as { on(e: string, f: (err: Error) => void): void }).on('error', (err) => {
          if (now() - lastErrorLog >= 5_000) {
            lastErrorLog = now();
            log.warn({ err: err.message }, 'redis enforcer: connection error; decisions use what is held');
          }
        });
        await (client as unknown as { connect(): Promise<void> }).connect();
      }
      await client!.ping();
      core.markReady();
    })().catch((err: unknown) => {
      // Let a later ready() try again from scratch.
      dropOwned();
      readyPromise = null;
      throw err instanceof TrustlineError
        ? err
        : new TrustlineError('STATE_UNAVAILABLE', `redis enforcer could not reach Redis: ${(err as Error).message}`, { cause: err });
    });
    return readyPromise;
  }

  async function lookup(tenant: string, agentId: string): Promise<void> {
    const key = decisionKey(prefix, tenant, agentId);
    let p = inflight.get(key);
    if (p === undefined) {
      p = (async () => {
        lookups++;
        let timer: NodeJS.Timeout | undefined;
        try {
          const reply = await Promise.race([
            client!.hmget(key, DECISION_FIELDS.trust, DECISION_FIELDS.circuit),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`lookup took more than ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
          core.feedAlive();
          if (reply[0] !== null && reply[0] !== undefined) core.ingest('trust', reply[0]);
          if (reply[1] !== null && reply[1] !== undefined) core.ingest('circuit', reply[1]);
          let byAgent = fetchedAt.get(tenant);
          if (byAgent === undefined) fetchedAt.set(tenant, (byAgent = new Map()));
          byAgent.set(agentId, now());
        } catch (err) {
          lookupErrors++;
          if (now() - lastErrorLog >= 5_000) {
            lastErrorLog = now();
            log.warn({ err: (err as Error).message, agentId, tenant }, 'redis enforcer: lookup failed; deciding from what is held');
          }
        } finally {
          clearTimeout(timer);
          inflight.delete(key);
        }
      })();
      inflight.set(key, p);
    }
    return p;
  }

  return {
    ready,
    async decide(query) {
      if (core.isReady && client !== null) {
        const tenant = query.tenant ?? 'default';
        const at = fetchedAt.get(tenant)?.get(query.agentId);
        const t = now();
        // Also when the clock stepped back past the last read.
        if (at === undefined || t - at >= refreshMs || t < at) await lookup(tenant, query.agentId);
      }
      return core.decide(query);
    },
    decideCached: core.decide,
    metrics: () => ({ ...core.metrics(), lookups, lookupErrors }),
    prometheus: (o) => core.prometheus(o),
    policy: core.policy,
    setContextPolicy: core.setContextPolicy,
    async close() {
      closed = true;
      await readyPromise?.catch(() => undefined);
      if (owned) dropOwned();
      client = null;
    },
  };
}
