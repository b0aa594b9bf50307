/**
 * The inspector on a running deployment: agent states read from Redis (read-only: HGET, HGETALL
 * and SCAN, never a write), decoded with the same layout the processor writes (states are fields
 * of bucket hashes, src/state/keys.ts).
 */
import type { Redis } from 'ioredis';
import type { Policy } from '../core/judge.ts';
import { DEFAULT_STATE_BUCKETS, agentKeyPattern, decodeKeyPart, parseStateBucketKey, stateLocation } from '../state/keys.ts';
import { listRowOf, matches, sortRows, viewFromStored, type AgentFilter, type AgentListRow, type AgentView } from './agent-view.ts';
import { PEER_TENANT } from '../core/peers.ts';

/** One agent's view, `null` when Redis holds no state for it (or a state of another layout). */
export async function agentFromRedis(
  redis: Pick<Redis, 'hgetBuffer'>,
  prefix: string,
  key: { tenant: string; agentId: string },
  policy: Policy,
  buckets = DEFAULT_STATE_BUCKETS,
): Promise<AgentView | null> {
  const loc = stateLocation(prefix, key, buckets);
  const bytes = await redis.hgetBuffer(loc.key, loc.field);
  return bytes ? viewFromStored(key, bytes, policy, 'redis') : null;
}

/**
 * Every agent under `prefix` that matches `filter`, lowest trust first. Bucket keys are found
 * with SCAN (never KEYS) and read with one pipeline of HGETALL per scanned page; `limit` bounds
 * the rows returned, `total` counts all agents scanned.
 */
export async function agentsFromRedis(
  redis: Pick<Redis, 'scanBuffer' | 'pipeline'>,
  prefix: string,
  policy: Policy,
  filter: AgentFilter = {},
): Promise<{ rows: AgentListRow[]; total: number; unreadable: number }> {
  const rows: AgentListRow[] = [];
  let total = 0;
  let unreadable = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'MATCH', agentKeyPattern(prefix), 'COUNT', 1000);
    cursor = next.toString('latin1');
    // Peer-group records (src/core/peers.ts) share the namespace but are not agents.
    const parsed = keys
      .map((k) => ({ raw: k, bucket: parseStateBucketKey(prefix, k.toString('utf8')) }))
      .filter((k) => k.bucket !== null && k.bucket.tenant !== PEER_TENANT);
    if (!parsed.length) continue;
    const pipeline = redis.pipeline();
    for (const k of parsed) pipeline.hgetallBuffer(k.raw);
    const replies = (await pipeline.exec()) ?? [];
    parsed.forEach((k, i) => {
      const [err, fields] = replies[i] ?? [null, null];
      if (err || !fields) return;
      for (const [field, v] of Object.entries(fields as Record<string, Buffer>)) {
        total++;
        const view = viewFromStored({ tenant: k.bucket!.tenant, agentId: decodeKeyPart(field) }, v, policy, 'redis');
        if (!view) {
          unreadable++;
          continue;
        }
        const row = listRowOf(view);
        if (matches(row, filter)) rows.push(row);
      }
    });
  } while (cursor !== '0');
  return { rows: sortRows(rows), total, unreadable };
}
