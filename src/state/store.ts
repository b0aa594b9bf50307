/**
 * The state-store contract: one interface, two implementations (Redis, in-memory), one
 * conformance suite (test/state/redis-store.int.test.ts runs it against both).
 *
 * A saved record is the agent's encoded state (see `core/agent-state.ts`), which carries the
 * watermark of the last applied source position (Kafka offset or file line). Saving is a
 * compare-and-set on that watermark: a record is written only when its watermark is strictly
 * greater than the stored one, so a replayed event is never applied twice and a zombie
 * instance left over from a rebalance cannot overwrite newer state.
 */

import type { AgentKey } from '../core/agent-key.ts';

/** Identity of an agent's state: state is per (tenant, agent) (src/core/agent-key.ts). */
export type { AgentKey };

export type SaveEntry = {
  key: AgentKey;
  /** Watermark of the last event applied to `state`; must match the one encoded inside it. */
  watermark: number;
  /** Encoded state (`encodeState`). */
  state: Uint8Array;
};

/** `saved`: written. `stale`: the store already held a record with a watermark ≥ this one; nothing written. */
export type SaveOutcome = 'saved' | 'stale';

/** One audit hash chain (src/audit): the audit topic and the chain's partition. */
export type AuditChainKey = { topic: string; partition: number };

/** The last link of an audit chain, with the source position it was produced at. */
export type StoredAuditHead = { position: number; partition: number; index: number; hash: string };

/** A chain head to save together with a chunk's states (compare-and-set on `position`). */
export type AuditHeadSave = { chain: AuditChainKey; head: StoredAuditHead };

export interface StateStore {
  /** Load the encoded states of many agents in one round trip; `null` for agents never saved. Order follows `keys`. */
  loadMany(keys: readonly AgentKey[]): Promise<(Uint8Array | null)[]>;
  /** Compare-and-set many states in one round trip. Order of outcomes follows `entries`. */
  saveMany(entries: readonly SaveEntry[], auditHeads?: readonly AuditHeadSave[]): Promise<SaveOutcome[]>;
  /**
   * Audit chain heads, `null` for chains never saved. A head is saved by `saveMany` in the same
   * round trip as the states (atomically on Redis), and only when its position is strictly
   * greater than the stored one. Optional: stores without it do not keep audit chains.
   */
  loadAuditHeads?(chains: readonly AuditChainKey[]): Promise<(StoredAuditHead | null)[]>;
  /** Remove every state this store holds under its namespace (tests and tools). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Byte offset of the watermark (float64, little-endian) inside an encoded state. */
export const WATERMARK_BYTE_OFFSET = 1;

export function watermarkOf(encoded: Uint8Array): number {
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).readDoubleLE(WATERMARK_BYTE_OFFSET);
}

/** The stored form of an audit head: float64 position (little-endian), then the head as JSON. */
export function encodeAuditHead(h: StoredAuditHead): Buffer {
  const json = Buffer.from(JSON.stringify({ partition: h.partition, index: h.index, hash: h.hash }), 'utf8');
  const out = Buffer.alloc(8 + json.length);
  out.writeDoubleLE(h.position, 0);
  json.copy(out, 8);
  return out;
}

/** Inverse of {@link encodeAuditHead}; `null` for anything else. */
export function decodeAuditHead(bytes: Uint8Array): StoredAuditHead | null {
  if (bytes.byteLength < 9) return null;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const h = JSON.parse(b.toString('utf8', 8)) as { partition?: unknown; index?: unknown; hash?: unknown };
    if (typeof h.partition !== 'number' || typeof h.index !== 'number' || typeof h.hash !== 'string') return null;
    return { position: b.readDoubleLE(0), partition: h.partition, index: h.index, hash: h.hash };
  } catch {
    return null;
  }
}
