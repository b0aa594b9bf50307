/**
 * Tamper-evident audit log: one hash chain per partition.
 *
 * Record format v1 (JSON): `{ v: 1, partition, index, prevHash, hash, entry }` where
 * - `partition` is the partition whose chain the record belongs to (on Kafka: the partition of
 *   the audit topic it is written to, so that every partition verifies on its own);
 * - `index` counts the records of that chain from 0;
 * - `prevHash` is the previous record's `hash`, or {@link GENESIS_HASH} for index 0;
 * - `hash` = lowercase hex SHA-256 of the RFC 8785 canonical encoding of the record without
 *   `hash` (every other field, unknown ones included);
 * - `entry` is any JSON object (what is being audited).
 *
 * Guarantee: changing, deleting, inserting or reordering records, or moving one to another
 * partition, breaks the chain at the first affected position (an exact re-emission of a link
 * already seen — same index and hash, as a crashed writer leaves — is skipped and counted) — except at the very end of a
 * chain (a dropped or rewritten last record), which only a head anchored elsewhere
 * (`heads` option) can reveal.
 */
import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { Wired, q } from '../outputs/wire.ts';
import { TrustlineError } from '../shared/errors.ts';

const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

export const AUDIT_VERSION = 1 as const;
/** `prevHash` of the first record (index 0) of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
/** What an audit record is about; any JSON object. */
export type AuditEntry = { readonly [key: string]: JsonValue };

/** One link of a partition's hash chain. */
export type AuditRecord<E extends AuditEntry = AuditEntry> = {
  readonly v: typeof AUDIT_VERSION;
  readonly partition: number;
  readonly index: number;
  readonly prevHash: string;
  readonly hash: string;
  readonly entry: E;
};

/** Where a new chain starts: its partition. */
export type AuditGenesis = { readonly partition: number };

/** The last link of a chain, as anchored elsewhere (a signed checkpoint, a ticket, a second store). */
export type AuditHead = { readonly partition: number; readonly index: number; readonly hash: string };

/** Why a chain is broken. */
export type AuditBreakReason =
  /** Not a JSON object with integer `partition`/`index`, 64-hex `prevHash`/`hash` and an object `entry`. */
  | 'malformed'
  /** `v` is not 1. */
  | 'unsupported_version'
  /** The record's content does not match its `hash` (changed record). */
  | 'hash_mismatch'
  /** The first record seen for a partition is not index 0 with the genesis `prevHash`. */
  | 'bad_genesis'
  /** `index` skips ahead of the previous record's + 1 (deleted or reordered records). */
  | 'index_gap'
  /** `index` is not after the previous record's (duplicated, replayed or reordered records). */
  | 'index_regression'
  /** `prevHash` is not the previous record's `hash` (inserted or substituted record). */
  | 'prev_hash_mismatch'
  /** The record says another partition than the one it was read from. */
  | 'wrong_partition'
  /** A chain ends before its anchored head (records deleted at the end). */
  | 'truncated'
  /** A chain's last record differs from its anchored head. */
  | 'head_mismatch';

export type AuditChainBreak = {
  ok: false;
  /** 0-based position of the offending record in the input (= the record count for head checks). */
  index: number;
  reason: AuditBreakReason;
  detail: string;
  /** The chain concerned, when known. */
  partition?: number;
  /** The offending record's own `index` field, when readable. */
  chainIndex?: number;
};

export type AuditChainOk = {
  ok: true;
  /** Records accepted as links (exact re-emissions not included). */
  count: number;
  /** Exact re-emissions of records already seen (same partition, index and hash), skipped; absent when none. */
  duplicates?: number;
  /** The last link of every chain seen, by partition — anchor these to detect truncation later. */
  heads: AuditHead[];
};

export type AuditChainResult = AuditChainOk | AuditChainBreak;

/** SHA-256 (lowercase hex) of the canonical encoding of a record without its `hash`. */
export function auditHash(record: object): string {
  const { hash: _hash, ...rest } = record as Record<string, unknown>;
  const text = canonicalize(rest);
  if (text === undefined) throw new TrustlineError('INPUT_INVALID', 'audit record cannot be canonicalised');
  return createHash('sha256').update(text).digest('hex');
}

const isRecordObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An entry with its RFC 8785 canonical JSON and its wire JSON (`JSON.stringify(entry)`), each serialised once. */
export type EncodedAuditEntry<E extends AuditEntry = AuditEntry> = { readonly entry: E; readonly canonical: string; readonly json: string };

/** Encodes any entry (the generic path; the pipeline encodes its hot entries by hand, src/outputs/records.ts). Throws like {@link appendAuditRecord}. */
export function encodeAuditEntry<E extends AuditEntry>(entry: E): EncodedAuditEntry<E> {
  if (!isRecordObject(entry)) throw new TrustlineError('INPUT_INVALID', 'an audit entry must be a JSON object');
  let canonical: string | undefined;
  try {
    canonical = canonicalize(entry);
  } catch (cause) {
    throw new TrustlineError('INPUT_INVALID', `audit entry is not canonical JSON: ${(cause as Error).message}`, { cause });
  }
  if (canonical === undefined) throw new TrustlineError('INPUT_INVALID', 'audit entry is not canonical JSON: audit record cannot be canonicalised');
  return { entry, canonical, json: JSON.stringify(entry) };
}

/**
 * Append `entry` to a chain: after `prev` (the chain's last record), or as the first record of
 * a new chain when given `{ partition }`. Pure: the same inputs give the same record.
 * Throws `INPUT_INVALID` when the entry is not a JSON object (NaN, Infinity, undefined, …).
 */
export function appendAuditRecord<E extends AuditEntry>(prev: AuditRecord | AuditGenesis, entry: E): AuditRecord<E> {
  if (!isRecordObject(entry)) throw new TrustlineError('INPUT_INVALID', 'an audit entry must be a JSON object');
  if (!Number.isSafeInteger(prev.partition) || prev.partition < 0) throw new TrustlineError('INPUT_INVALID', `bad audit partition ${String(prev.partition)}`);
  return appendEncodedEntry(prev, encodeAuditEntry(entry));
}

/**
 * {@link appendAuditRecord} for an entry already encoded: the record's hash input is assembled
 * from the entry's canonical text (`{"entry":…,"index":…,"partition":…,"prevHash":…,"v":1}` is
 * the canonical order) and the record carries its wire JSON (src/outputs/wire.ts), so the entry
 * is serialised once for the hash and once for the wire.
 */
export function appendEncodedEntry<E extends AuditEntry>(prev: AuditRecord | AuditGenesis, enc: EncodedAuditEntry<E>): AuditRecord<E> {
  if (!Number.isSafeInteger(prev.partition) || prev.partition < 0) throw new TrustlineError('INPUT_INVALID', `bad audit partition ${String(prev.partition)}`);
  const isGenesis = !('hash' in prev);
  const partition = prev.partition;
  const index = isGenesis ? 0 : prev.index + 1;
  const prevHash = isGenesis ? GENESIS_HASH : prev.hash;
  const prev64 = q(prevHash);
  const hash = createHash('sha256')
    .update(`{"entry":${enc.canonical},"index":${index},"partition":${partition},"prevHash":${prev64},"v":${AUDIT_VERSION}}`)
    .digest('hex');
  return new WiredAuditRecord(
    `{"v":${AUDIT_VERSION},"partition":${partition},"index":${index},"prevHash":${prev64},"hash":"${hash}","entry":${enc.json}}`,
    partition,
    index,
    prevHash,
    hash,
    enc.entry,
  );
}

/** An audit record carrying its wire JSON (src/outputs/wire.ts); fields in the record format's order. */
class WiredAuditRecord<E extends AuditEntry> extends Wired implements AuditRecord<E> {
  declare readonly v: typeof AUDIT_VERSION;
  declare readonly partition: number;
  declare readonly index: number;
  declare readonly prevHash: string;
  declare readonly hash: string;
  declare readonly entry: E;
  constructor(json: string, partition: number, index: number, prevHash: string, hash: string, entry: E) {
    super(json);
    const w = this as { -readonly [K in keyof AuditRecord<E>]: AuditRecord<E>[K] };
    w.v = AUDIT_VERSION;
    w.partition = partition;
    w.index = index;
    w.prevHash = prevHash;
    w.hash = hash;
    w.entry = entry;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A streaming verifier: feed records in order (partitions may interleave), then `finish()`. */
export type AuditChainVerifier = {
  /**
   * Check the next record; `source.partition` is the partition it was read from, when known.
   * Returns the break, or null. After the first break every call returns that break.
   */
  add(record: unknown, source?: { partition?: number }): AuditChainBreak | null;
  /** The verdict over everything added, including the anchored-head checks. */
  finish(): AuditChainResult;
};

export type AuditVerifyOptions = {
  /** Heads anchored elsewhere: each chain must end exactly there. */
  heads?: readonly AuditHead[];
  /**
   * How many of each chain's latest links are remembered to recognise exact re-emissions
   * (default 100,000). A writer that crashed after producing and before saving its chain head
   * re-produces the same records, byte for byte; such a record (same index and hash as a link
   * already seen) is counted as a duplicate and skipped, and the chain continues after the
   * highest link. An older re-emission than the window, or a record with a known index but
   * another hash, is an `index_regression`.
   */
  duplicateWindow?: number;
};

export function createAuditChainVerifier(options: AuditVerifyOptions = {}): AuditChainVerifier {
  const last = new Map<number, { index: number; hash: string }>();
  const seen = new Map<number, Map<number, string>>();
  const window = options.duplicateWindow ?? 100_000;
  let count = 0;
  let duplicates = 0;
  let broken: AuditChainBreak | null = null;

  const fail = (reason: AuditBreakReason, detail: string, partition?: number, chainIndex?: number): AuditChainBreak => {
    broken = { ok: false, index: count, reason, detail };
    if (partition !== undefined) broken.partition = partition;
    if (chainIndex !== undefined) broken.chainIndex = chainIndex;
    return broken;
  };

  function add(record: unknown, source: { partition?: number } = {}): AuditChainBreak | null {
    if (broken) return broken;
    const r = record;
    if (!isRecordObject(r)) return fail('malformed', 'not a JSON object');
    const partition = Number.isSafeInteger(r.partition) && (r.partition as number) >= 0 ? (r.partition as number) : undefined;
    const index = Number.isSafeInteger(r.index) && (r.index as number) >= 0 ? (r.index as number) : undefined;
    if (r.v !== AUDIT_VERSION) return fail('unsupported_version', `v is ${JSON.stringify(r.v) ?? 'missing'}, expected 1`, partition, index);
    if (partition === undefined || index === undefined) return fail('malformed', 'partition and index must be non-negative integers', partition, index);
    if (typeof r.prevHash !== 'string' || !HEX64.test(r.prevHash) || typeof r.hash !== 'string' || !HEX64.test(r.hash)) {
      return fail('malformed', 'prevHash and hash must be 64 lowercase hex digits', partition, index);
    }
    if (!isRecordObject(r.entry)) return fail('malformed', 'entry must be a JSON object', partition, index);
    if (source.partition !== undefined && source.partition !== partition) {
      return fail('wrong_partition', `record of partition ${partition} read from partition ${source.partition}`, partition, index);
    }
    let computed: string;
    try {
      computed = auditHash(r);
    } catch {
      return fail('malformed', 'record is not canonical JSON', partition, index);
    }
    if (computed !== r.hash) return fail('hash_mismatch', `content hashes to ${computed}, record says ${r.hash}`, partition, index);
    const prev = last.get(partition);
    if (prev === undefined) {
      if (index !== 0) return fail('bad_genesis', `chain of partition ${partition} starts at index ${index}, expected 0`, partition, index);
      if (r.prevHash !== GENESIS_HASH)
        return fail('bad_genesis', `first record of partition ${partition} has prevHash ${r.prevHash}, expected the genesis hash`, partition, index);
    } else {
      if (index > prev.index + 1)
        return fail(
          'index_gap',
          `index ${index} follows index ${prev.index} in partition ${partition}: ${index - prev.index - 1} record(s) missing or moved`,
          partition,
          index,
        );
      if (index <= prev.index) {
        if (seen.get(partition)?.get(index) === r.hash) {
          duplicates++;
          return null;
        }
        return fail('index_regression', `index ${index} follows index ${prev.index} in partition ${partition}`, partition, index);
      }
      if (r.prevHash !== prev.hash)
        return fail(
          'prev_hash_mismatch',
          `prevHash ${r.prevHash} is not the hash ${prev.hash} of index ${prev.index} in partition ${partition}`,
          partition,
          index,
        );
    }
    last.set(partition, { index, hash: r.hash });
    let links = seen.get(partition);
    if (links === undefined) seen.set(partition, (links = new Map()));
    links.set(index, r.hash);
    if (links.size > window) links.delete(index - window);
    count++;
    return null;
  }

  function finish(): AuditChainResult {
    if (broken) return broken;
    for (const head of options.heads ?? []) {
      const got = last.get(head.partition);
      if (got === undefined || got.index < head.index) {
        return fail(
          'truncated',
          `partition ${head.partition} ends at ${got === undefined ? 'no record' : `index ${got.index}`}, anchored head is index ${head.index}`,
          head.partition,
          got?.index,
        );
      }
      if (got.index !== head.index || got.hash !== head.hash) {
        return fail(
          'head_mismatch',
          `partition ${head.partition} ends at index ${got.index} hash ${got.hash}, anchored head is index ${head.index} hash ${head.hash}`,
          head.partition,
          got.index,
        );
      }
    }
    const heads = [...last.entries()].sort((a, b) => a[0] - b[0]).map(([partition, h]) => ({ partition, index: h.index, hash: h.hash }));
    return duplicates ? { ok: true, count, duplicates, heads } : { ok: true, count, heads };
  }

  return { add, finish };
}

/** Verify records in order; reports the first broken link (partitions may interleave; each is its own chain). */
export function verifyChain(records: Iterable<unknown>, options: AuditVerifyOptions = {}): AuditChainResult {
  const v = createAuditChainVerifier(options);
  for (const r of records) if (v.add(r)) break;
  return v.finish();
}
