/**
 * Runs the example gateway as a process (the compose stack's `gateway` service): the demo API
 * behind `startGateway`, the enforcer SDK following trustline's topics, events published to the
 * requests topic, and the enforcer's Prometheus metrics on a second port.
 *
 * Settings (environment): the trustline configuration for brokers, topics and the signing keys
 * the enforcer verifies against (KAFKA_BROKERS, TRUSTLINE_SIGNING_KEYS, TRUSTLINE_TOPIC_*,
 * TRUSTLINE_CONFIG), plus
 *   GATEWAY_HOST / GATEWAY_PORT                 where the API listens (127.0.0.1:8080)
 *   GATEWAY_METRICS_HOST / GATEWAY_METRICS_PORT  GET /metrics (127.0.0.1:9465)
 *   GATEWAY_AGENTS   JSON list of agents: [{"id":"agent-1","apiKey":"…","scopes":["orders:read"]}]
 *
 * Without GATEWAY_AGENTS one demo agent (`demo-agent`, API key `demo-key-NOT-FOR-PRODUCTION`)
 * is registered, and a warning says so.
 *
 *   npx tsx examples/gateway/main.ts
 *   curl -H 'x-api-key: demo-key-NOT-FOR-PRODUCTION' http://127.0.0.1:8080/orders/1
 */
import { createServer } from 'node:http';
import { Kafka, Partitioners } from 'kafkajs';
import { loadConfig } from '../../src/config/config.ts';
import { PROMETHEUS_CONTENT_TYPE, createEnforcer } from '../../src/enforcer/index.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { DEMO_ROUTES } from './demo-api.ts';
import { startGateway, type AgentRegistration } from './gateway.ts';

const log = createLogger({ name: 'example-gateway' });
const config = loadConfig();
const env = process.env;

function agentsFromEnv(): AgentRegistration[] {
  if (!env.GATEWAY_AGENTS) {
    log.warn('GATEWAY_AGENTS is not set: registering the demo agent "demo-agent" with the public API key demo-key-NOT-FOR-PRODUCTION');
    return [{ id: 'demo-agent', apiKey: 'demo-key-NOT-FOR-PRODUCTION', scopes: ['orders:read', 'payments:write'], purpose: 'demo' }];
  }
  const parsed = JSON.parse(env.GATEWAY_AGENTS) as unknown;
  if (
    !Array.isArray(parsed) ||
    !parsed.every((a) => a && typeof a === 'object' && typeof (a as AgentRegistration).id === 'string' && Array.isArray((a as AgentRegistration).scopes))
  ) {
    throw new Error('GATEWAY_AGENTS must be a JSON list of {"id", "apiKey" and/or "publicKeyPem", "scopes": [...]}');
  }
  return parsed as AgentRegistration[];
}

const agents = agentsFromEnv();
const kafka = new Kafka({ clientId: 'example-gateway', brokers: config.kafka.brokers });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
const enforcer = createEnforcer({
  kafka: {
    brokers: config.kafka.brokers,
    topics: { trust: config.kafka.topics.trust, circuit: config.kafka.topics.circuit, escalations: config.kafka.topics.escalations },
    groupId: 'example-gateway',
  },
  keys: config.signing.keys,
  logger: log,
  // Critical actions (payments of 1000 or more) wait for a human unless the agent is blocked.
  policy: { bands: { trusted: { critical: 'hold' }, watch: { critical: 'hold' }, restrict: { critical: 'hold' } } },
});
try {
  await enforcer.ready();
} catch (err) {
  // E.g. the topics do not exist yet: the processor creates them at start (compose waits for it).
  log.error({ err: (err as Error).message }, 'enforcer could not start');
  await producer.disconnect();
  process.exit(1);
}
const gateway = await startGateway({
  agents,
  routes: DEMO_ROUTES,
  enforcer,
  publish: async (key, event) =>
    void (await producer.send({ topic: config.kafka.topics.requests, acks: -1, messages: [{ key, value: JSON.stringify(event) }] })),
  host: env.GATEWAY_HOST ?? '127.0.0.1',
  port: Number(env.GATEWAY_PORT ?? 8080),
});
const metrics = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/metrics') res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(enforcer.prometheus());
  else res.writeHead(404).end();
});
await new Promise<void>((resolve) => metrics.listen(Number(env.GATEWAY_METRICS_PORT ?? 9465), env.GATEWAY_METRICS_HOST ?? '127.0.0.1', resolve));
log.info({ url: gateway.url, agents: agents.map((a) => a.id) }, 'example gateway listening');

const stop = async (): Promise<void> => {
  await gateway.close();
  metrics.close();
  await enforcer.close();
  await producer.disconnect();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
