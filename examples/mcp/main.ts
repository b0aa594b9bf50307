/**
 * Run the example MCP server over stdio for one agent (an MCP host launches one process per
 * agent session):
 *
 *   KAFKA_BROKERS=127.0.0.1:39092 TRUSTLINE_VERIFY_KEY=kid:secret MCP_AGENT_ID=agent-7 \
 *   MCP_AGENT_SCOPES=orders:read,payments:write MCP_CONSENTS=payments \
 *   node --import tsx examples/mcp/main.ts [--context-policy examples/mcp/context-policy.json]
 *
 * Topics: TRUSTLINE_TOPIC_REQUESTS / _TRUST / _CIRCUIT / _ESCALATIONS (the processor's names).
 * Logs go to stderr (stdout is the MCP channel). See examples/mcp/README.md.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { createEnforcer, loadContextPolicy } from '../../src/enforcer/index.ts';
import type { SigningKey } from '../../src/outputs/sign.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { DEMO_TOOLS } from './demo-tools.ts';
import { createGatedMcpServer } from './server.ts';

function need(name: string): string {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`trustline-mcp: ${name} is not set\n`);
    process.exit(2);
  }
  return v;
}

const brokers = need('KAFKA_BROKERS').split(',');
const [kid, ...rest] = need('TRUSTLINE_VERIFY_KEY').split(':');
const keys: SigningKey[] = [{ kid: kid!, alg: 'HS256', secret: rest.join(':') }];
const policyArg = process.argv.indexOf('--context-policy');
let contextPolicy;
try {
  contextPolicy = policyArg > 0 ? loadContextPolicy(process.argv[policyArg + 1] ?? '') : undefined;
} catch (err) {
  process.stderr.write(`trustline-mcp: ${(err as Error).message.split('\n').join(' ')}\n`);
  process.exit(2);
}
const log = createLogger({ name: 'trustline-mcp', level: 'warn' });

const env = process.env;
const topics = {
  trust: env.TRUSTLINE_TOPIC_TRUST ?? 'agent.trust',
  circuit: env.TRUSTLINE_TOPIC_CIRCUIT ?? 'agent.circuit',
  escalations: env.TRUSTLINE_TOPIC_ESCALATIONS ?? 'agent.escalations',
};
const enforcer = createEnforcer({
  kafka: { brokers, topics },
  keys,
  logger: log,
  ...(contextPolicy ? { contextPolicy } : {}),
  policy: { bands: { trusted: { critical: 'hold' }, watch: { critical: 'hold' } } },
});
const producer = new Kafka({ brokers, clientId: 'trustline-mcp', logLevel: logLevel.NOTHING }).producer({
  idempotent: true,
  createPartitioner: Partitioners.DefaultPartitioner,
});
try {
  await Promise.all([enforcer.ready(), producer.connect()]);
} catch (err) {
  process.stderr.write(`trustline-mcp: ${(err as Error).message}\n`);
  await enforcer.close().catch(() => undefined);
  await producer.disconnect().catch(() => undefined);
  process.exit(1);
}
const server = createGatedMcpServer({
  session: {
    agentId: need('MCP_AGENT_ID'),
    auth: { method: 'none', verified: true },
    scopes: (process.env.MCP_AGENT_SCOPES ?? '').split(',').filter(Boolean),
    consents: (process.env.MCP_CONSENTS ?? '').split(',').filter(Boolean),
    userAgent: 'mcp-stdio',
  },
  tools: DEMO_TOOLS,
  enforcer,
  publish: async (key, event) =>
    void (await producer.send({ topic: env.TRUSTLINE_TOPIC_REQUESTS ?? 'agent.requests', acks: -1, messages: [{ key, value: JSON.stringify(event) }] })),
});
await server.connect(new StdioServerTransport());
const stop = async (): Promise<void> => {
  await server.close();
  await enforcer.close();
  await producer.disconnect();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
