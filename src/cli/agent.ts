/**
 * `trustline agent <id>` and `trustline agents`: what trustline thinks of an agent right now and
 * why, from Redis (a running deployment; read-only) or from a replay output folder (`--replay`).
 * The read model is src/inspect; this file parses flags and prints. Light imports at module
 * load (the command table imports this file).
 */
import { parseArgs } from 'node:util';
import type { Band, CircuitState } from '../contract/schemas.ts';
import { TrustlineError } from '../shared/errors.ts';
import type { Redis } from 'ioredis';
import type { AgentListRow } from '../inspect/agent-view.ts';

const AGENT_USAGE = `trustline agent <agentId> [--tenant <t>] [--replay <dir>] [--json] [--movers <n>] [--config <file.json>]

Shows what trustline thinks of one agent: trust, band, circuit (and until when), the identity,
intent and authorization components, a summary of its behavioural baseline, its peer group
(when one is assigned), escalation and operator control state.

Without --replay it reads the agent's state from Redis (REDIS_URL, redis.keyPrefix of the
config): read-only, the processor keeps running. Reasons and identity strength are not kept in
state (they are on the agent's last record on the trust topic).
With --replay <dir> (a \`trustline replay --out <dir>\` folder) it also shows the reasons of its
last events and the events that moved its trust most, with the request behind each (route,
status, network) when the replayed input files are still there.

Examples:
  REDIS_URL=redis://127.0.0.1:36379 trustline agent client-42
  trustline agent agent-0007 --replay out/validation --json`;

const AGENTS_USAGE = `trustline agents [--band <b,…>] [--circuit <c,…>] [--since <2h | ISO time>] [--limit <n>] [--replay <dir>] [--json] [--config <file.json>]

Lists agents, lowest trust first: trust, band, circuit and until when, last seen, events (replay).
  --band     trusted, watch, restrict, block (comma-separated)
  --circuit  closed, open, half_open, forced_open, forced_closed
  --since    agents seen since an ISO time, or within a duration (30m, 2h, 7d) before now
             (before the replay's last event with --replay)
  --limit    rows shown (default 50; 0 = all)
Reads Redis with SCAN (never KEYS), or a replay output folder with --replay.

Examples:
  trustline agents --band restrict,block
  trustline agents --circuit open,half_open --since 1h
  trustline agents --replay out/validation --band block --json`;

/** `2h` → ms, or an ISO/epoch time → {at}. */
export function parseSince(text: string): { agoMs: number } | { at: number } {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|min|h|d)$/.exec(text.trim());
  if (m) {
    const unit = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'min' | 'h' | 'd'];
    return { agoMs: Number(m[1]) * unit };
  }
  const at = /^\d{10,16}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(at)) throw new TrustlineError('USAGE', `--since: "${text}" is neither a duration (30m, 2h, 7d) nor a time (ISO 8601 or epoch ms)`);
  return { at };
}

function parseList<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T[] | undefined {
  if (text === undefined) return undefined;
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) throw new TrustlineError('USAGE', `--${flag}: unknown value "${i}" (one of ${allowed.join(', ')})`);
  return items as T[];
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** A short-lived read-only Redis client that fails fast (one line) when Redis is unreachable. */
async function withRedis<T>(config: { redis: { url: string; keyPrefix: string } }, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(config.redis.url, {
    lazyConnect: true,
    connectTimeout: 5_000,
    commandTimeout: 30_000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectionName: 'trustline-inspect',
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new TrustlineError(
      'STATE_UNAVAILABLE',
      `cannot reach Redis at ${redactUrl(config.redis.url)}: ${(err as Error).message} (set REDIS_URL, or read a replay with --replay <dir>)`,
    );
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

export const agentCommand = {
  summary: 'show what trustline thinks of one agent and why (from Redis, or a replay with --replay)',
  usage: AGENT_USAGE,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        replay: { type: 'string' },
        json: { type: 'boolean', default: false },
        movers: { type: 'string', default: '5' },
        config: { type: 'string' },
      },
    });
    const agentId = positionals[0];
    if (!agentId || positionals.length > 1) throw new TrustlineError('USAGE', 'agent needs exactly one agent id');
    const movers = Number(values.movers);
    if (!Number.isInteger(movers) || movers < 0) throw new TrustlineError('USAGE', `--movers must be a whole number ≥ 0 (got ${values.movers})`);
    const { loadConfig } = await import('../config/config.ts');
    const { policyFromConfig } = await import('../pipeline/configure.ts');
    const config = loadConfig({ file: values.config });
    const policy = policyFromConfig(config);
    const tenant = values.tenant;
    let view;
    if (values.replay) {
      const { agentFromReplay } = await import('../inspect/replay-source.ts');
      view = await agentFromReplay(values.replay, { ...(tenant !== undefined ? { tenant } : {}), agentId }, policy, { movers });
    } else {
      const { agentFromRedis } = await import('../inspect/redis-source.ts');
      view = await withRedis(config, (redis) => agentFromRedis(redis, config.redis.keyPrefix, { tenant: tenant ?? 'default', agentId }, policy));
    }
    if (!view) {
      process.stderr.write(
        `trustline agent: ${agentId}: no state ${values.replay ? `in ${values.replay}` : `in Redis under prefix "${config.redis.keyPrefix}"${tenant ? ` for tenant ${tenant}` : ''}`}\n`,
      );
      return 1;
    }
    const { formatAgent } = await import('../inspect/format.ts');
    process.stdout.write(values.json ? JSON.stringify(view, null, 2) + '\n' : formatAgent(view));
    return 0;
  },
};

export const agentsCommand = {
  summary: 'list agents by trust, filtered by band, circuit and last seen (from Redis, or a replay with --replay)',
  usage: AGENTS_USAGE,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        band: { type: 'string' },
        circuit: { type: 'string' },
        since: { type: 'string' },
        limit: { type: 'string', default: '50' },
        replay: { type: 'string' },
        json: { type: 'boolean', default: false },
        config: { type: 'string' },
      },
    });
    if (positionals.length) throw new TrustlineError('USAGE', `unexpected argument "${positionals[0]}"`);
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 0) throw new TrustlineError('USAGE', `--limit must be a whole number ≥ 0 (got ${values.limit})`);
    const { BANDS, CIRCUIT_STATES } = await import('../contract/schemas.ts');
    const bands = parseList<Band>('band', values.band, BANDS);
    const circuits = parseList<CircuitState>('circuit', values.circuit, CIRCUIT_STATES);
    const since = values.since !== undefined ? parseSince(values.since) : undefined;
    const { loadConfig } = await import('../config/config.ts');
    const { policyFromConfig } = await import('../pipeline/configure.ts');
    const config = loadConfig({ file: values.config });
    const policy = policyFromConfig(config);
    const filter = { ...(bands ? { bands } : {}), ...(circuits ? { circuits } : {}), ...(since && 'at' in since ? { since: since.at } : {}) };
    let result: { rows: AgentListRow[]; total: number };
    if (values.replay) {
      const { agentsFromReplay } = await import('../inspect/replay-source.ts');
      result = await agentsFromReplay(values.replay, policy, filter, since && 'agoMs' in since ? since.agoMs : undefined);
    } else {
      const { agentsFromRedis } = await import('../inspect/redis-source.ts');
      const f = since && 'agoMs' in since ? { ...filter, since: Date.now() - since.agoMs } : filter;
      result = await withRedis(config, (redis) => agentsFromRedis(redis, config.redis.keyPrefix, policy, f));
    }
    const rows = limit > 0 ? result.rows.slice(0, limit) : result.rows;
    if (values.json) {
      process.stdout.write(JSON.stringify({ total: result.total, matched: result.rows.length, agents: rows }, null, 2) + '\n');
    } else {
      const { formatAgentList } = await import('../inspect/format.ts');
      process.stdout.write(
        formatAgentList(rows, result.total) + (rows.length < result.rows.length ? `(${result.rows.length} match; --limit 0 shows all)\n` : ''),
      );
    }
    return 0;
  },
};
