/**
 * Property-based tests of the whole pipeline in process (BatchProcessor, memory store, the test
 * fake scorer) with fast-check: for any stream of good events from a few agents with hostile
 * mutants mixed in (test/support/mutate.ts), split into chunks of any sizes —
 * - `process` never throws; every record is either scored or dead-lettered, never both, never
 *   neither; a record is dead-lettered exactly when the decoder rejects it, with its original
 *   bytes, source position, code and message; every invalidating mutant is among them;
 * - every trust, circuit and escalation record verifies with the signing key, and the audit
 *   chain verifies with the project's verifier;
 * - the result does not depend on how the stream was chunked (same outputs, same state bytes).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/audit/chain.ts';
import { decodeInput } from '../../src/contract/decode.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { createSigner, createVerifier, type SigningKey } from '../../src/outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../../src/outputs/sink.ts';
import { BatchProcessor, type InputRecord } from '../../src/pipeline/batch-processor.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { T0, ev, rng } from '../support/events.ts';
import { FakeScorer } from '../support/fake-scorer.ts';
import { MUTATION_KINDS, mutateEvent } from '../support/mutate.ts';

const KEY: SigningKey = { kid: 'prop', alg: 'HS256', secret: 'property-test-signing-key-0123456789' };
const verifier = createVerifier([KEY]);

class Collect implements OutputSink {
  all: BatchOutputs[] = [];
  async write(o: BatchOutputs): Promise<void> {
    this.all.push(o);
  }
  async close(): Promise<void> {}
}

async function run(records: readonly InputRecord[], cuts: readonly number[], store = new MemoryStateStore()) {
  const sink = new Collect();
  const p = new BatchProcessor({
    store,
    scorer: new FakeScorer(),
    sink,
    signer: createSigner([KEY], KEY.kid),
    policy: DEFAULT_POLICY,
    mode: 'enforce',
    ttlMs: 300_000,
    escalation: {
      rules: [{ sensitivities: ['high', 'critical'], bands: ['trusted', 'watch', 'restrict', 'block'] }],
      ttlMs: 60_000,
      approveCredit: 0.05,
      denyPenalty: 0.3,
    },
    audit: { topic: 'audit' },
  });
  let applied = 0;
  let skipped = 0;
  let at = 0;
  for (const size of [...cuts, records.length]) {
    const chunk = records.slice(at, at + Math.max(1, size));
    if (!chunk.length) break;
    at += chunk.length;
    const r = await p.process(chunk);
    applied += r.applied;
    skipped += r.skipped;
  }
  const flat = (k: 'trust' | 'circuit' | 'dlq' | 'scores' | 'escalations' | 'audit') => sink.all.flatMap((o) => (o[k] ?? []) as unknown[]);
  return {
    applied,
    skipped,
    store,
    trust: flat('trust'),
    circuit: flat('circuit'),
    dlq: flat('dlq') as BatchOutputs['dlq'],
    scores: flat('scores') as BatchOutputs['scores'],
    escalations: flat('escalations'),
    audit: flat('audit'),
  };
}

/** A stream: `n` good events over `agents` agents (a time step each), some replaced by mutants. */
const stream = fc.record({
  n: fc.integer({ min: 1, max: 80 }),
  agents: fc.integer({ min: 1, max: 5 }),
  seed: fc.integer(),
  mutantShare: fc.double({ min: 0, max: 0.7, noNaN: true }),
  cuts: fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 10 }),
});

function build(g: { n: number; agents: number; seed: number; mutantShare: number }): { records: InputRecord[]; mustReject: Set<number> } {
  const r = rng(g.seed);
  const records: InputRecord[] = [];
  const mustReject = new Set<number>();
  for (let i = 0; i < g.n; i++) {
    const agent = `agent-${Math.floor(r() * g.agents)}`;
    const e = ev({
      eventId: `e-${i}`,
      ts: T0 + i * 1000,
      agent: { id: agent },
      request: { status: r() < 0.1 ? 403 : 200, route: r() < 0.2 ? `/admin/${i}` : '/orders/{id}' },
      ...(r() < 0.3 ? { action: { name: 'payment.create', amount: Math.round(r() * 5000), currency: 'EUR', sensitivity: r() < 0.5 ? 'high' : 'low' } } : {}),
    }) as unknown as Record<string, unknown>;
    let value: Buffer | null = Buffer.from(JSON.stringify(e), 'utf8');
    if (r() < g.mutantShare) {
      const m = mutateEvent(e, MUTATION_KINDS[Math.floor(r() * MUTATION_KINDS.length)]!, r);
      value = m.bytes;
      if (m.mustReject) mustReject.add(i + 1);
    }
    records.push({ value, key: Buffer.from(agent), position: i + 1, source: { topic: 'requests', partition: 0, offset: String(i + 1) } });
  }
  return { records, mustReject };
}

describe('the pipeline (property-based)', () => {
  it('accounts for every record, signs every output, chains the audit log, and does not depend on chunking', async () => {
    await fc.assert(
      fc.asyncProperty(stream, async (g) => {
        const { records, mustReject } = build(g);
        const a = await run(records, g.cuts);
        // Every record scored or dead-lettered, exactly when the decoder says so.
        const rejected = records.filter((rec) => !decodeInput(rec.value).ok).map((rec) => rec.position);
        expect(a.dlq.map((d) => Number(d.source.offset))).toEqual(rejected);
        for (const p of mustReject) expect(rejected).toContain(p);
        expect(a.applied + a.dlq.length).toBe(records.length);
        expect(a.skipped).toBe(0);
        expect(a.scores.length).toBe(records.length - rejected.length);
        for (const d of a.dlq) {
          const src = records[Number(d.source.offset) - 1]!;
          expect(d.value === null ? src.value === null : src.value !== null && Buffer.compare(d.value, src.value) === 0).toBe(true);
          expect(d.code.length).toBeGreaterThan(0);
          expect(d.message.length).toBeGreaterThan(0);
        }
        // Signed outputs and the audit chain.
        for (const rec of [...a.trust, ...a.circuit, ...a.escalations]) expect(verifier.verify(rec as Record<string, unknown>)).toBe(true);
        const chain = verifyChain(a.audit);
        expect(chain.ok, JSON.stringify(chain)).toBe(true);
        // Chunking does not matter: one chunk gives the same bytes.
        const b = await run(records, []);
        expect(JSON.stringify([a.trust, a.circuit, a.escalations, a.audit, a.scores])).toBe(
          JSON.stringify([b.trust, b.circuit, b.escalations, b.audit, b.scores]),
        );
        expect(a.store.entries()).toEqual(b.store.entries());
        // Re-delivering the whole stream to the same state (a crash before any commit) applies nothing twice.
        const again = await run(records, [7], a.store);
        expect(again.applied).toBe(0);
        expect(again.skipped).toBe(a.applied);
        expect(a.store.entries()).toEqual(b.store.entries());
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
