/**
 * `trustline agent(s)` on a running deployment reads Redis: the demo replay's final states are
 * saved into the shared Redis under a private prefix the way the processor saves them
 * (compare-and-set script), then read back through the command line; Redis and the replay
 * must tell the same story, and nothing is written by the inspector.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import type { AgentListRow, AgentView } from '../../src/inspect/agent-view.ts';
import { replayFiles } from '../../src/runners/replay/replay.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { watermarkOf } from '../../src/state/store.ts';
import { describeIntegration, redisUrl, uniqueName } from '../support/services.ts';
import { runCli } from '../support/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');

const run = runCli;

describeIntegration('trustline agent(s) on Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustline-inspect-redis-'));
  const prefix = uniqueName('insp').slice(0, 32);
  const env = { REDIS_URL: process.env.REDIS_URL, TRUSTLINE_REDIS_PREFIX: process.env.TRUSTLINE_REDIS_PREFIX };
  let store: RedisStateStore;

  beforeAll(async () => {
    await replayFiles([join(ROOT, 'fixtures/demo/demo.jsonl')], dir, loadConfig({ env: {} }));
    store = new RedisStateStore({ url: redisUrl(), keyPrefix: prefix });
    const lines = readFileSync(join(dir, 'state.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tenant: string; agentId: string; state: string });
    const entries = lines.map((l) => {
      const state = Buffer.from(l.state, 'base64');
      return { key: { tenant: l.tenant, agentId: l.agentId }, watermark: watermarkOf(state), state };
    });
    expect(await store.saveMany(entries)).toEqual(entries.map(() => 'saved'));
    process.env.REDIS_URL = redisUrl();
    process.env.TRUSTLINE_REDIS_PREFIX = prefix;
  }, 60_000);

  afterAll(async () => {
    for (const [k, v] of Object.entries(env))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    await store?.clear();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists and explains agents from Redis exactly as the replay that produced the states', async () => {
    const fromRedis = JSON.parse((await run(['agents', '--json', '--limit', '0'])).out) as { total: number; agents: AgentListRow[] };
    const fromReplay = JSON.parse((await run(['agents', '--json', '--limit', '0', '--replay', dir])).out) as { total: number; agents: AgentListRow[] };
    expect(fromRedis.total).toBe(33);
    expect(fromRedis.agents).toEqual(fromReplay.agents.map((a) => ({ ...a, events: null })));
    const id = fromRedis.agents[0]!.agentId;
    const loc = store.locate({ tenant: 'default', agentId: id });
    const before = await store.redis.hgetBuffer(loc.key, loc.field);
    const r = await run(['agent', id, '--json']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.out) as AgentView;
    const replayed = JSON.parse((await run(['agent', id, '--json', '--replay', dir])).out) as AgentView;
    expect(v).toMatchObject({
      source: 'redis',
      trust: replayed.trust,
      band: replayed.band,
      circuit: replayed.circuit,
      baseline: replayed.baseline,
      components: { identity: null, intent: replayed.components.intent, authorization: replayed.components.authorization },
    });
    expect(v.notes.join(' ')).toContain('not kept in state');
    // Read-only: the stored record is unchanged.
    expect(await store.redis.hgetBuffer(loc.key, loc.field)).toEqual(before);
    const blocked = JSON.parse((await run(['agents', '--json', '--band', 'block'])).out) as { agents: AgentListRow[] };
    expect(blocked.agents.map((a) => a.agentId)).toEqual(fromReplay.agents.filter((a) => a.band === 'block').map((a) => a.agentId));
    const missing = await run(['agent', 'no-such-agent']);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`trustline agent: no-such-agent: no state in Redis under prefix "${prefix}"\n`);
  });

  it('says in one line when Redis cannot be reached', async () => {
    process.env.REDIS_URL = 'redis://:secret@127.0.0.1:1';
    try {
      const r = await run(['agents']);
      expect(r.code).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^trustline agents: cannot reach Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1: /);
      expect(r.err).not.toContain('secret');
    } finally {
      process.env.REDIS_URL = redisUrl();
    }
  });
});
