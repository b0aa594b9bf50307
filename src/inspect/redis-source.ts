/**
 * The inspector on a running deployment: agent states read from Redis (read-only: GET, MGET and
 * SCAN, never a write), decoded with the same layout the processor writes.
 */
import type { Redis } from 'ioredis';
import type { Policy } from '../core/judge.ts';
import { agentKeyPattern, parseStateKey, stateKey } from '../state/keys.ts';
import { listRowOf, matches, sortRows, viewFromStored, type AgentFilter, type AgentListRow, type AgentView } from './agent-view.ts';
import { PEER_TENANT } from '../core/peers.ts';

/** One agent's view, `null` when Redis holds no state for it (or a state of another layout). */
export async function agentFromRedis(redis: Pick<Redis, 'getBuffer'>, prefix: string, key: { tenant: string; agentId: string }, policy: Policy): Promise<AgentView | null> {
  const bytes = await redis.getBuffer(stateKey(prefix, key));
  return bytes ? viewFromStored(key, bytes, policy, 'redis') : null;
}

/**
 * Every agent under `prefix` that matches `filter`, lowest trust first. Keys are found with
 * SCAN (never KEYS) and read with one MGET per scanned page; `limit` bounds the rows returned,
 * `total` counts all agents scanned.
 */
export async function agentsFromRedis(redis: Pick<Redis, 'scanBuffer' | 'mgetBuffer'>, prefix: string, policy: Policy, filter: AgentFilter = {}): Promise<{ rows: AgentListRow[]; total: number; unreadable: number }> {
  const rows: AgentListRow[] = [];
  let total = 0;
  let unreadable = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'MATCH', agentKeyPattern(prefix), 'COUNT', 1000);
    cursor = next.toString('latin1');
    // Peer-group records (src/core/peers.ts) share the namespace but are not agents.
    const parsed = keys.map((k) => ({ raw: k, key: parseStateKey(prefix, k.toString('utf8')) })).filter((k) => k.key !== null && k.key.tenant !== PEER_TENANT);
    if (!parsed.length) continue;
    const values = await redis.mgetBuffer(...parsed.map((k) => k.raw));
    parsed.forEach((k, i) => {
      const v = values[i];
      if (!v) return;
      total++;
      const view = viewFromStored(k.key!, v, policy, 'redis');
      if (!view) {
        unreadable++;
        return;
      }
      const row = listRowOf(view);
      if (matches(row, filter)) rows.push(row);
    });
  } while (cursor !== '0');
  return { rows: sortRows(rows), total, unreadable };
}
