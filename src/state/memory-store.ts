/**
 * In-memory state store for the embedded default (replay, demo, tests). Same contract and
 * CAS semantics as the Redis store; holds copies, never the caller's buffers.
 */
import { watermarkOf, type AgentKey, type SaveEntry, type SaveOutcome, type StateStore } from './store.ts';

function id(k: AgentKey): string {
  return `${k.tenant}\u0000${k.agentId}`;
}

export class MemoryStateStore implements StateStore {
  private readonly states = new Map<string, Uint8Array>();

  async loadMany(keys: readonly AgentKey[]): Promise<(Uint8Array | null)[]> {
    return keys.map((k) => {
      const v = this.states.get(id(k));
      return v ? Uint8Array.from(v) : null;
    });
  }

  async saveMany(entries: readonly SaveEntry[]): Promise<SaveOutcome[]> {
    return entries.map((e) => {
      const cur = this.states.get(id(e.key));
      if (cur && watermarkOf(cur) >= e.watermark) return 'stale';
      this.states.set(id(e.key), Uint8Array.from(e.state));
      return 'saved';
    });
  }

  /** Number of agents held. */
  get size(): number {
    return this.states.size;
  }

  /** Every (key, state) pair, sorted by key — for digests and exports. */
  entries(): [string, Uint8Array][] {
    return [...this.states.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  async clear(): Promise<void> {
    this.states.clear();
  }

  async close(): Promise<void> {}
}
