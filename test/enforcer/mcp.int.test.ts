/**
 * MCP enforcement end to end on the real broker and Redis: the example MCP server
 * (examples/mcp, official TypeScript MCP SDK) with a client from the same SDK, the processor in
 * process (unique topics, group and Redis prefix) and the enforcer SDK with a context policy.
 * Every tool call is published as an AgentRequestEvent and gated by the SDK:
 * - a behaving agent's calls run; a large payment is held until an operator approves it on
 *   agent.control, then the very same call completes;
 * - a session without the user's consent is refused by the context policy;
 * - once the agent turns malicious (admin tools without the scope, order enumeration) its
 *   calls are refused on trustline's verdict within a bounded number of calls, and an open
 *   circuit is refused with its own MCP error code and a retry hint.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { signControl } from '../../src/control/sign-control.ts';
import { createEnforcer, type ContextPolicyInput, type Enforcer } from '../../src/enforcer/index.ts';
import type { SigningKey } from '../../src/outputs/sign.ts';
import { startKafkaRunner, type KafkaRunnerHandle } from '../../src/runners/kafka/run.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { DEMO_TOOLS } from '../../examples/mcp/demo-tools.ts';
import { createGatedMcpServer, TRUSTLINE_MCP_ERRORS, type McpAgentSession } from '../../examples/mcp/server.ts';
import { cleanupTest, connectProducer, processorConfig, processorEnv, readTopic, sleep, uniqueNames } from '../support/processor-harness.ts';
import { describeIntegration, kafkaBrokers, waitFor, sharedCluster } from '../support/services.ts';

/** The server must refuse the malicious agent on trustline's verdict within this many malicious calls. */
const REFUSAL_BOUND = 20;
const OP: SigningKey = { kid: 'ops-mcp', alg: 'HS256', secret: 'operator key for the mcp e2e test .....' };
const CONTEXT: ContextPolicyInput = {
  version: 1,
  rules: [
    { kind: 'consent', id: 'payments-need-consent', actions: ['payment.create'], consent: 'payments' },
    { kind: 'amount', id: 'large-payments-need-a-human', actions: ['payment.create'], atOrAbove: 1000 },
  ],
};

type CallOutcome = { ok: true; text: string } | { ok: false; code: number; message: string; data: Record<string, unknown> };

describeIntegration('MCP enforcement end to end: MCP server + SDK + processor', () => {
  const names = uniqueNames('mcp');
  const config = processorConfig(
    processorEnv(sharedCluster(), names, {
      TRUSTLINE_PARTITIONS: '1',
      TRUSTLINE_CONTROL_KEYS: `${OP.kid}:${OP.secret}`,
      TRUSTLINE_LOG_LEVEL: 'warn',
      TRUSTLINE_REDIS_DECISION_TTL_MS: '60000',
    }),
  );
  // The processor escalates what the SDK holds: payments of 1000 or more, in every band.
  config.escalation.rules = [{ minAmount: 1000, actions: ['payment.create'], bands: ['trusted', 'watch', 'restrict', 'block'] }];
  const agentId = `mcp-agent-${names.prefix}`;
  let processor: KafkaRunnerHandle;
  let enforcer: Enforcer;
  let producer: Producer;
  const clients: Client[] = [];

  async function connect(session: McpAgentSession): Promise<Client> {
    const server = createGatedMcpServer({
      session,
      tools: DEMO_TOOLS,
      enforcer,
      publish: async (key: string, event: AgentRequestEvent) => {
        await producer.send({ topic: names.requests, acks: -1, messages: [{ key, value: JSON.stringify(event) }] });
      },
      awaitDecisionMs: 60_000,
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'ShopperAgent', version: '2.1.0' });
    await client.connect(clientSide);
    clients.push(client);
    return client;
  }

  async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallOutcome> {
    try {
      const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 90_000 });
      return { ok: true, text: (r.content as { text: string }[])[0]!.text };
    } catch (err) {
      if (!(err instanceof McpError)) throw err;
      return { ok: false, code: err.code, message: err.message, data: (err.data ?? {}) as Record<string, unknown> };
    }
  }

  beforeAll(async () => {
    processor = await startKafkaRunner(config, createLogger({ level: 'warn' }));
    producer = await connectProducer(sharedCluster());
    enforcer = createEnforcer({
      kafka: { brokers: kafkaBrokers(), topics: { trust: names.trust, circuit: names.circuit, escalations: names.escalations }, groupId: `${names.group}-enf` },
      keys: config.signing.keys,
      logger: createLogger({ level: 'silent' }),
      contextPolicy: CONTEXT,
      policy: { onStale: 'fail-open' },
    });
    await enforcer.ready();
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    await enforcer?.close();
    await producer?.disconnect();
    await processor?.stop('test end');
    await cleanupTest(sharedCluster(), names);
  });

  it('runs, holds for a human, refuses by context, by trust and by circuit — with clear MCP errors', async () => {
    const session: McpAgentSession = {
      agentId,
      auth: { method: 'oauth2', verified: true, tokenAgeS: 60 },
      scopes: ['orders:read', 'payments:write'],
      purpose: 'shopping',
      onBehalfOf: 'user-17',
      consents: ['payments'],
      userAgent: 'ShopperAgent/2.1',
    };
    const client = await connect(session);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('payment_create');
    expect(tools.tools.find((t) => t.name === 'payment_create')?.inputSchema.required).toEqual(['amount', 'currency']);

    // Bad arguments: a protocol error, and trustline still sees the call.
    const bad = await call(client, 'payment_create', { amount: 'lots' });
    expect(bad).toMatchObject({ ok: false, code: -32602 });

    // 1. Behaves: reads orders at a human-ish pace.
    for (let i = 0; i < 20; i++) {
      const r = await call(client, 'order_get', { id: 4711 + i * 13 });
      if (!r.ok) expect(r.code).toBe(TRUSTLINE_MCP_ERRORS.stepUpRequired); // challenge while the SDK does not know the agent yet
      await sleep(60);
    }
    await waitFor(() => enforcer.decide({ agentId }).band !== null, 'a TrustUpdate for the agent', 30_000);
    expect(enforcer.decide({ agentId }).band).toBe('trusted');
    expect(await call(client, 'order_get', { id: 1 })).toMatchObject({ ok: true });
    expect(await call(client, 'payment_create', { amount: 50, currency: 'EUR' })).toEqual({ ok: true, text: JSON.stringify({ paid: 50, currency: 'EUR' }) });

    // 2. A payment of 5000 EUR is held: the call stays open until an operator approves it.
    const pending = call(client, 'payment_create', { amount: 5000, currency: 'EUR' });
    await waitFor(() => enforcer.escalation({ agentId, actionName: 'payment.create' })?.status === 'pending', 'the pending escalation at the SDK', 30_000);
    const escalationId = enforcer.escalation({ agentId, actionName: 'payment.create' })!.escalationId;
    expect(escalationId).toMatch(new RegExp(`^${agentId}:\\d+$`));
    const approval = signControl({ agentId, action: 'escalation_decision', escalationId, decision: 'approve', issuedAt: Date.now(), operator: 'alice' }, OP);
    await producer.send({ topic: names.control, acks: -1, messages: [{ key: agentId, value: JSON.stringify(approval) }] });
    expect(await pending).toEqual({ ok: true, text: JSON.stringify({ paid: 5000, currency: 'EUR' }) });

    // 3. The same agent in a session whose user gave no payment consent: refused by the context policy.
    const noConsent = await connect({ ...session, consents: [] });
    const refusedByContext = await call(noConsent, 'payment_create', { amount: 20, currency: 'EUR' });
    expect(refusedByContext).toMatchObject({
      ok: false,
      code: TRUSTLINE_MCP_ERRORS.denied,
      data: { verdict: 'deny', rule: 'consent_required', ruleId: 'payments-need-consent' },
    });
    if (!refusedByContext.ok) expect(refusedByContext.message).toMatch(/refused by trustline: payment_create denied \(payments-need-consent/);

    // 4. Turns malicious: admin tools without the scope, order-id enumeration.
    const admin = ['admin_list_users', 'admin_rotate_keys'];
    let refusedAt = -1;
    let refusal: CallOutcome | null = null;
    for (let n = 1; n <= 120; n++) {
      const r = n % 2 === 1 ? await call(client, admin[(n >> 1) % admin.length]!) : await call(client, 'order_get', { id: 10_000 + n });
      // A refusal on trustline's verdict (a missing scope alone names `missingScope`).
      if (!r.ok && r.data.missingScope === undefined && r.code !== TRUSTLINE_MCP_ERRORS.held) {
        refusedAt = n;
        refusal = r;
        break;
      }
      await sleep(100);
    }
    process.stdout.write(
      `[mcp-e2e] malicious calls until the first refusal on trustline's verdict: ${refusedAt} (bound ${REFUSAL_BOUND}); ${refusal && !refusal.ok ? `${refusal.code} ${String(refusal.data.rule)} band ${String(refusal.data.band)}` : ''}\n`,
    );
    expect(refusedAt).toBeGreaterThan(0);
    expect(refusedAt).toBeLessThanOrEqual(REFUSAL_BOUND);
    expect(refusal).toMatchObject({ ok: false });
    if (!refusal!.ok) {
      expect([TRUSTLINE_MCP_ERRORS.denied, TRUSTLINE_MCP_ERRORS.stepUpRequired, TRUSTLINE_MCP_ERRORS.circuitOpen]).toContain(refusal!.code);
      expect(['restrict', 'block']).toContain(refusal!.data.band);
    }

    // 5. An open circuit (forced by an operator here, so the check does not depend on timing): its own code and a retry hint.
    const forceOpen = signControl({ agentId, action: 'force_open', issuedAt: Date.now(), operator: 'alice' }, OP);
    await producer.send({ topic: names.control, acks: -1, messages: [{ key: agentId, value: JSON.stringify(forceOpen) }] });
    await waitFor(() => enforcer.decide({ agentId }).circuit === 'forced_open', 'the forced-open circuit at the SDK', 30_000);
    const circuit = await call(client, 'order_get', { id: 2 });
    expect(circuit).toMatchObject({
      ok: false,
      code: TRUSTLINE_MCP_ERRORS.circuitOpen,
      data: { verdict: 'deny', rule: 'circuit_forced_open', circuit: 'forced_open', retryAfterS: 30 },
    });

    // Every tool call reached agent.requests as an AgentRequestEvent (route mcp:<tool>, method TOOL).
    await sleep(500);
    const events = (await readTopic(sharedCluster(), names.requests, 30_000))
      .map((r) => JSON.parse(r.value!.toString()) as AgentRequestEvent & { kind?: string })
      .filter((e) => e.kind !== 'control');
    const routes = new Set(events.map((e) => e.request.route));
    for (const r of ['mcp:payment_create', 'mcp:order_get', 'mcp:admin_list_users']) expect(routes).toContain(r);
    expect([...routes].every((r) => DEMO_TOOLS.some((t) => `mcp:${t.name}` === r))).toBe(true);
    expect(events.every((e) => e.request.method === 'TOOL' && e.agent.id === agentId)).toBe(true);
    const held = events.filter((e) => e.request.status === 202);
    expect(held.length).toBe(1);
    expect(held[0]!.action).toMatchObject({ name: 'payment.create', amount: 5000, currency: 'EUR', requiredScope: 'payments:write' });
    expect(events.find((e) => e.request.status === 400)?.request.route).toBe('mcp:payment_create');
  }, 300_000);
});
