/**
 * The one-pass encoders (src/outputs/records.ts, src/audit/chain.ts) against the generic path
 * they replace: the wire text must equal `JSON.stringify(record)` and the signed / hashed text
 * the RFC 8785 `canonicalize` of the record, byte for byte, for awkward strings and numbers.
 */
import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { appendAuditRecord, appendEncodedEntry, auditHash, encodeAuditEntry, verifyChain, type AuditRecord } from '../../src/audit/chain.ts';
import type { Reason } from '../../src/contract/schemas.ts';
import type { Judgement } from '../../src/core/judge.ts';
import { buildCircuitSignal, buildTrustUpdate, trustAuditEntry, type RecordContext } from '../../src/outputs/records.ts';
import { createSigner, createVerifier, signingInput } from '../../src/outputs/sign.ts';
import { wireJson } from '../../src/outputs/wire.ts';

const canonicalize = canonicalizeModule as unknown as (v: unknown) => string;
const signer = createSigner([{ kid: 'k1', alg: 'HS256', secret: 'a test secret that is long enough....' }], 'k1');
const verifier = createVerifier([{ kid: 'k1', alg: 'HS256', secret: 'a test secret that is long enough....' }]);

const STRINGS = ['agent-1', 'ünïcødé "quoted" \\ back', 'tab\there\nnewline', '🤖 astral', '\u2028\u2029', 'x'.repeat(300), '</script>', '\u0000ctl\u001f'];
const NUMBERS = [0, -0, 1, 0.1, 0.30000000000000004, 1e21, 1e-7, 123456.789, 0.9999, 1_767_225_600_000];

function judgement(i: number): Judgement {
  return {
    trust: NUMBERS[i % NUMBERS.length]! / 7,
    band: (['trusted', 'watch', 'restrict', 'block'] as const)[i % 4]!,
    components: { identity: 0.65 + i / 1000, intent: 1 / (i + 3), authorization: NUMBERS[(i + 3) % NUMBERS.length]! },
    circuit: (['closed', 'open', 'half_open', 'forced_open', 'forced_closed'] as const)[i % 5]!,
    circuitChange: null,
    emitTrust: true,
    offences: i % 3,
  };
}

function reasons(i: number): Reason[] {
  const all: Reason[] = [
    { code: 'rate_spike', feature: 'rate_ratio', value: 3.25, baseline: 1 },
    { code: 'new_route' },
    { code: STRINGS[i % STRINGS.length]!, value: NUMBERS[i % NUMBERS.length]! },
    { baseline: 0.5, code: 'reordered_keys', feature: 'f' } as Reason,
    { code: 'feature_only', feature: STRINGS[(i + 1) % STRINGS.length]! },
  ];
  return all.slice(0, i % 6);
}

describe('one-pass record encoding', () => {
  it('trust updates: wire = JSON.stringify, signature over canonicalize, verifiable', () => {
    for (let i = 0; i < 200; i++) {
      const ctx: RecordContext = {
        tenant: i % 3 ? 'default' : 'acme.prod',
        agentId: STRINGS[i % STRINGS.length]!,
        seq: i + 1,
        eventId: STRINGS[(i + 2) % STRINGS.length]!,
        ts: 1_767_225_600_000 + i,
        model: 'trustline-tailsum@2',
        mode: i % 2 ? 'enforce' : 'shadow',
      };
      const tu = buildTrustUpdate(ctx, judgement(i), NUMBERS[i % NUMBERS.length]! / 3, reasons(i), 300_000, signer);
      expect(wireJson(tu)).toBe(JSON.stringify(tu));
      expect(tu.sig).toEqual(signer.sign(tu));
      expect(verifier.verify(JSON.parse(wireJson(tu)) as { sig: unknown })).toBe(true);
      const enc = trustAuditEntry(tu);
      expect(enc.canonical).toBe(canonicalize(enc.entry));
      expect(enc.json).toBe(JSON.stringify(enc.entry));
    }
  });

  it('the wire text is not carried by copies (a spread is serialised afresh)', () => {
    const tu = buildTrustUpdate(
      { tenant: 'default', agentId: 'a', seq: 1, eventId: 'e', ts: 1_767_225_600_000, model: 'm', mode: 'enforce' },
      judgement(1),
      0.5,
      [],
      1000,
      signer,
    );
    const edited = { ...tu, trust: 0.1 };
    expect(wireJson(edited)).toBe(JSON.stringify(edited));
    expect(Object.keys(tu)).not.toContain('wire');
  });

  it('circuit signals carry their JSON', () => {
    const ctx: RecordContext = { tenant: 'default', agentId: 'a"b', seq: 3, eventId: 'e', ts: 1_767_225_600_000, model: 'm', mode: 'enforce' };
    const c = buildCircuitSignal(ctx, { previous: 'closed', state: 'open', until: 1_767_225_660_000 }, 2, reasons(4), signer);
    expect(wireJson(c)).toBe(JSON.stringify(c));
  });

  it('audit records: hash = auditHash (canonical), wire = JSON.stringify, chain verifies, same as appendAuditRecord', () => {
    let head: AuditRecord | { partition: number } = { partition: 2 };
    let generic: AuditRecord | { partition: number } = { partition: 2 };
    const records: AuditRecord[] = [];
    for (let i = 0; i < 50; i++) {
      const ctx: RecordContext = {
        tenant: 'default',
        agentId: STRINGS[i % STRINGS.length]!,
        seq: i + 1,
        eventId: `e-${i}`,
        ts: 1_767_225_600_000 + i,
        model: 'm',
        mode: 'enforce',
      };
      const tu = buildTrustUpdate(ctx, judgement(i), 0.25, reasons(i), 1000, signer);
      const enc =
        i % 2
          ? trustAuditEntry(tu)
          : encodeAuditEntry({ kind: 'control', note: STRINGS[i % STRINGS.length]!, n: NUMBERS[i % NUMBERS.length]!, nested: { z: 1, a: [true, null] } });
      const rec: AuditRecord = appendEncodedEntry(head, enc);
      const ref: AuditRecord = appendAuditRecord(generic, enc.entry);
      expect(rec).toEqual(ref);
      expect(rec.hash).toBe(auditHash(rec));
      expect(wireJson(rec)).toBe(JSON.stringify(rec));
      records.push(JSON.parse(wireJson(rec)) as AuditRecord);
      head = rec;
      generic = ref;
    }
    expect(verifyChain(records)).toMatchObject({ ok: true, count: 50 });
  });

  it('the generic entry encoder rejects what canonical JSON cannot hold', () => {
    expect(() => encodeAuditEntry({ x: Number.NaN })).toThrow(/not canonical JSON/);
    expect(() => encodeAuditEntry([] as unknown as { x: number })).toThrow(/must be a JSON object/);
  });

  it('signingInput of a record still equals the canonical text the fast path signs', () => {
    const tu = buildTrustUpdate(
      { tenant: 'default', agentId: 'a', seq: 1, eventId: 'e', ts: 1_767_225_600_000, model: 'm', mode: 'enforce' },
      judgement(2),
      0.5,
      reasons(5),
      1000,
      signer,
    );
    expect(signer.signCanonical(signingInput(tu))).toEqual(tu.sig);
  });
});
