/**
 * Enforcement end to end on the real broker and Redis: the example gateway (127.0.0.1:0) in
 * front of the demo API, the processor in process (unique topics, group and Redis prefix), and
 * the enforcer SDK. A scripted agent that signs its requests (RFC 9421, Ed25519) behaves, has a
 * high-value payment held (202), approved by an operator through a signed record on
 * agent.control, and then allowed (200); then it turns malicious (scope probing of the admin
 * surface and order-id enumeration), and the gateway must start refusing it on trustline's
 * verdict within a bounded number of its requests. The audit topic verifies at the end.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { auditCommand } from '../../src/cli/audit.ts';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { signControl } from '../../src/control/sign-control.ts';
import { createEnforcer, type Enforcer } from '../../src/enforcer/index.ts';
import { startKafkaRunner, type KafkaRunnerHandle } from '../../src/runners/kafka/run.ts';
import type { SigningKey } from '../../src/outputs/sign.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { DEMO_ROUTES } from '../../examples/gateway/demo-api.ts';
import { startGateway, type Gateway } from '../../examples/gateway/gateway.ts';
import { signRequest } from '../../examples/gateway/http-signature.ts';
import { cleanupTest, connectProducer, processorConfig, processorEnv, sleep, uniqueNames } from '../support/processor-harness.ts';
import { describeIntegration, kafkaBrokers, sharedCluster, waitFor } from '../support/services.ts';

/** The gateway must refuse the malicious agent within this many of its malicious requests. */
const REFUSAL_BOUND = 20;
const OP: SigningKey = { kid: 'ops-e2e', alg: 'HS256', secret: 'operator key for the e2e test ........' };

describeIntegration('enforcement end to end: gateway + SDK + processor', () => {
  const names = uniqueNames('e2e');
  const config = processorConfig(
    processorEnv(sharedCluster(), names, {
      TRUSTLINE_PARTITIONS: '1',
      TRUSTLINE_CONTROL_KEYS: `${OP.kid}:${OP.secret}`,
      TRUSTLINE_LOG_LEVEL: 'warn',
    }),
  );
  // Every critical action is escalated, whatever the band (the default spares trusted agents).
  config.escalation.rules = [{ sensitivities: ['critical'], bands: ['trusted', 'watch', 'restrict', 'block'] }];
  const keys = generateKeyPairSync('ed25519');
  const agentId = `agent-${names.prefix}`;
  let processor: KafkaRunnerHandle;
  let enforcer: Enforcer;
  let gateway: Gateway;
  let producer: Producer;

  beforeAll(async () => {
    processor = await startKafkaRunner(config, createLogger({ level: 'warn' }));
    producer = await connectProducer(sharedCluster());
    enforcer = createEnforcer({
      kafka: { brokers: kafkaBrokers(), topics: { trust: names.trust, circuit: names.circuit, escalations: names.escalations }, groupId: `${names.group}-enf` },
      keys: config.signing.keys,
      logger: createLogger({ level: 'silent' }),
      // Critical actions wait for a human in every band but block.
      policy: { bands: { trusted: { critical: 'hold' }, watch: { critical: 'hold' }, restrict: { critical: 'hold' } }, onStale: 'fail-open' },
    });
    await enforcer.ready();
    gateway = await startGateway({
      agents: [
        {
          id: agentId,
          publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          scopes: ['orders:read', 'payments:write'],
          purpose: 'shopping',
        },
      ],
      routes: DEMO_ROUTES,
      enforcer,
      publish: async (key: string, event: AgentRequestEvent) => {
        await producer.send({ topic: names.requests, acks: -1, messages: [{ key, value: JSON.stringify(event) }] });
      },
      holdWaitMs: 15_000,
    });
  }, 120_000);

  afterAll(async () => {
    await gateway?.close();
    await enforcer?.close();
    await producer?.disconnect();
    await processor?.stop('test end');
    await cleanupTest(sharedCluster(), names);
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
    const bytes = Buffer.from(body === undefined ? '' : JSON.stringify(body));
    const headers = signRequest({ method, path, body: bytes, keyId: agentId, privateKey: keys.privateKey });
    const res = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { ...headers, 'user-agent': 'ShopperBot/2.1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: bytes }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
  }

  it('holds a high-value payment, allows it once approved, and refuses the agent soon after it turns malicious', async () => {
    const started = Date.now();
    // 1. Behaves: reads its orders at a human-ish pace.
    for (let i = 0; i < 20; i++) {
      const r = await call('GET', `/orders/${[4711, 1203, 998, 5120, 77][i % 5]! + i * 13}`);
      expect([200, 401]).toContain(r.status); // 401 = challenge while the SDK does not know the agent yet
      await sleep(60);
    }
    await waitFor(() => enforcer.decide({ agentId }).band !== null, 'a TrustUpdate for the agent', 30_000);
    expect(enforcer.decide({ agentId }).band).toBe('trusted');

    // 2. A high-value payment is held until a human decides.
    const held = await call('POST', '/payments', { amount: 5000, currency: 'EUR' });
    expect(held.status).toBe(202);
    const escalationId = held.json.escalationId as string;
    expect(escalationId).toMatch(new RegExp(`^${agentId}:\\d+$`));
    expect((await call('POST', '/payments', { amount: 5000, currency: 'EUR' })).status).toBe(202); // still pending

    // 3. An operator approves it with a signed record on agent.control.
    const approval = signControl({ agentId, action: 'escalation_decision', escalationId, decision: 'approve', issuedAt: Date.now(), operator: 'alice' }, OP);
    await producer.send({ topic: names.control, acks: -1, messages: [{ key: agentId, value: JSON.stringify(approval) }] });
    await waitFor(() => enforcer.escalation({ agentId, actionName: 'payment.create' })?.status === 'approved', 'the approved escalation at the SDK', 30_000);
    const paid = await call('POST', '/payments', { amount: 5000, currency: 'EUR' });
    expect(paid.status).toBe(200);
    expect(paid.json).toEqual({ paid: 5000 });

    // 4. Turns malicious: probes the admin surface without the scope and enumerates order ids.
    const admin = ['/admin/users', '/admin/keys', '/admin/payouts'];
    let refusedAt = -1;
    let refusal: { status: number; json: Record<string, unknown>; headers: Headers } | null = null;
    for (let n = 1; n <= 120; n++) {
      const r = n % 2 === 1 ? await call('GET', admin[(n >> 1) % admin.length]!) : await call('GET', `/orders/${10_000 + n}`);
      // A refusal on trustline's verdict carries the rule that decided it (a missing scope does not).
      if (r.json.rule !== undefined && r.status !== 202) {
        refusedAt = n;
        refusal = r;
        break;
      }
      await sleep(100);
    }
    process.stdout.write(
      `[enforcement-e2e] malicious requests until the first refusal on trustline's verdict: ${refusedAt} (bound ${REFUSAL_BOUND}); ${refusal?.status} ${String(refusal?.json.rule)}; ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    expect(refusedAt).toBeGreaterThan(0);
    expect(refusedAt).toBeLessThanOrEqual(REFUSAL_BOUND);
    expect([401, 403, 429]).toContain(refusal!.status);

    // Keeps refusing: once the circuit opens, with 429 and Retry-After.
    let circuitRefusal: { status: number; headers: Headers } | null = null;
    for (let n = 0; n < 60 && circuitRefusal === null; n++) {
      const r = await call('GET', admin[n % admin.length]!);
      expect(r.status).not.toBe(200);
      if (r.status === 429) circuitRefusal = r;
      await sleep(100);
    }
    expect(circuitRefusal?.headers.get('retry-after')).toBe('30');

    // 5. The audit topic is an intact hash chain.
    await sleep(1_000);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await auditCommand.run(['verify', '--topic', names.audit, '--brokers', kafkaBrokers().join(',')]);
    } finally {
      process.stdout.write = write;
    }
    expect(code, out.join('')).toBe(0);
  }, 240_000);
});
