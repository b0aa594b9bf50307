/**
 * Property-based tests of the event decoder (src/contract/decode.ts) with fast-check: whatever
 * the bytes, `decodeInput` returns a typed event or a coded rejection with a message and a JSON
 * Pointer — it never throws, never pollutes prototypes — and every mutation that makes an event
 * invalid (truncation, invalid UTF-8, lone surrogates, wrong types, missing fields, non-finite
 * numbers, deep nesting, `__proto__`/`constructor` keys, oversize, not an object, tombstones) is
 * rejected. The fuzz script (scripts/fuzz.ts) runs the same mutations a million times.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInput } from '../../src/contract/decode.ts';
import { DLQ_ERROR_CODES } from '../../src/contract/schemas.ts';
import { ev, rng } from '../support/events.ts';
import { MUTATION_KINDS, mutateEvent } from '../support/mutate.ts';

const CODES = new Set<string>(DLQ_ERROR_CODES);

/** A valid event with arbitrary (valid) content in its free-form fields. */
const goodEvent = fc
  .record({
    eventId: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\uD800-\uDFFF]/.test(s)),
    ts: fc.integer({ min: 1_500_000_000_000, max: 2_000_000_000_000 }),
    id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
    status: fc.integer({ min: 100, max: 599 }),
    route: fc.stringMatching(/^\/[a-z{}/]{0,30}$/),
    amount: fc.option(fc.double({ min: 0, max: 1e6, noNaN: true }), { nil: undefined }),
  })
  .map((g) =>
    ev({
      eventId: g.eventId,
      ts: g.ts,
      agent: { id: g.id },
      request: { status: g.status, route: g.route },
      ...(g.amount !== undefined ? { action: { name: 'payment.create', amount: g.amount, currency: 'EUR' } } : {}),
    }),
  );

function expectWellFormed(r: ReturnType<typeof decodeInput>): void {
  if (r.ok) return;
  expect(CODES.has(r.code), `code ${r.code}`).toBe(true);
  expect(r.message.length).toBeGreaterThan(0);
  expect(typeof r.path).toBe('string');
  expect(r.path === '' || r.path.startsWith('/')).toBe(true);
}

describe('decodeInput (property-based)', () => {
  it('accepts every valid event unchanged', () => {
    fc.assert(
      fc.property(goodEvent, (e) => {
        const r = decodeInput(Buffer.from(JSON.stringify(e), 'utf8'));
        expect(r.ok && r.kind === 'event' ? r.event : r).toEqual(e);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('never throws on arbitrary bytes, and every rejection is coded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expectWellFormed(decodeInput(Buffer.from(bytes)));
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  it('never throws on arbitrary JSON documents, and never pollutes a prototype', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 30 }), (doc) => {
        expectWellFormed(decodeInput(Buffer.from(JSON.stringify(doc) ?? 'null', 'utf8')));
      }),
      { numRuns: 1000 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  }, 60_000);

  it('rejects every invalidating mutation of a valid event with a coded reason, and handles the others one way or the other', () => {
    fc.assert(
      fc.property(goodEvent, fc.constantFrom(...MUTATION_KINDS), fc.integer(), (e, kind, seed) => {
        const m = mutateEvent(e as unknown as Record<string, unknown>, kind, rng(seed));
        const r = decodeInput(m.bytes);
        expectWellFormed(r);
        if (m.mustReject) expect(r.ok, `${kind} must be rejected: ${m.bytes?.toString('utf8').slice(0, 200)}`).toBe(false);
        if (kind === 'none' || kind === 'unknown_field') expect(r.ok, kind).toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  }, 60_000);
});
