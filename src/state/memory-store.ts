/**
 * In-memory state store for the embedded default (replay, demo, tests). Same contract and
 * CAS semantics as the Redis store; holds copies, never the caller's buffers.
 */
import { agentKeyString } from '../core/agent-key.ts';
import { PEER_TENANT } from '../core/peers.ts';
import {
  watermarkOf,
  type AgentKey,
  type AuditChainKey,
  type AuditHeadSave,
  type SaveEntry,
  type SaveOutcome,
  type StateStore,
  type StoredAuditHead,
} from './store.ts';

function id(k: AgentKey): string {
  return agentKeyString(k.tenant, k.agentId);
}

const PEER_PREFIX = agentKeyString(PEER_TENANT, '');

export class MemoryStateStore implements StateStore {
  private readonly states = new Map<string, Uint8Array>();
  private readonly heads = new Map<string, StoredAuditHead>();

  async loadMany(keys: readonly AgentKey[]): Promise<(Uint8Array | null)[]> {
    return keys.map((k) => {
      const v = this.states.get(id(k));
      return v ? Uint8Array.from(v) : null;
    });
  }

  async loadAuditHeads(chains: readonly AuditChainKey[]): Promise<(StoredAuditHead | null)[]> {
    return chains.map((c) => {
      const h = this.heads.get(`${c.topic}\u0000${c.partition}`);
      return h ? { ...h } : null;
    });
  }

  async saveMany(entries: readonly SaveEntry[], auditHeads: readonly AuditHeadSave[] = []): Promise<SaveOutcome[]> {
    for (const a of auditHeads) {
      const k = `${a.chain.topic}\u0000${a.chain.partition}`;
      const cur = this.heads.get(k);
      if (!cur || a.head.position > cur.position) this.heads.set(k, { ...a.head });
    }
    return entries.map((e) => {
      const cur = this.states.get(id(e.key));
      if (cur && watermarkOf(cur) >= e.watermark) return 'stale';
      this.states.set(id(e.key), Uint8Array.from(e.state));
      return 'saved';
    });
  }

  /** Number of agents held (peer-group records, src/core/peers.ts, are not agents). */
  get size(): number {
    let n = 0;
    for (const k of this.states.keys()) if (!k.startsWith(PEER_PREFIX)) n++;
    return n;
  }

  /** Every (key, state) pair, sorted by key — for digests and exports. */
  entries(): [string, Uint8Array][] {
    return [...this.states.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  async clear(): Promise<void> {
    this.states.clear();
    this.heads.clear();
  }

  async close(): Promise<void> {}
}
