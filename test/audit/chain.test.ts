import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import canonicalizeModule from 'canonicalize';
import {
  GENESIS_HASH,
  appendAuditRecord,
  auditHash,
  createAuditChainVerifier,
  verifyChain,
  type AuditChainResult,
  type AuditEntry,
  type AuditRecord,
} from '../../src/audit/chain.ts';
import { TrustlineError } from '../../src/shared/errors.ts';

const canonicalize = canonicalizeModule as unknown as (v: unknown) => string;

function chain(partition: number, n: number, tag = 'p'): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    const entry: AuditEntry = {
      kind: 'trust',
      agentId: `${tag}${partition}-agent-${i % 3}`,
      seq: i + 1,
      band: i % 2 ? 'watch' : 'trusted',
      note: { i, ok: true, list: [1, 'two', null] },
    };
    out.push(appendAuditRecord(i === 0 ? { partition } : out[i - 1]!, entry));
  }
  return out;
}

/** Rebuild a record's hash after changing it, as an attacker who knows the format would. */
function rehash(r: Omit<AuditRecord, 'hash'> & { hash?: string }): AuditRecord {
  return { ...r, hash: auditHash(r) } as AuditRecord;
}

const broken = (r: AuditChainResult) => (r.ok ? { ok: true } : { ok: false, index: r.index, reason: r.reason });
const N = 8;

describe('audit chain: building', () => {
  it('links records: genesis prevHash, consecutive indexes, hash = sha256(canonical record without hash)', () => {
    const c = chain(3, 4);
    expect(c[0]).toMatchObject({ v: 1, partition: 3, index: 0, prevHash: GENESIS_HASH });
    c.forEach((r, i) => {
      expect(r.index).toBe(i);
      if (i > 0) expect(r.prevHash).toBe(c[i - 1]!.hash);
      const { hash, ...rest } = r;
      expect(hash).toBe(createHash('sha256').update(canonicalize(rest)).digest('hex'));
    });
  });

  it('is deterministic, and the hash does not depend on key order', () => {
    expect(chain(0, 5)).toEqual(chain(0, 5));
    const a = appendAuditRecord({ partition: 0 }, { b: 1, a: { d: 2, c: 3 } });
    const b = appendAuditRecord({ partition: 0 }, { a: { c: 3, d: 2 }, b: 1 });
    expect(a.hash).toBe(b.hash);
  });

  it('rejects entries that are not JSON objects', () => {
    expect(() => appendAuditRecord({ partition: 0 }, { x: Number.NaN })).toThrow(TrustlineError);
    expect(() => appendAuditRecord({ partition: 0 }, [1, 2] as unknown as AuditEntry)).toThrow(/JSON object/);
    expect(() => appendAuditRecord({ partition: -1 }, {})).toThrow(/partition/);
  });
});

describe('audit chain: verifyChain', () => {
  it('accepts intact chains, partitions interleaved, and reports their heads', () => {
    const p0 = chain(0, N);
    const p1 = chain(1, N);
    const mixed = p0.flatMap((r, i) => [r, p1[i]!]);
    const r = verifyChain(mixed);
    expect(r).toEqual({
      ok: true,
      count: 2 * N,
      heads: [
        { partition: 0, index: N - 1, hash: p0[N - 1]!.hash },
        { partition: 1, index: N - 1, hash: p1[N - 1]!.hash },
      ],
    });
    expect(verifyChain(JSON.parse(JSON.stringify(mixed)) as unknown[]).ok).toBe(true);
    expect(verifyChain([])).toEqual({ ok: true, count: 0, heads: [] });
  });

  it('detects a changed record at its own position (hash_mismatch)', () => {
    const c = chain(0, N);
    for (let k = 0; k < N; k++) {
      const changed = c.map((r, i) => (i === k ? { ...r, entry: { ...r.entry, band: 'block' } } : r));
      expect(broken(verifyChain(changed))).toEqual({ ok: false, index: k, reason: 'hash_mismatch' });
      const fieldChanged = c.map((r, i) => (i === k ? { ...r, extra: 1 } : r));
      expect(broken(verifyChain(fieldChanged))).toEqual({ ok: false, index: k, reason: 'hash_mismatch' });
    }
  });

  it('detects a changed-and-rehashed record at the next link (prev_hash_mismatch); at the end only with an anchored head', () => {
    const c = chain(0, N);
    for (let k = 0; k < N - 1; k++) {
      const changed = c.map((r, i) => (i === k ? rehash({ ...r, entry: { ...r.entry, band: 'block' } }) : r));
      expect(broken(verifyChain(changed))).toEqual({ ok: false, index: k + 1, reason: 'prev_hash_mismatch' });
    }
    const lastChanged = c.map((r, i) => (i === N - 1 ? rehash({ ...r, entry: { forged: true } }) : r));
    expect(verifyChain(lastChanged).ok).toBe(true);
    const heads = [{ partition: 0, index: N - 1, hash: c[N - 1]!.hash }];
    expect(broken(verifyChain(lastChanged, { heads }))).toEqual({ ok: false, index: N, reason: 'head_mismatch' });
  });

  it('detects a deleted record where it was (index_gap; bad_genesis for the first; truncated at the end with a head)', () => {
    const c = chain(0, N);
    for (let k = 0; k < N - 1; k++) {
      const deleted = c.filter((_, i) => i !== k);
      expect(broken(verifyChain(deleted))).toEqual({ ok: false, index: k, reason: k === 0 ? 'bad_genesis' : 'index_gap' });
    }
    const tailCut = c.slice(0, -1);
    expect(verifyChain(tailCut).ok).toBe(true);
    expect(broken(verifyChain(tailCut, { heads: [{ partition: 0, index: N - 1, hash: c[N - 1]!.hash }] }))).toEqual({
      ok: false,
      index: N - 1,
      reason: 'truncated',
    });
    expect(broken(verifyChain([], { heads: [{ partition: 0, index: 0, hash: c[0]!.hash }] }))).toEqual({ ok: false, index: 0, reason: 'truncated' });
  });

  it('detects reordered records at the first one out of place', () => {
    const c = chain(0, N);
    for (let k = 0; k < N - 1; k++) {
      const swapped = [...c];
      [swapped[k], swapped[k + 1]] = [swapped[k + 1]!, swapped[k]!];
      expect(broken(verifyChain(swapped))).toEqual({ ok: false, index: k, reason: k === 0 ? 'bad_genesis' : 'index_gap' });
    }
    // Renumbered and rehashed after a swap: the links still give it away.
    const renumbered = [c[0]!, rehash({ ...c[2]!, index: 1 }), rehash({ ...c[1]!, index: 2 }), ...c.slice(3)];
    expect(broken(verifyChain(renumbered))).toEqual({ ok: false, index: 1, reason: 'prev_hash_mismatch' });
  });

  it('detects inserted records: a copy at its position, a well-forged link at the record after it', () => {
    const c = chain(0, N);
    for (let k = 1; k <= N; k++) {
      // An exact copy of the previous record is a crashed writer's re-emission: skipped and counted, not a break.
      const copy = [...c.slice(0, k), c[k - 1]!, ...c.slice(k)];
      expect(verifyChain(copy)).toMatchObject({ ok: true, count: N, duplicates: 1 });
      // A copy of an older record with another record's index is still a break.
      if (k >= 2) expect(broken(verifyChain([...c.slice(0, k), { ...c[k - 2]!, index: k - 1 }, ...c.slice(k)]))).toMatchObject({ ok: false, index: k });
      // A forged record that links correctly to its predecessor and hashes correctly.
      const forged = appendAuditRecord(c[k - 1]!, { kind: 'trust', agentId: 'x', forged: true });
      const inserted = [...c.slice(0, k), forged, ...c.slice(k)];
      const r = verifyChain(inserted);
      if (k < N) expect(broken(r)).toEqual({ ok: false, index: k + 1, reason: 'index_regression' });
      else {
        expect(r.ok).toBe(true); // appended at the end: only an anchored head tells
        expect(broken(verifyChain(inserted, { heads: [{ partition: 0, index: N - 1, hash: c[N - 1]!.hash }] }))).toEqual({
          ok: false,
          index: N + 1,
          reason: 'head_mismatch',
        });
      }
    }
    // A forged genesis in front.
    const genesis = appendAuditRecord({ partition: 0 }, { forged: true });
    expect(broken(verifyChain([genesis, ...c]))).toEqual({ ok: false, index: 1, reason: 'index_regression' });
  });

  it('detects a record moved to another partition, and a bad genesis', () => {
    const p0 = chain(0, N);
    const p1 = chain(1, N);
    const moved = [...p0.slice(0, 3), rehash({ ...p1[3]!, partition: 0 }), ...p0.slice(4)];
    expect(broken(verifyChain(moved))).toEqual({ ok: false, index: 3, reason: 'prev_hash_mismatch' });
    const relabelled = [...p0.slice(0, 3), rehash({ ...p0[3]!, partition: 7 })];
    expect(broken(verifyChain(relabelled))).toEqual({ ok: false, index: 3, reason: 'bad_genesis' });
    const badGenesis = [rehash({ ...p0[0]!, prevHash: 'f'.repeat(64) }), ...p0.slice(1)];
    expect(broken(verifyChain(badGenesis))).toEqual({ ok: false, index: 0, reason: 'bad_genesis' });
    // Read from a partition other than the one the record names.
    const v = createAuditChainVerifier();
    expect(v.add(p0[0], { partition: 0 })).toBeNull();
    expect(v.add(p0[1], { partition: 2 })).toMatchObject({ index: 1, reason: 'wrong_partition', partition: 0, chainIndex: 1 });
    expect(v.finish()).toMatchObject({ ok: false, index: 1, reason: 'wrong_partition' });
  });

  it('reports malformed records and unknown versions', () => {
    const c = chain(0, 2);
    expect(broken(verifyChain([c[0], 'text']))).toEqual({ ok: false, index: 1, reason: 'malformed' });
    expect(broken(verifyChain([{ ...c[0]!, v: 2 }]))).toEqual({ ok: false, index: 0, reason: 'unsupported_version' });
    expect(broken(verifyChain([{ ...c[0]!, index: -1 }]))).toEqual({ ok: false, index: 0, reason: 'malformed' });
    expect(broken(verifyChain([{ ...c[0]!, hash: c[0]!.hash.toUpperCase() }]))).toEqual({ ok: false, index: 0, reason: 'malformed' });
    expect(broken(verifyChain([{ ...c[0]!, entry: [1] }]))).toEqual({ ok: false, index: 0, reason: 'malformed' });
    expect(broken(verifyChain([null]))).toEqual({ ok: false, index: 0, reason: 'malformed' });
  });

  it('stops at the first break and keeps reporting it', () => {
    const c = chain(0, N);
    const v = createAuditChainVerifier();
    v.add(c[0]);
    const first = v.add(c[2]);
    expect(first).toMatchObject({ index: 1, reason: 'index_gap', partition: 0, chainIndex: 2 });
    expect(v.add(c[1])).toBe(first);
    expect(v.finish()).toBe(first);
  });
});
