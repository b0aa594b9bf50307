/**
 * Property-based tests of signed records with fast-check (docs/enforcers.md): records produced by
 * the real pipeline (trust updates, circuit signals, escalations) and its audit chain, then
 * tampered with —
 * - a changed field, a mutated signature, a signature relabelled with another trusted key's `kid`,
 *   a removed signature or a changed `alg`: the enforcer SDK's feed verification
 *   (src/enforcer) refuses every one, and holds nothing from it;
 * - a replayed older `seq` of the same agent: refused as stale, the newer record stays held;
 * - a reordered, changed, deleted or inserted audit record: the audit verifier (src/audit)
 *   reports the chain broken.
 * The fuzz script (scripts/fuzz.ts) runs the same at scale.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyChain, type AuditRecord } from '../../src/audit/chain.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { createEnforcerCore } from '../../src/enforcer/core.ts';
import type { FeedKind } from '../../src/enforcer/types.ts';
import { createSigner, type SigningKey } from '../../src/outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../../src/outputs/sink.ts';
import { BatchProcessor } from '../../src/pipeline/batch-processor.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { T0, ev, mixedStream, rng, toRecords } from '../support/events.ts';
import { FakeScorer } from '../support/fake-scorer.ts';
import { TAMPER_KINDS, tamperRecord } from '../support/mutate.ts';

const K1: SigningKey = { kid: 'k1', alg: 'HS256', secret: 'signed-records-property-key-one-0123' };
const K2: SigningKey = { kid: 'k2', alg: 'HS256', secret: 'signed-records-property-key-two-4567' };
const silent = createLogger({ level: 'silent' });
const core = () => createEnforcerCore({ keys: [K1, K2], logger: silent, now: () => T0 });

type Rec = Record<string, unknown> & { tenant: string; agentId: string; seq: number };
const signed: { kind: FeedKind; rec: Rec }[] = [];
let audit: AuditRecord[] = [];

beforeAll(async () => {
  const out: BatchOutputs[] = [];
  const sink: OutputSink = { write: async (o) => void out.push(o), close: async () => undefined };
  const p = new BatchProcessor({
    store: new MemoryStateStore(),
    scorer: new FakeScorer(),
    sink,
    signer: createSigner([K1, K2], 'k1'),
    policy: DEFAULT_POLICY,
    mode: 'enforce',
    ttlMs: 300_000,
    escalation: { rules: [{ minAmount: 100, bands: ['trusted', 'watch', 'restrict', 'block'] }], ttlMs: 5_000, approveCredit: 0.05, denyPenalty: 0.3 },
    audit: { topic: 'audit', partitionOf: (r) => r.position % 3 },
  });
  const events = [
    ...mixedStream(6, 60, 11),
    ...Array.from({ length: 40 }, (_, i) =>
      ev({
        eventId: `pay-${i}`,
        ts: T0 + 3_600_000 + i * 10_000,
        agent: { id: `payer-${i % 4}` },
        action: { name: 'payment.create', amount: 500 + i, currency: 'EUR' },
      }),
    ),
  ];
  for (let i = 0; i < events.length; i += 50) await p.process(toRecords(events.slice(i, i + 50), i + 1));
  for (const o of out) {
    for (const r of o.trust) signed.push({ kind: 'trust', rec: r as unknown as Rec });
    for (const r of o.circuit) signed.push({ kind: 'circuit', rec: r as unknown as Rec });
    for (const r of o.escalations ?? []) signed.push({ kind: 'escalation', rec: r as unknown as Rec });
  }
  audit = out.flatMap((o) => o.audit ?? []);
});

describe('signed records (property-based)', () => {
  it('the pipeline produced records of every feed, all accepted as they are, and a chain that verifies', () => {
    for (const kind of ['trust', 'circuit', 'escalation'] as const) expect(signed.filter((s) => s.kind === kind).length, kind).toBeGreaterThan(2);
    const c = core();
    for (const s of signed) expect(['accepted', 'stale_seq']).toContain(c.ingest(s.kind, JSON.stringify(s.rec)));
    expect(verifyChain(audit).ok).toBe(true);
  }, 60_000);

  it('refuses every tampered record: changed field, mutated signature, swapped kid, removed signature, changed alg', () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...TAMPER_KINDS), fc.integer(), (i, kind, seed) => {
        const s = signed[i % signed.length]!;
        const bad = tamperRecord(s.rec, kind, rng(seed), s.rec.sig && (s.rec.sig as { kid: string }).kid === 'k1' ? 'k2' : 'k1');
        const c = core();
        const outcome = c.ingest(s.kind, JSON.stringify(bad));
        expect(['bad_signature', 'unsigned', 'malformed'], `${kind}: ${outcome}`).toContain(outcome);
        expect(c.metrics().accepted).toBe(0);
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  it('refuses a replayed older seq of an agent and keeps the newer record', () => {
    const byAgent = new Map<string, { kind: FeedKind; rec: Rec }[]>();
    // Trust and circuit feeds: one record per agent and seq (escalations are held per escalation id).
    for (const s of signed.filter((x) => x.kind !== 'escalation')) {
      const k = `${s.kind}/${s.rec.tenant}/${s.rec.agentId}`;
      byAgent.set(k, [...(byAgent.get(k) ?? []), s]);
    }
    const series = [...byAgent.values()].filter((xs) => xs.length >= 2);
    let replays = 0;
    expect(series.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), (a, b, c) => {
        const xs = series[a % series.length]!;
        const newer = xs[b % xs.length]!;
        const olders = xs.filter((x) => x.rec.seq < newer.rec.seq);
        const older = olders[c % Math.max(1, olders.length)];
        if (!older) return;
        replays++;
        const e = core();
        expect(e.ingest(newer.kind, JSON.stringify(newer.rec))).toBe('accepted');
        expect(e.ingest(older.kind, JSON.stringify(older.rec))).toBe('stale_seq');
        expect(e.ingest(newer.kind, JSON.stringify(newer.rec))).toBe('duplicate');
      }),
      { numRuns: 500 },
    );
    expect(replays).toBeGreaterThan(100);
  }, 60_000);

  it('reports every reordered, changed, deleted or inserted audit record', () => {
    expect(audit.length).toBeGreaterThan(10);
    fc.assert(
      fc.property(fc.constantFrom('swap', 'change', 'delete', 'insert'), fc.nat(), fc.nat(), fc.integer(), (op, x, y, seed) => {
        const recs = audit.map((r) => JSON.parse(JSON.stringify(r)) as AuditRecord & Record<string, unknown>);
        // The last record of each chain can only be checked against an anchored head: work before it.
        const last = new Map<number, number>();
        recs.forEach((r, i) => last.set(r.partition, i));
        const inner = recs.map((_, i) => i).filter((i) => ![...last.values()].includes(i));
        const i = inner[x % inner.length]!;
        if (op === 'swap') {
          const same = recs.map((_, j) => j).filter((j) => j !== i && recs[j]!.partition === recs[i]!.partition);
          const j = same[y % same.length]!;
          [recs[i], recs[j]] = [recs[j]!, recs[i]!];
        } else if (op === 'change') {
          const r = rng(seed);
          const keys = Object.keys(recs[i]!.entry);
          const k = keys[Math.floor(r() * keys.length)]!;
          const v = recs[i]!.entry[k];
          (recs[i]!.entry as Record<string, unknown>)[k] = typeof v === 'number' ? v + 1 : `${String(v)}x`;
        } else if (op === 'delete') {
          recs.splice(i, 1);
        } else {
          recs.splice(i, 0, { ...recs[i]!, entry: { ...recs[i]!.entry, inserted: true } });
        }
        const v = verifyChain(recs);
        expect(v.ok, `${op} at ${i}`).toBe(false);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
