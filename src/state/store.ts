/**
 * The state-store contract: one interface, two implementations (Redis, in-memory), one
 * conformance suite (test/integration/state-store.test.ts runs it against both).
 *
 * A saved record is the agent's encoded state (see `core/agent-state.ts`), which carries the
 * watermark of the last applied source position (Kafka offset or file line). Saving is a
 * compare-and-set on that watermark: a record is written only when its watermark is strictly
 * greater than the stored one, so a replayed event is never applied twice and a zombie
 * instance left over from a rebalance cannot overwrite newer state.
 */

/** Identity of an agent's state: state is per (tenant, agent). */
export type AgentKey = { tenant: string; agentId: string };

export type SaveEntry = {
  key: AgentKey;
  /** Watermark of the last event applied to `state`; must match the one encoded inside it. */
  watermark: number;
  /** Encoded state (`encodeState`). */
  state: Uint8Array;
};

/** `saved`: written. `stale`: the store already held a record with a watermark ≥ this one; nothing written. */
export type SaveOutcome = 'saved' | 'stale';

export interface StateStore {
  /** Load the encoded states of many agents in one round trip; `null` for agents never saved. Order follows `keys`. */
  loadMany(keys: readonly AgentKey[]): Promise<(Uint8Array | null)[]>;
  /** Compare-and-set many states in one round trip. Order of outcomes follows `entries`. */
  saveMany(entries: readonly SaveEntry[]): Promise<SaveOutcome[]>;
  /** Remove every state this store holds under its namespace (tests and tools). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Byte offset of the watermark (float64, little-endian) inside an encoded state. */
export const WATERMARK_BYTE_OFFSET = 1;

export function watermarkOf(encoded: Uint8Array): number {
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).readDoubleLE(WATERMARK_BYTE_OFFSET);
}
