/**
 * Operator control security on the real broker and Redis: unsigned and badly signed control
 * records — on agent.control (caught by the relay) and injected straight into agent.requests
 * (caught by the pipeline) — are dead-lettered with a reason and change nothing (the agent's
 * stored state bytes are unchanged, no circuit record appears); a properly signed one is
 * applied and reaches the SDK. The SDK drops a forged update and a replayed older seq and
 * counts them.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { fromDlqKafkaMessage } from '../../../src/contract/dlq.ts';
import type { TrustUpdate } from '../../../src/contract/schemas.ts';
import { signControl } from '../../../src/control/sign-control.ts';
import { createEnforcer, type Enforcer } from '../../../src/enforcer/index.ts';
import { startKafkaRunner, type KafkaRunnerHandle } from '../../../src/runners/kafka/run.ts';
import { createSigner, type SigningKey } from '../../../src/outputs/sign.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { DEFAULT_STATE_BUCKETS, stateLocation } from '../../../src/state/keys.ts';
import { cleanupTest, connectProducer, processorConfig, processorEnv, readTopic, uniqueNames } from '../../support/processor-harness.ts';
import { describeIntegration, kafkaBrokers, sharedCluster, waitFor, withRedis } from '../../support/services.ts';
import { ev } from '../../support/events.ts';

const OP: SigningKey = { kid: 'ops-sec', alg: 'HS256', secret: 'operator key for the security test ...' };
const WRONG: SigningKey = { kid: 'ops-sec', alg: 'HS256', secret: 'a guessed operator key, same kid .....' };

describeIntegration('operator control: unsigned, forged and injected records change nothing', () => {
  const names = uniqueNames('ctlsec');
  const config = processorConfig(
    processorEnv(sharedCluster(), names, { TRUSTLINE_PARTITIONS: '1', TRUSTLINE_CONTROL_KEYS: `${OP.kid}:${OP.secret}`, TRUSTLINE_LOG_LEVEL: 'warn' }),
  );
  const agentId = `agent-${names.prefix}`;
  let processor: KafkaRunnerHandle;
  let producer: Producer;
  let enforcer: Enforcer;

  beforeAll(async () => {
    processor = await startKafkaRunner(config, createLogger({ level: 'silent' }));
    producer = await connectProducer(sharedCluster());
  }, 120_000);

  afterAll(async () => {
    await enforcer?.close();
    await producer?.disconnect();
    await processor?.stop('test end');
    await cleanupTest(sharedCluster(), names);
  });

  const stateDigest = (): Promise<string> =>
    withRedis(async (r) => {
      const loc = stateLocation(names.prefix, { tenant: 'default', agentId }, DEFAULT_STATE_BUCKETS);
      const v = await r.hgetBuffer(loc.key, loc.field);
      return v === null ? 'none' : createHash('sha256').update(v).digest('hex');
    });
  const send = (topic: string, value: object): Promise<unknown> =>
    producer.send({ topic, acks: -1, messages: [{ key: agentId, value: JSON.stringify(value) }] });

  it('dead-letters them with a reason, leaves the state alone, applies a signed one; the SDK drops forged and replayed records', async () => {
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 5; i++) await send(names.requests, ev({ eventId: `e-${i}`, ts: t0 + i * 1000, agent: { id: agentId } }));
    await waitFor(async () => (await readTopic(sharedCluster(), names.trust)).length > 0, 'a trust update', 60_000);
    await waitFor(async () => (await stateDigest()) !== 'none', 'the saved state', 30_000);
    const before = await stateDigest();

    const { sig: _sig, ...unsigned } = signControl({ agentId, action: 'force_close', issuedAt: Date.now(), operator: 'mallory' }, OP);
    const forged = signControl({ agentId, action: 'force_close', issuedAt: Date.now(), operator: 'mallory' }, WRONG);
    const altered = { ...signControl({ agentId: 'someone-else', action: 'force_close', issuedAt: Date.now(), operator: 'alice' }, OP), agentId };
    await send(names.control, unsigned);
    await send(names.control, forged);
    await send(names.requests, unsigned); // injected past the relay
    await send(names.requests, altered);
    await waitFor(async () => (await readTopic(sharedCluster(), names.dlq)).length >= 4, 'four dead letters', 60_000);
    const dead = (await readTopic(sharedCluster(), names.dlq)).map((m) => fromDlqKafkaMessage(m));
    expect(dead.map((d) => [d.source.topic, d.code]).sort()).toEqual(
      [
        [names.control, 'unsigned'],
        [names.control, 'bad_signature'],
        [names.requests, 'unsigned'],
        [names.requests, 'bad_signature'],
      ].sort(),
    );
    expect(Buffer.from(dead.find((d) => d.source.topic === names.requests && d.code === 'bad_signature')!.payloadBase64, 'base64').toString()).toBe(
      JSON.stringify(altered),
    );
    expect(await stateDigest()).toBe(before);
    expect(await readTopic(sharedCluster(), names.circuit)).toEqual([]);

    // A signed one goes through the relay and is applied in the agent's stream.
    await send(names.control, signControl({ agentId, action: 'force_open', issuedAt: Date.now(), operator: 'alice' }, OP));
    await waitFor(async () => (await readTopic(sharedCluster(), names.circuit)).length === 1, 'the forced_open circuit signal', 60_000);
    const signal = JSON.parse((await readTopic(sharedCluster(), names.circuit))[0]!.value!.toString()) as { state: string; reasons: { code: string }[] };
    expect(signal).toMatchObject({ state: 'forced_open', reasons: [{ code: 'operator_force_open' }] });
    expect(await stateDigest()).not.toBe(before);
    // The agent's next event announces the forced circuit in a newer TrustUpdate.
    await send(names.requests, ev({ eventId: 'e-after', ts: Date.now(), agent: { id: agentId } }));
    await waitFor(async () => (await readTopic(sharedCluster(), names.trust)).length >= 2, 'a second trust update', 60_000);

    // The SDK: a forged update (wrong key) and a replayed older record are dropped and counted.
    enforcer = createEnforcer({
      kafka: { brokers: kafkaBrokers(), topics: { trust: names.trust, circuit: names.circuit, escalations: names.escalations } },
      keys: config.signing.keys,
      logger: createLogger({ level: 'silent' }),
    });
    await enforcer.ready();
    expect(enforcer.decide({ agentId })).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open' });
    const first = JSON.parse((await readTopic(sharedCluster(), names.trust))[0]!.value!.toString()) as TrustUpdate;
    const { sig: _s, ...body } = { ...first, seq: first.seq + 1000, band: 'trusted' as const, circuit: 'forced_closed' as const };
    const forgedUpdate = {
      ...body,
      sig: createSigner([{ kid: config.signing.activeKid, alg: 'HS256', secret: 'attacker secret, 32 bytes or more....' }], config.signing.activeKid).sign(
        body,
      ),
    };
    const circuitNow = JSON.parse((await readTopic(sharedCluster(), names.circuit))[0]!.value!.toString()) as object;
    await producer.send({ topic: names.trust, acks: -1, messages: [{ key: agentId, value: JSON.stringify(forgedUpdate) }] });
    await producer.send({ topic: names.circuit, acks: -1, messages: [{ key: agentId, value: JSON.stringify({ ...circuitNow }) }] }); // identical re-delivery
    await producer.send({ topic: names.trust, acks: -1, messages: [{ key: agentId, value: JSON.stringify(first) }] }); // replay of an old seq
    await waitFor(
      () => enforcer.metrics().droppedBadSignature >= 1 && enforcer.metrics().duplicates >= 1 && enforcer.metrics().droppedStaleSeq >= 1,
      'the forged, re-delivered and replayed records at the SDK',
      30_000,
    );
    expect(enforcer.metrics()).toMatchObject({ droppedBadSignature: 1, droppedStaleSeq: 1, duplicates: 1 });
    expect(enforcer.decide({ agentId })).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open' });
  }, 180_000);
});
