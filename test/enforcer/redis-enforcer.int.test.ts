/**
 * Stateless gateways on the real broker and Redis: the processor (in process, unique topics,
 * group and Redis prefix) writes each agent's latest signed records under its decision key;
 * an enforcer in Redis mode and one in Kafka mode, fed by the same stream, must give the same
 * verdicts (verdict, rule, band, circuit, seq, trust, stale) for every agent and sensitivity —
 * fresh, and again once the records are past their ttl (fail-closed). Redis mode verifies like
 * the Kafka mode: a forged record is dropped, an older record put back is ignored.
 */
import { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AgentRequestEvent, Sensitivity, TrustUpdate } from '../../src/contract/schemas.ts';
import { signControl } from '../../src/control/sign-control.ts';
import {
  createEnforcer,
  createRedisEnforcer,
  decisionKey,
  type Decision,
  type DecisionQuery,
  type Enforcer,
  type EnforcerPolicyInput,
  type RedisEnforcer,
} from '../../src/enforcer/index.ts';
import type { SigningKey } from '../../src/outputs/sign.ts';
import { withDecisionCache } from '../../src/runners/kafka/decision-cache.ts';
import { startKafkaRunner, type KafkaRunnerHandle } from '../../src/runners/kafka/run.ts';
import { buildCircuitSignal, buildTrustUpdate } from '../../src/outputs/records.ts';
import { createSigner } from '../../src/outputs/sign.ts';
import type { BatchOutputs } from '../../src/outputs/sink.ts';
import { createLogger } from '../../src/shared/logger.ts';
import {
  cleanupTest,
  connectProducer,
  PrivateRedis,
  processorConfig,
  processorEnv,
  readTopic,
  uniqueNames,
  waitForAllCommitted,
} from '../support/processor-harness.ts';
import { describeIntegration, kafkaBrokers, redisUrl, waitFor, sharedCluster } from '../support/services.ts';

const OP: SigningKey = { kid: 'ops-rmode', alg: 'HS256', secret: 'operator key for the redis-mode test ...' };
const SENSITIVITIES: Sensitivity[] = ['low', 'medium', 'high', 'critical'];
const POLICY: EnforcerPolicyInput = { onStale: 'fail-closed', feedTimeoutMs: 3_600_000 };

describeIntegration('stateless gateways: Redis mode gives the verdicts of the Kafka mode', () => {
  const names = uniqueNames('rmode');
  const config = processorConfig(
    processorEnv(sharedCluster(), names, {
      TRUSTLINE_PARTITIONS: '2',
      TRUSTLINE_CONTROL_KEYS: `${OP.kid}:${OP.secret}`,
      TRUSTLINE_LOG_LEVEL: 'warn',
      TRUSTLINE_REDIS_DECISION_TTL_MS: '600000',
    }),
  );
  const agents = Array.from({ length: 12 }, (_, i) => `rm-${names.prefix}-${i}`);
  const malicious = new Set(agents.slice(0, 4));
  const forcedOpen = agents[10]!;
  const allowlisted = agents[11]!;
  const clock: { frozen: number | null } = { frozen: null };
  const now = (): number => clock.frozen ?? Date.now();
  let processor: KafkaRunnerHandle;
  let producer: Producer;
  let observer: Enforcer;
  let kafkaMode: Enforcer;
  let redisMode: RedisEnforcer;
  let redis: Redis;

  beforeAll(async () => {
    processor = await startKafkaRunner(config, createLogger({ level: 'warn' }));
    producer = await connectProducer(sharedCluster());
    redis = new Redis(redisUrl());
  }, 120_000);

  afterAll(async () => {
    await observer?.close();
    await kafkaMode?.close();
    await redisMode?.close();
    await producer?.disconnect();
    await processor?.stop('test end');
    // The decision keys live outside the agent-state namespace that cleanupTest clears.
    if (redis) {
      const keys = await redis.keys(`${names.prefix}:d:{*`);
      if (keys.length) await redis.unlink(...keys);
      await redis.quit();
    }
    await cleanupTest(sharedCluster(), names);
  });

  function event(agentId: string, n: number, ts: number): AgentRequestEvent {
    const bad = malicious.has(agentId) && n >= 10;
    return {
      v: 1,
      eventId: `${agentId}-${n}`,
      ts,
      agent: { id: agentId, auth: { method: 'oauth2', verified: true, scopes: ['orders:read'] }, userAgent: 'bot/1' },
      request: bad
        ? {
            method: 'GET',
            route: n % 2 ? '/admin/keys' : '/orders/{id}',
            path: n % 2 ? '/admin/keys' : `/orders/${90_000 + n}`,
            status: n % 2 ? 403 : 404,
            latencyMs: 5,
            ip: '203.0.113.9',
          }
        : { method: 'GET', route: '/orders/{id}', path: `/orders/${4711 + (n % 5)}`, status: 200, latencyMs: 20, ip: '198.51.100.7' },
      action: bad && n % 2 ? { requiredScope: 'admin' } : { name: 'orders.read', requiredScope: 'orders:read' },
    };
  }

  function view(d: Decision) {
    return { verdict: d.verdict, rule: d.rule, band: d.band, circuit: d.circuit, seq: d.seq, trust: d.trust, stale: d.stale };
  }

  async function compare(label: string): Promise<number> {
    let compared = 0;
    for (const agentId of [...agents, 'nobody-at-all']) {
      for (const sensitivity of SENSITIVITIES) {
        const q: DecisionQuery = { agentId, action: { name: 'orders.read', sensitivity } };
        const fromRedis = await redisMode.decide(q);
        const fromKafka = kafkaMode.decide(q);
        expect(view(fromRedis), `${label}: ${agentId} ${sensitivity}`).toEqual(view(fromKafka));
        compared++;
      }
    }
    return compared;
  }

  it('writes a decision key per agent and both modes decide alike; Redis mode verifies what it reads', async () => {
    // The stream: 40 events per agent (malicious ones probe the admin surface from the 10th on), then two operator controls.
    const base = Date.now() - 60_000;
    const messages = [];
    for (let n = 0; n < 40; n++) for (const a of agents) messages.push({ key: a, value: JSON.stringify(event(a, n, base + n * 1000)) });
    await producer.send({ topic: names.requests, acks: -1, messages });
    for (const [agentId, action, until] of [
      [forcedOpen, 'force_open', undefined],
      [allowlisted, 'allowlist', Date.now() + 3_600_000],
    ] as const) {
      const c = signControl({ agentId, action, issuedAt: Date.now(), operator: 'alice', ...(until ? { until } : {}) }, OP);
      await producer.send({ topic: names.control, acks: -1, messages: [{ key: agentId, value: JSON.stringify(c) }] });
    }

    // An observer follows the topics for the waits (its decisions may use half-open probes); the enforcers compared decide nothing before the comparison.
    const kafkaOptions = (group: string) => ({
      kafka: {
        brokers: kafkaBrokers(),
        topics: { trust: names.trust, circuit: names.circuit, escalations: names.escalations },
        groupId: `${names.group}-${group}`,
      },
      keys: config.signing.keys,
      policy: POLICY,
      now,
      logger: createLogger({ level: 'silent' }),
    });
    observer = createEnforcer(kafkaOptions('obs'));
    await observer.ready();
    await waitFor(
      () => observer.decide({ agentId: forcedOpen }).circuit === 'forced_open' && observer.decide({ agentId: allowlisted }).circuit === 'forced_closed',
      'the operator controls at the Kafka enforcer',
      60_000,
    );
    await waitForAllCommitted(sharedCluster(), names.group, names.requests, 60_000);
    // Everything is committed, so every output is on the topics and in Redis: wait until the observer holds the newest record of each agent.
    const newest = async (a: string): Promise<number> => {
      const [ts, cs] = await redis.hmget(decisionKey(names.prefix, 'default', a), 'ts', 'cs');
      return Math.max(Number(ts ?? 0), Number(cs ?? 0));
    };
    await waitFor(
      async () => (await Promise.all(agents.map(async (a) => observer.decide({ agentId: a }).seq === (await newest(a))))).every(Boolean),
      "every agent's newest record at the Kafka enforcer",
      30_000,
    );
    const rules = new Set(agents.map((a) => observer.decide({ agentId: a, action: { sensitivity: 'high' } }).rule));
    expect(rules.has('circuit_forced_open') && rules.has('circuit_forced_closed') && rules.has('band')).toBe(true);
    expect(agents.filter((a) => malicious.has(a)).every((a) => observer.decide({ agentId: a }).band !== 'trusted')).toBe(true);
    kafkaMode = createEnforcer(kafkaOptions('kmode'));
    await kafkaMode.ready();

    // The decision keys: one per agent, with a TTL (none while an operator's forced state is held).
    for (const a of agents) {
      const key = decisionKey(names.prefix, 'default', a);
      const [t, pttl] = await Promise.all([redis.hget(key, 't'), redis.pttl(key)]);
      expect(t, a).not.toBeNull();
      expect(JSON.parse(t!).seq).toBe(Number(await redis.hget(key, 'ts')));
      if (a === forcedOpen || a === allowlisted) expect(pttl, a).toBe(-1);
      else expect(pttl, a).toBeGreaterThan(500_000);
    }

    redisMode = createRedisEnforcer({
      redis: { url: redisUrl(), keyPrefix: names.prefix },
      keys: config.signing.keys,
      policy: POLICY,
      now,
      logger: createLogger({ level: 'silent' }),
      refreshMs: 0,
    });
    await redisMode.ready();

    // 1. Fresh: the same verdicts for every agent and sensitivity (bands and circuits vary over the stream).
    clock.frozen = Date.now();
    const n1 = await compare('fresh');

    // 2. Past every record's ttl (5 min of event time): both fail closed, operator states still hold.
    clock.frozen = Date.now() + 10 * 60_000;
    const n2 = await compare('stale');
    expect(kafkaMode.decide({ agentId: agents[5]! }).rule).toBe('stale_record');
    process.stdout.write(`[redis-mode] ${n1 + n2} decisions compared, identical; verdicts fresh: ${JSON.stringify(kafkaMode.metrics().decisions)}\n`);
    clock.frozen = Date.now();

    // 3. Verification in Redis mode: a forged record is dropped; an older authentic record put back is ignored.
    const victim = agents[2]!; // a malicious agent: several TrustUpdates on the topic
    const key = decisionKey(names.prefix, 'default', victim);
    const held = await redisMode.decide({ agentId: victim });
    const current = JSON.parse((await redis.hget(key, 't'))!) as TrustUpdate;
    const older = (await readTopic(sharedCluster(), names.trust, 30_000))
      .map((r) => JSON.parse(r.value!.toString()) as TrustUpdate)
      .filter((r) => r.agentId === victim && r.seq < current.seq);
    expect(older.length).toBeGreaterThan(0);
    const before = redisMode.metrics();
    await redis.hset(key, 't', JSON.stringify({ ...current, seq: current.seq + 100, band: 'trusted', trust: 1 })); // forged: the signature no longer matches
    expect(view(await redisMode.decide({ agentId: victim }))).toEqual(view(held));
    await redis.hset(key, 't', JSON.stringify(older[0])); // replayed: authentic but older
    expect(view(await redisMode.decide({ agentId: victim }))).toEqual(view(held));
    const after = redisMode.metrics();
    expect(after.droppedBadSignature - before.droppedBadSignature).toBe(1);
    expect(after.droppedStaleSeq - before.droppedStaleSeq).toBe(1);
    expect(after.lookupErrors).toBe(0);
    await redis.hset(key, 't', JSON.stringify(current));
  }, 300_000);

  it('the writer never moves a field back to an older seq, and keeps forced states without expiry', async () => {
    const signer = createSigner(config.signing.keys, config.signing.activeKid);
    let inner = 0;
    const sink = withDecisionCache({ write: async () => void inner++, close: async () => undefined }, redis, { keyPrefix: names.prefix, ttlMs: 60_000 });
    const j = {
      trust: 0.7,
      band: 'watch' as const,
      components: { identity: 0.8, intent: 0.7, authorization: 1 },
      circuit: 'closed' as const,
      circuitChange: null,
      emitTrust: true,
      offences: 0,
    };
    const ctx = (seq: number) => ({
      tenant: 'default',
      agentId: 'writer-agent',
      seq,
      eventId: `w-${seq}`,
      ts: Date.now(),
      model: 'm@1',
      mode: 'enforce' as const,
    });
    const out = (trust: number[], circuit: [number, 'open' | 'forced_open' | 'closed'][]): BatchOutputs => ({
      trust: trust.map((seq) => buildTrustUpdate(ctx(seq), j, 0.2, [], 300_000, signer)),
      circuit: circuit.map(([seq, state]) => buildCircuitSignal(ctx(seq), { previous: 'closed', state }, 1, [], signer)),
      dlq: [],
      scores: [],
    });
    const key = decisionKey(names.prefix, 'default', 'writer-agent');
    await sink.write(out([3, 5, 4], [[4, 'open']])); // the newest of a batch wins
    expect(await redis.hmget(key, 'ts', 'cs', 'cst')).toEqual(['5', '4', 'open']);
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);
    await sink.write(out([2], [[1, 'closed']])); // a retried older batch changes nothing
    expect(await redis.hmget(key, 'ts', 'cs', 'cst')).toEqual(['5', '4', 'open']);
    await sink.write(out([], [[6, 'forced_open']]));
    expect(await redis.hmget(key, 'ts', 'cs', 'cst')).toEqual(['5', '6', 'forced_open']);
    expect(await redis.pttl(key)).toBe(-1);
    await sink.write(out([7], [[7, 'closed']]));
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);
    expect(JSON.parse((await redis.hget(key, 't'))!).seq).toBe(7);
    expect(inner).toBe(4);
    expect(sink.written).toBe(4);
  });

  it('a Redis that stops answering makes decisions stale after feedTimeoutMs: fail-closed denies, fail-open allows, a held forced-open circuit keeps denying', async () => {
    const priv = await PrivateRedis.start();
    const own = new Redis(priv.url);
    const enforcers: RedisEnforcer[] = [];
    try {
      const signer = createSigner(config.signing.keys, config.signing.activeKid);
      const sink = withDecisionCache({ write: async () => undefined, close: async () => undefined }, own, { keyPrefix: 'outage', ttlMs: 600_000 });
      const t0 = Date.now();
      const j = {
        trust: 0.9,
        band: 'trusted' as const,
        components: { identity: 0.8, intent: 0.9, authorization: 1 },
        circuit: 'closed' as const,
        circuitChange: null,
        emitTrust: true,
        offences: 0,
      };
      const ctx = (agentId: string, seq: number) => ({ tenant: 'default', agentId, seq, eventId: `o-${seq}`, ts: t0, model: 'm@1', mode: 'enforce' as const });
      await sink.write({
        trust: [buildTrustUpdate(ctx('good', 1), j, 0.1, [], 3_600_000, signer), buildTrustUpdate(ctx('forced', 1), j, 0.1, [], 3_600_000, signer)],
        circuit: [buildCircuitSignal(ctx('forced', 2), { previous: 'closed', state: 'forced_open' }, 0, [], signer)],
        dlq: [],
        scores: [],
      });
      const clock = { t: t0 };
      const make = (onStale: 'fail-open' | 'fail-closed') => {
        const e = createRedisEnforcer({
          redis: { url: priv.url, keyPrefix: 'outage' },
          keys: config.signing.keys,
          policy: { onStale, feedTimeoutMs: 30_000 },
          now: () => clock.t,
          logger: createLogger({ level: 'silent' }),
          refreshMs: 0,
          lookupTimeoutMs: 200,
        });
        enforcers.push(e);
        return e;
      };
      const closed = make('fail-closed');
      const open = make('fail-open');
      await Promise.all([closed.ready(), open.ready()]);
      for (const e of [closed, open]) {
        expect(await e.decide({ agentId: 'good' })).toMatchObject({ verdict: 'allow', rule: 'band', stale: false });
        expect(await e.decide({ agentId: 'forced' })).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open' });
      }
      await priv.crash();
      clock.t += 10_000; // lookups fail, but the feed is not stale yet: decided from what is held
      expect(await closed.decide({ agentId: 'good' })).toMatchObject({ verdict: 'allow', rule: 'band', stale: false });
      clock.t += 25_000; // 35 s without an answer > feedTimeoutMs
      expect(await closed.decide({ agentId: 'good' })).toMatchObject({ verdict: 'deny', rule: 'stale_feed', stale: true });
      expect(await open.decide({ agentId: 'good' })).toMatchObject({ verdict: 'allow', rule: 'stale_feed', stale: true });
      expect(await open.decide({ agentId: 'forced' })).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open' });
      expect(await closed.decide({ agentId: 'never-seen' })).toMatchObject({ verdict: 'deny', rule: 'stale_feed' });
      expect(closed.metrics().lookupErrors).toBeGreaterThanOrEqual(3);
      // Back: the next answered lookup makes the feed fresh again.
      await priv.launch();
      await waitFor(async () => (await closed.decide({ agentId: 'good' })).rule === 'band', 'the enforcer to read from Redis again', 30_000);
    } finally {
      for (const e of enforcers) await e.close();
      own.disconnect();
      await priv.destroy();
    }
  }, 120_000);
});
