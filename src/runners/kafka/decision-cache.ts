/**
 * The decision cache for stateless gateways: after a batch's outputs are acknowledged by the
 * broker, the latest signed TrustUpdate and CircuitSignal of each agent in the batch are
 * written to Redis, so an enforcer that cannot hold a Kafka consumer can look an agent up
 * (the SDK's Redis mode, src/enforcer/redis-enforcer.ts).
 *
 * Key: `<prefix>:d:{<tenant>:<agentId>}` (the agent's hash tag, so it lives in the same Redis
 * Cluster slot as its state; outside the agent-state namespace), a hash:
 *
 * | field | value |
 * |---|---|
 * | `t` / `ts` | the TrustUpdate exactly as produced to `agent.trust` (JSON, signed) / its `seq` |
 * | `c` / `cs` / `cst` | the CircuitSignal exactly as produced to `agent.circuit` / its `seq` / its `state` |
 *
 * Guarantees:
 * - A field is replaced only by a record with a strictly greater `seq` (one Lua script per
 *   agent, atomic), so a batch retried after a crash, or a zombie instance, never moves it back.
 * - Written only after the broker acknowledged the records: Redis never holds a record that is
 *   not on the topics. A failed write fails the batch (retriable): it is retried with the batch,
 *   whose outputs repeat byte for byte.
 * - Expiry: `redis.decisionTtlMs` (wall clock), refreshed at every write; an agent whose held
 *   circuit is `forced_open` or `forced_closed` (operator decisions) does not expire.
 * See docs/enforcers.md ("Stateless gateways: Redis mode").
 */
import type { Redis } from 'ioredis';
import type { CircuitSignal, TrustUpdate } from '../../contract/schemas.ts';
import type { BatchOutputs, OutputSink } from '../../outputs/sink.ts';
import { wireJson } from '../../outputs/wire.ts';
import { TrustlineError } from '../../shared/errors.ts';
import { decisionKey } from '../../enforcer/decision-key.ts';

const PUT_DECISION = `
-- KEYS[1] decision key; ARGV: ttlMs, trustSeq|'', trustJson, circuitSeq|'', circuitJson, circuitState
local k = KEYS[1]
local wrote = 0
if ARGV[2] ~= '' and tonumber(ARGV[2]) > tonumber(redis.call('HGET', k, 'ts') or '0') then
  redis.call('HSET', k, 't', ARGV[3], 'ts', ARGV[2])
  wrote = 1
end
if ARGV[4] ~= '' and tonumber(ARGV[4]) > tonumber(redis.call('HGET', k, 'cs') or '0') then
  redis.call('HSET', k, 'c', ARGV[5], 'cs', ARGV[4], 'cst', ARGV[6])
  wrote = 1
end
local st = redis.call('HGET', k, 'cst')
if st == 'forced_open' or st == 'forced_closed' then
  redis.call('PERSIST', k)
else
  redis.call('PEXPIRE', k, ARGV[1])
end
return wrote
`;

type DecisionRedis = Redis & { trustlinePutDecision(key: string, ttlMs: string, ts: string, t: string, cs: string, c: string, cst: string): Promise<number> };

/** Wrap a sink: after `inner.write` resolves, write the batch's latest records per agent to Redis. */
export function withDecisionCache(inner: OutputSink, redis: Redis, options: { keyPrefix: string; ttlMs: number }): OutputSink & { written: number } {
  const r = redis as DecisionRedis;
  if (typeof r.trustlinePutDecision !== 'function') redis.defineCommand('trustlinePutDecision', { numberOfKeys: 1, lua: PUT_DECISION });
  const ttl = String(options.ttlMs);
  const sink = {
    written: 0,
    async write(o: BatchOutputs): Promise<void> {
      await inner.write(o);
      if (o.trust.length === 0 && o.circuit.length === 0) return;
      const latest = new Map<string, { tenant: string; agentId: string; trust?: TrustUpdate; circuit?: CircuitSignal }>();
      const slot = (tenant: string, agentId: string) => {
        const key = decisionKey(options.keyPrefix, tenant, agentId);
        let e = latest.get(key);
        if (e === undefined) latest.set(key, (e = { tenant, agentId }));
        return e;
      };
      for (const t of o.trust) {
        const e = slot(t.tenant, t.agentId);
        if (e.trust === undefined || t.seq > e.trust.seq) e.trust = t;
      }
      for (const c of o.circuit) {
        const e = slot(c.tenant, c.agentId);
        if (e.circuit === undefined || c.seq > e.circuit.seq) e.circuit = c;
      }
      const p = redis.pipeline() as ReturnType<Redis['pipeline']> & { trustlinePutDecision(...args: string[]): unknown };
      for (const [key, e] of latest) {
        p.trustlinePutDecision(
          key,
          ttl,
          e.trust ? String(e.trust.seq) : '',
          e.trust ? wireJson(e.trust) : '',
          e.circuit ? String(e.circuit.seq) : '',
          e.circuit ? wireJson(e.circuit) : '',
          e.circuit ? e.circuit.state : '',
        );
      }
      let results: [Error | null, unknown][] | null;
      try {
        results = await p.exec();
      } catch (cause) {
        throw new TrustlineError('STATE_UNAVAILABLE', `writing the decision cache failed: ${(cause as Error).message}`, { cause, retriable: true });
      }
      const failed = results?.find(([err]) => err !== null);
      if (failed)
        throw new TrustlineError('STATE_UNAVAILABLE', `writing the decision cache failed: ${failed[0]!.message}`, { cause: failed[0], retriable: true });
      sink.written += latest.size;
    },
    close: () => inner.close(),
  };
  return sink;
}
