/**
 * `trustline control`: sign an operator control record with an operator key and publish it to
 * `agent.control` (keyed by agentId), or print it (`--print`). The processor's control relay
 * verifies it against `control.keys` and applies it in the agent's own stream.
 *
 * Guarantees: the record is signed before anything is sent, with the key given (never with the
 * output signing keys); `issuedAt` is the wall clock unless `--issued-at` says otherwise (it is
 * the idempotency point: an agent ignores a control not newer than its last applied one); the
 * secret is never printed. Light imports at module load (the command table imports this file).
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { ControlAction } from '../contract/schemas.ts';
import type { SigningKey } from '../outputs/sign.ts';
import { TrustlineError } from '../shared/errors.ts';

const USAGE = `trustline control <force_open|force_close|reset|allowlist|escalation_decision> --agent <id>
    (--key <kid:secret> | --key-file <file> [--kid <kid>]) [--operator <name>] [--tenant <t>]
    [--until <epoch ms | ISO time>] [--escalation <escalationId> --decision approve|deny]
    [--reason <text>] [--issued-at <epoch ms>] [--topic <name>] [--brokers <host:port,…>]
    [--config <file.json>] [--print]

Signs an AgentControl record with an OPERATOR key (the processor verifies it against
control.keys / TRUSTLINE_CONTROL_KEYS) and publishes it to agent.control keyed by the agent id.
--key-file holds "kid:secret" (HS256) or a PKCS#8 PEM private key (Ed25519, with --kid).
--print writes the signed record to stdout instead of publishing it.

Examples:
  trustline control force_open --agent client-42 --key-file ~/.trustline/ops.key --operator alice
  trustline control allowlist --agent client-42 --until 2026-12-01T00:00:00Z --key ops-1:$SECRET
  trustline control escalation_decision --agent client-42 --escalation client-42:118 --decision approve --key ops-1:$SECRET`;

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (cause as Error).message;
    throw new TrustlineError('INPUT_INVALID', `${file}: cannot read the --key-file (${why})`, { cause });
  }
}

function parseKey(values: { key?: string; 'key-file'?: string; kid?: string }): SigningKey {
  if (values.key && values['key-file']) throw new TrustlineError('USAGE', 'give --key or --key-file, not both');
  const text = values.key ?? (values['key-file'] ? readKeyFile(values['key-file']) : undefined);
  if (!text) throw new TrustlineError('USAGE', 'an operator key is required (--key kid:secret or --key-file)');
  if (text.includes('-----BEGIN')) {
    if (!values.kid) throw new TrustlineError('USAGE', '--kid is required with a PEM key');
    return { kid: values.kid, alg: 'Ed25519', secret: text };
  }
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1) throw new TrustlineError('USAGE', 'the key must be kid:secret');
  return { kid: text.slice(0, i), alg: 'HS256', secret: text.slice(i + 1) };
}

function parseTime(v: string, flag: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(n)) throw new TrustlineError('USAGE', `${flag} must be epoch ms or an ISO time, got ${JSON.stringify(v)}`);
  return n;
}

export const controlCommand = {
  summary: 'sign an operator control record (force open/close, reset, allowlist, escalation decision) and publish it to agent.control',
  usage: USAGE,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        agent: { type: 'string' },
        tenant: { type: 'string' },
        key: { type: 'string' },
        'key-file': { type: 'string' },
        kid: { type: 'string' },
        operator: { type: 'string' },
        until: { type: 'string' },
        escalation: { type: 'string' },
        decision: { type: 'string' },
        reason: { type: 'string' },
        'issued-at': { type: 'string' },
        topic: { type: 'string' },
        brokers: { type: 'string' },
        config: { type: 'string' },
        print: { type: 'boolean', default: false },
      },
    });
    const action = positionals[0] as ControlAction | undefined;
    const { CONTROL_ACTIONS } = await import('../contract/schemas.ts');
    if (!action || !(CONTROL_ACTIONS as readonly string[]).includes(action) || positionals.length !== 1)
      throw new TrustlineError('USAGE', `one action is required: ${CONTROL_ACTIONS.join(', ')}`);
    if (!values.agent) throw new TrustlineError('USAGE', '--agent is required');
    if (action === 'allowlist' && !values.until) throw new TrustlineError('USAGE', 'allowlist needs --until');
    if (action === 'escalation_decision' && (!values.escalation || (values.decision !== 'approve' && values.decision !== 'deny'))) {
      throw new TrustlineError('USAGE', 'escalation_decision needs --escalation <id> and --decision approve|deny');
    }
    const key = parseKey(values);
    const { signControl } = await import('../control/sign-control.ts');
    const record = signControl(
      {
        agentId: values.agent,
        action,
        issuedAt: values['issued-at'] ? parseTime(values['issued-at'], '--issued-at') : Date.now(),
        operator: values.operator ?? userInfo().username,
        ...(values.tenant ? { tenant: values.tenant } : {}),
        ...(values.until ? { until: parseTime(values.until, '--until') } : {}),
        ...(values.escalation ? { escalationId: values.escalation } : {}),
        ...(values.decision ? { decision: values.decision as 'approve' | 'deny' } : {}),
        ...(values.reason ? { reason: values.reason } : {}),
      },
      key,
    );
    if (values.print) {
      process.stdout.write(`${JSON.stringify(record)}\n`);
      return 0;
    }
    const { loadConfig } = await import('../config/config.ts');
    const config = loadConfig({ file: values.config, overrides: values.brokers ? { kafka: { brokers: values.brokers.split(',') } } : {} });
    const topic = values.topic ?? config.kafka.topics.control;
    const { assertKafkaReachable } = await import('../runners/kafka/reach.ts');
    await assertKafkaReachable(config.kafka.brokers, `${config.kafka.clientId}-control`);
    const { createKafkaClient } = await import('../shared/kafka.ts');
    const producer = createKafkaClient({ brokers: config.kafka.brokers, clientId: `${config.kafka.clientId}-control`, profile: 'command' }).producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [{ key: record.agentId, value: JSON.stringify(record) }] });
    } catch (cause) {
      throw new TrustlineError('KAFKA_UNAVAILABLE', `publishing to ${topic} failed: ${(cause as Error).message}`, { cause });
    } finally {
      await producer.disconnect();
    }
    process.stdout.write(`published ${action} for ${record.agentId} to ${topic} (controlId ${record.controlId}, kid ${key.kid})\n`);
    return 0;
  },
};
