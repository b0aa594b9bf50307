import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import type { CircuitSignal, TrustUpdate } from '../../src/contract/schemas.ts';
import type { Judgement } from '../../src/core/judge.ts';
import { createEnforcer, type Enforcer } from '../../src/enforcer/index.ts';
import { buildCircuitSignal, buildTrustUpdate, outputKey, type RecordContext } from '../../src/outputs/records.ts';
import { createSigner, type SigningKey } from '../../src/outputs/sign.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { createTopic, deleteTopics, describeIntegration, kafkaBrokers, newKafka, uniqueName, waitFor } from '../support/services.ts';

const KEY: SigningKey = { kid: 'it-1', alg: 'HS256', secret: 'integration-test-signing-secret-123' };
const FORGER: SigningKey = { kid: 'it-1', alg: 'HS256', secret: 'not-the-signing-secret-at-all-1234' };
const signer = createSigner([KEY], KEY.kid);
const forger = createSigner([FORGER], FORGER.kid);
const silent = createLogger({ level: 'silent' });

function judgement(band: Judgement['band'], trust: number, circuit: Judgement['circuit'] = 'closed'): Judgement {
  return { trust, band, components: { identity: 0.8, intent: 0.9, authorization: 1 }, circuit, circuitChange: null, emitTrust: true, offences: 0 };
}

function ctx(agentId: string, seq: number, tenant = 'default'): RecordContext {
  return { tenant, agentId, seq, eventId: `${agentId}-${seq}`, ts: Date.now() - 1_000, model: 'iforest@1', mode: 'enforce' };
}

function update(
  agentId: string,
  seq: number,
  band: Judgement['band'],
  trust: number,
  opts: { tenant?: string; circuit?: Judgement['circuit']; by?: typeof signer } = {},
): TrustUpdate {
  return buildTrustUpdate(ctx(agentId, seq, opts.tenant), judgement(band, trust, opts.circuit), 0.2, [{ code: `${band}_reason` }], 300_000, opts.by ?? signer);
}

function circuit(
  agentId: string,
  seq: number,
  change: { previous: CircuitSignal['previous']; state: CircuitSignal['state']; until?: number; probeBudget?: number },
): CircuitSignal {
  return buildCircuitSignal(ctx(agentId, seq), change, 1, [{ code: 'k_of_n_anomalous' }], signer);
}

describeIntegration('enforcer on a real broker', () => {
  let trustTopic: string;
  let circuitTopic: string;
  let producer: Producer;
  const enforcers: Enforcer[] = [];

  async function publish(topic: string, records: object[]): Promise<void> {
    await producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => {
        const rec = r as { tenant?: string; agentId?: string };
        return { key: outputKey(rec.tenant ?? 'default', rec.agentId ?? 'x'), value: JSON.stringify(r) };
      }),
    });
  }

  function start(): Enforcer {
    const e = createEnforcer({
      // A private (absent) escalations topic: the shared broker may hold other runs' agent.escalations.
      kafka: {
        brokers: kafkaBrokers(),
        groupId: uniqueName('enforcer-it'),
        topics: { trust: trustTopic, circuit: circuitTopic, escalations: uniqueName('enforcer-it-esc') },
      },
      keys: [KEY],
      logger: silent,
    });
    enforcers.push(e);
    return e;
  }

  beforeAll(async () => {
    trustTopic = await createTopic(uniqueName('enforcer-trust'), 3, { 'cleanup.policy': 'compact' });
    circuitTopic = await createTopic(uniqueName('enforcer-circuit'), 3, { 'cleanup.policy': 'compact,delete' });
    producer = newKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    for (const e of enforcers) await e.close();
    await producer?.disconnect();
    await deleteTopics([trustTopic, circuitTopic].filter(Boolean)).catch(() => undefined);
  });

  it('loads the snapshot, keeps the latest authentic record per agent, then follows the topics live', async () => {
    const { sig: _sig, ...unsigned } = update('a4', 1, 'trusted', 0.95);
    await publish(trustTopic, [
      update('a1', 1, 'trusted', 0.9),
      update('a1', 2, 'watch', 0.6),
      update('a1', 3, 'restrict', 0.4),
      update('a2', 1, 'block', 0.1),
      update('a1', 1, 'trusted', 0.95, { tenant: 'acme' }),
      update('a3', 4, 'trusted', 0.9),
      update('a2', 9, 'trusted', 0.99, { by: forger }), // forged: dropped
      unsigned, // unsigned: dropped
      update('a1', 1, 'trusted', 0.9), // replay of an older seq: ignored
    ]);
    await publish(circuitTopic, [circuit('a3', 5, { previous: 'closed', state: 'open', until: Date.now() + 600_000 })]);

    const enforcer = start();
    expect(enforcer.decide({ agentId: 'a1' }).rule).toBe('not_ready');
    await enforcer.ready();

    expect(enforcer.metrics()).toMatchObject({ ready: true, accepted: 7, droppedBadSignature: 1, droppedUnsigned: 1, droppedStaleSeq: 1, agents: 4 });
    expect(enforcer.decide({ agentId: 'a1' })).toMatchObject({
      verdict: 'challenge',
      band: 'restrict',
      trust: 0.4,
      seq: 3,
      rule: 'band',
      stale: false,
      reasons: [{ code: 'restrict_reason' }],
    });
    expect(enforcer.decide({ agentId: 'a1', action: { sensitivity: 'critical' } }).verdict).toBe('deny');
    expect(enforcer.decide({ agentId: 'a2' })).toMatchObject({ verdict: 'deny', band: 'block', seq: 1 });
    expect(enforcer.decide({ tenant: 'acme', agentId: 'a1' })).toMatchObject({ verdict: 'allow', band: 'trusted' });
    expect(enforcer.decide({ agentId: 'a3' })).toMatchObject({ verdict: 'deny', rule: 'circuit_open', circuit: 'open', band: 'trusted' });
    expect(enforcer.decide({ agentId: 'a4' })).toMatchObject({ verdict: 'challenge', rule: 'unknown_agent' });

    // Live: a newer record changes the verdict.
    await publish(trustTopic, [update('a1', 4, 'block', 0.05)]);
    await waitFor(() => enforcer.decide({ agentId: 'a1' }).verdict === 'deny', 'a1 to be denied after a live block update', 30_000);
    expect(enforcer.decide({ agentId: 'a1' })).toMatchObject({ band: 'block', seq: 4 });

    // Live: the circuit goes half-open with one probe.
    await publish(circuitTopic, [circuit('a3', 6, { previous: 'open', state: 'half_open', probeBudget: 1 })]);
    await waitFor(() => enforcer.decide({ agentId: 'a3', action: { sensitivity: 'critical' } }).rule !== 'circuit_open', 'a3 to turn half-open', 30_000);
    // The probe was spent by the waitFor above (trusted band, allowed).
    expect(enforcer.decide({ agentId: 'a3' })).toMatchObject({ verdict: 'deny', rule: 'probes_exhausted', circuit: 'half_open' });

    // Live: a forged record is dropped and changes nothing.
    const before = enforcer.metrics().droppedBadSignature;
    await publish(trustTopic, [update('a1', 5, 'trusted', 0.99, { by: forger })]);
    await waitFor(() => enforcer.metrics().droppedBadSignature === before + 1, 'the forged live record to be dropped', 30_000);
    expect(enforcer.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', band: 'block', seq: 4 });
  });

  it('every instance reads every partition (own consumer group), and ready() resolves on empty topics', async () => {
    const other = start();
    await other.ready();
    expect(other.metrics().agents).toBe(4);
    expect(other.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', seq: 4 });
    expect(other.decide({ tenant: 'acme', agentId: 'a1' }).verdict).toBe('allow');

    const emptyTrust = await createTopic(uniqueName('enforcer-empty-trust'), 2, { 'cleanup.policy': 'compact' });
    const emptyCircuit = await createTopic(uniqueName('enforcer-empty-circuit'), 2, { 'cleanup.policy': 'compact,delete' });
    try {
      const empty = createEnforcer({
        kafka: { brokers: kafkaBrokers(), topics: { trust: emptyTrust, circuit: emptyCircuit, escalations: uniqueName('enforcer-empty-esc') } },
        keys: [KEY],
        logger: silent,
      });
      enforcers.push(empty);
      await empty.ready();
      expect(empty.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'challenge', rule: 'unknown_agent', stale: false });
      await empty.close();
      await empty.close(); // safe twice
    } finally {
      await deleteTopics([emptyTrust, emptyCircuit]).catch(() => undefined);
    }
  });

  it('ready() rejects when a topic does not exist', async () => {
    const e = createEnforcer({
      kafka: { brokers: kafkaBrokers(), topics: { trust: uniqueName('missing-trust'), circuit: circuitTopic } },
      keys: [KEY],
      logger: silent,
    });
    enforcers.push(e);
    await expect(e.ready()).rejects.toThrow(/enforcer could not start: topic missing-trust-\S+ does not exist/);
  });
});
