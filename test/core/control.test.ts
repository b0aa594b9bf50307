import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { verifyChain } from '../../src/audit/chain.ts';
import { decodeControl, decodeInput } from '../../src/contract/decode.ts';
import { AgentControlSchema, EscalationSchema, type AgentControl, type Escalation } from '../../src/contract/schemas.ts';
import { CONTROL_TAIL_BYTES, DEFAULT_ESCALATION, escalationReasons, joinStored, splitStored, type EscalationSettings } from '../../src/core/control.ts';
import { STATE_BYTES } from '../../src/core/agent-state.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { routeControlRecord } from '../../src/runners/kafka/control-relay.ts';
import { signControl } from '../../src/control/sign-control.ts';
import { createSigner, createVerifier, type SigningKey } from '../../src/outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../../src/outputs/sink.ts';
import { BatchProcessor, type InputRecord } from '../../src/pipeline/batch-processor.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { T0, ev, toRecords } from '../support/events.ts';
import { FakeScorer } from '../support/fake-scorer.ts';

const OUT_KEY: SigningKey = { kid: 'out-1', alg: 'HS256', secret: 'output signing secret for control tests' };
const OP_KEY: SigningKey = { kid: 'op-1', alg: 'HS256', secret: 'operator secret for control tests ....' };
const WRONG_KEY: SigningKey = { kid: 'op-1', alg: 'HS256', secret: 'not the operator secret, same kid ....' };
const ajv = new Ajv({ strict: false });
const validEscalation = ajv.compile<Escalation>(EscalationSchema);
const validControl = ajv.compile<AgentControl>(AgentControlSchema);

class Capture implements OutputSink {
  readonly all: Required<BatchOutputs> = { trust: [], circuit: [], dlq: [], scores: [], escalations: [], audit: [] };
  async write(o: BatchOutputs): Promise<void> {
    this.all.trust.push(...o.trust);
    this.all.circuit.push(...o.circuit);
    this.all.dlq.push(...o.dlq);
    this.all.scores.push(...o.scores);
    this.all.escalations.push(...(o.escalations ?? []));
    this.all.audit.push(...(o.audit ?? []));
  }
  async close(): Promise<void> {}
}

const EVERY_BAND: EscalationSettings = { ...DEFAULT_ESCALATION, rules: [{ minAmount: 1000, bands: ['trusted', 'watch', 'restrict', 'block'] }] };

function setup(escalation: EscalationSettings = EVERY_BAND) {
  const store = new MemoryStateStore();
  const sink = new Capture();
  const processor = new BatchProcessor({
    store,
    scorer: new FakeScorer(),
    sink,
    signer: createSigner([OUT_KEY], OUT_KEY.kid),
    policy: DEFAULT_POLICY,
    mode: 'enforce',
    ttlMs: 30_000,
    controlVerifier: createVerifier([OP_KEY]),
    escalation,
    audit: { topic: 'agent.audit' },
  });
  return { store, sink, processor };
}

function digest(store: MemoryStateStore): string {
  const h = createHash('sha256');
  for (const [k, v] of store.entries()) h.update(k).update(v);
  return h.digest('hex');
}

const ctl = (over: Partial<Parameters<typeof signControl>[0]> = {}, key = OP_KEY): AgentControl =>
  signControl(
    {
      controlId: `c-${over.action ?? 'force_open'}-${over.issuedAt ?? T0 + 5_000}`,
      agentId: 'agent-1',
      action: 'force_open',
      issuedAt: T0 + 5_000,
      operator: 'alice',
      ...over,
    },
    key,
  );

/** Records at consecutive positions from `first`: events and control records (as JSON bytes). */
function recs(values: readonly (object | Buffer)[], first = 1): InputRecord[] {
  return toRecords(
    values.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v)))),
    first,
  );
}

const calm = (n: number, start = T0): ReturnType<typeof ev>[] => Array.from({ length: n }, (_, i) => ev({ eventId: `calm-${i}`, ts: start + i * 1000 }));

describe('control records: decoding and relay routing', () => {
  it('a signed record validates against the published schema and routes to the agent key', () => {
    const c = ctl();
    expect(validControl(c)).toBe(true);
    expect(decodeControl(JSON.stringify(c))).toMatchObject({ ok: true });
    expect(routeControlRecord(Buffer.from(JSON.stringify(c)), createVerifier([OP_KEY]))).toEqual({ relay: true, key: 'agent-1' });
  });

  it('unsigned, badly signed, malformed and key-less records are dead-lettered with a reason', () => {
    const v = createVerifier([OP_KEY]);
    const { sig: _sig, ...unsigned } = ctl();
    expect(routeControlRecord(Buffer.from(JSON.stringify(unsigned)), v)).toMatchObject({ relay: false, dead: { code: 'unsigned' } });
    expect(routeControlRecord(Buffer.from(JSON.stringify(ctl({}, WRONG_KEY))), v)).toMatchObject({ relay: false, dead: { code: 'bad_signature' } });
    const tampered = { ...ctl(), agentId: 'agent-2' };
    expect(routeControlRecord(Buffer.from(JSON.stringify(tampered)), v)).toMatchObject({ relay: false, dead: { code: 'bad_signature' } });
    expect(routeControlRecord(Buffer.from('{"v":1,"kind":"control"'), v)).toMatchObject({ relay: false, dead: { code: 'invalid_json' } });
    expect(routeControlRecord(Buffer.from(JSON.stringify(ctl({ action: 'allowlist' }))), v)).toMatchObject({
      relay: false,
      dead: { code: 'missing_field', path: '/until' },
    });
    expect(routeControlRecord(Buffer.from(JSON.stringify(ctl())), null)).toMatchObject({ relay: false, dead: { code: 'bad_signature' } });
  });

  it('decodeInput tells control records from events', () => {
    expect(decodeInput(JSON.stringify(ctl()))).toMatchObject({ ok: true, kind: 'control' });
    expect(decodeInput(JSON.stringify(ev()))).toMatchObject({ ok: true, kind: 'event' });
  });

  it('the control tail is stored only when used, and round-trips', () => {
    const state = Buffer.alloc(STATE_BYTES + 1, 7);
    expect(joinStored(state, { lastControlAt: 0, escExpiresAt: 0, escSeq: 0 })).toBe(state);
    const joined = joinStored(state, { lastControlAt: T0, escExpiresAt: T0 + 9, escSeq: 42 });
    expect(joined.length).toBe(STATE_BYTES + 1 + CONTROL_TAIL_BYTES);
    expect(joined.length).toBeLessThanOrEqual(280); // the per-agent record budget (docs/detection.md)
    expect(splitStored(joined, STATE_BYTES + 1).tail).toEqual({ lastControlAt: T0, escExpiresAt: T0 + 9, escSeq: 42 });
  });

  it('escalation rules: amount or critical sensitivity while the band is not trusted (defaults)', () => {
    expect(escalationReasons({ amount: 1000 }, 'watch', DEFAULT_ESCALATION)?.[0]).toEqual({ code: 'amount_at_or_above', value: 1000, baseline: 1000 });
    expect(escalationReasons({ amount: 999 }, 'watch', DEFAULT_ESCALATION)).toBeNull();
    expect(escalationReasons({ amount: 5000 }, 'trusted', DEFAULT_ESCALATION)).toBeNull();
    expect(escalationReasons({ sensitivity: 'critical' }, 'restrict', DEFAULT_ESCALATION)?.[0]).toEqual({ code: 'sensitivity_critical' });
    expect(escalationReasons(undefined, 'block', DEFAULT_ESCALATION)).toBeNull();
  });
});

describe('control records in the request pipeline', () => {
  it('force_open, force_close and reset are applied in order with their own seq and announced', async () => {
    const { sink, processor } = setup();
    await processor.process(
      recs([
        ...calm(3),
        ctl({ action: 'force_open', issuedAt: T0 + 10_000 }),
        ev({ eventId: 'after', ts: T0 + 11_000 }),
        ctl({ action: 'force_close', issuedAt: T0 + 12_000 }),
        ctl({ action: 'reset', issuedAt: T0 + 13_000 }),
      ]),
    );
    expect(sink.all.circuit.map((c) => [c.previous, c.state, c.seq])).toEqual([
      ['closed', 'forced_open', 4],
      ['forced_open', 'forced_closed', 6],
      ['forced_closed', 'closed', 7],
    ]);
    expect(sink.all.scores.find((s) => s.eventId === 'after')).toMatchObject({ circuit: 'forced_open', seq: 5 });
    expect(sink.all.circuit[0]!.reasons).toEqual([{ code: 'operator_force_open' }]);
    expect(sink.all.dlq).toEqual([]);
  });

  it("a control record is applied at max(issuedAt, the agent's last event time)", async () => {
    const { sink, processor } = setup();
    await processor.process(recs([...calm(3, T0 + 60_000), ctl({ issuedAt: T0 })]));
    expect(sink.all.circuit[0]!.issuedAt).toBe(T0 + 62_000);
  });

  it('duplicates (issuedAt not after the last applied) change nothing and emit nothing', async () => {
    const { store, sink, processor } = setup();
    await processor.process(recs([...calm(2), ctl({ issuedAt: T0 + 5_000 })]));
    const before = sink.all.circuit.length;
    await processor.process(recs([ctl({ issuedAt: T0 + 5_000, controlId: 'again' }), ctl({ action: 'force_close', issuedAt: T0 + 4_000 })], 4));
    expect(sink.all.circuit.length).toBe(before);
    const d = digest(store);
    // and re-delivering the same positions is skipped by the watermark
    await processor.process(recs([ctl({ action: 'force_close', issuedAt: T0 + 9_000 })], 5));
    expect(digest(store)).toBe(d);
  });

  it("a duplicate takes no seq: the next record continues the agent's numbering without a gap", async () => {
    const { sink, processor } = setup();
    await processor.process(recs([...calm(2), ctl({ issuedAt: T0 + 5_000 })]));
    const last = sink.all.circuit.at(-1)!.seq;
    expect(last).toBe(3);
    await processor.process(recs([ctl({ issuedAt: T0 + 5_000, controlId: 'again' }), ctl({ action: 'force_close', issuedAt: T0 + 6_000 })], 4));
    expect(sink.all.circuit.at(-1)).toMatchObject({ state: 'forced_closed', seq: last + 1 });
  });

  it('unsigned and badly signed control records in the requests stream are dead-lettered and change nothing', async () => {
    const { store, sink, processor } = setup();
    await processor.process(recs(calm(3)));
    const d = digest(store);
    const { sig: _sig, ...unsigned } = ctl();
    await processor.process(recs([unsigned, ctl({}, WRONG_KEY), { ...ctl(), agentId: 'agent-9' }], 4));
    expect(sink.all.dlq.map((x) => x.code)).toEqual(['unsigned', 'bad_signature', 'bad_signature']);
    expect(sink.all.circuit).toEqual([]);
    expect(digest(store)).toBe(d);
  });

  it('allowlist forces the circuit closed until `until`; the first event at or after it returns it to closed, announced', async () => {
    const { sink, processor } = setup();
    const until = T0 + 20_000;
    await processor.process(
      recs([
        ...calm(2),
        ctl({ action: 'allowlist', issuedAt: T0 + 3_000, until }),
        ev({ eventId: 'during', ts: T0 + 10_000 }),
        ev({ eventId: 'at', ts: until }),
      ]),
    );
    expect(sink.all.circuit.map((c) => [c.previous, c.state, c.until])).toEqual([
      ['closed', 'forced_closed', until],
      ['forced_closed', 'closed', undefined],
    ]);
    expect(sink.all.scores.find((s) => s.eventId === 'during')!.circuit).toBe('forced_closed');
    expect(sink.all.scores.find((s) => s.eventId === 'at')!.circuit).toBe('closed');
  });
});

describe('escalations', () => {
  const pay = (id: string, ts: number, amount = 2500) =>
    ev({ eventId: id, ts, action: { name: 'payment.create', amount, currency: 'EUR', sensitivity: 'high' } });

  it('a matching action emits one pending Escalation with a deterministic id; no second one while pending', async () => {
    const { sink, processor } = setup();
    await processor.process(recs([...calm(3), pay('p1', T0 + 5_000), pay('p2', T0 + 6_000), pay('small', T0 + 7_000, 10)]));
    expect(sink.all.escalations).toHaveLength(1);
    const e = sink.all.escalations[0]!;
    expect(validEscalation(e)).toBe(true);
    expect(e).toMatchObject({
      escalationId: 'agent-1:4',
      seq: 4,
      eventId: 'p1',
      status: 'pending',
      expiresAt: T0 + 5_000 + DEFAULT_ESCALATION.ttlMs,
      action: { name: 'payment.create', amount: 2500, currency: 'EUR' },
    });
    expect(e.reasons[0]).toEqual({ code: 'amount_at_or_above', value: 2500, baseline: 1000 });
  });

  it('approve: the escalation is re-emitted approved, trust gets a credit; a second decision is ignored', async () => {
    const { sink, processor, store } = setup();
    await processor.process(recs([...calm(3), pay('p1', T0 + 5_000)]));
    await processor.process(recs([ctl({ action: 'escalation_decision', escalationId: 'agent-1:4', decision: 'approve', issuedAt: T0 + 6_000 })], 5));
    expect(sink.all.escalations.map((e) => [e.escalationId, e.status, e.decidedBy, e.seq])).toEqual([
      ['agent-1:4', 'pending', undefined, 4],
      ['agent-1:4', 'approved', 'alice', 4],
    ]);
    const d = digest(store);
    await processor.process(recs([ctl({ action: 'escalation_decision', escalationId: 'agent-1:4', decision: 'deny', issuedAt: T0 + 7_000 })], 6));
    expect(sink.all.escalations).toHaveLength(2);
    expect(sink.all.audit.at(-1)!.entry).toMatchObject({ kind: 'control', outcome: 'ignored', detail: 'no such pending escalation' });
    expect(digest(store)).not.toBe(d); // the ignored decision still advanced the watermark and seq
  });

  it('deny: re-emitted denied, the circuit opens with a CircuitSignal', async () => {
    const { sink, processor } = setup();
    await processor.process(
      recs([...calm(3), pay('p1', T0 + 5_000), ctl({ action: 'escalation_decision', escalationId: 'agent-1:4', decision: 'deny', issuedAt: T0 + 6_000 })]),
    );
    expect(sink.all.escalations.map((e) => e.status)).toEqual(['pending', 'denied']);
    expect(sink.all.circuit.at(-1)).toMatchObject({
      previous: 'closed',
      state: 'open',
      seq: 5,
      offences: 1,
      until: T0 + 6_000 + DEFAULT_POLICY.breaker.baseCooldownMs,
    });
  });

  it('a decision after expiresAt is ignored', async () => {
    const { sink, processor } = setup();
    await processor.process(
      recs([
        ...calm(3),
        pay('p1', T0 + 5_000),
        ctl({ action: 'escalation_decision', escalationId: 'agent-1:4', decision: 'approve', issuedAt: T0 + 5_000 + DEFAULT_ESCALATION.ttlMs }),
      ]),
    );
    expect(sink.all.escalations.map((e) => e.status)).toEqual(['pending']);
    expect(sink.all.audit.at(-1)!.entry).toMatchObject({ kind: 'control', outcome: 'ignored', detail: 'escalation expired' });
  });
});

describe('audit chain from the pipeline', () => {
  it('every emitted record and applied control is chained; chunks continue the stored head; the chain verifies', async () => {
    const { sink, processor } = setup();
    const all = recs([
      ...calm(5),
      ctl({ issuedAt: T0 + 10_000 }),
      ...calm(3, T0 + 11_000).map((e, i) => ({ ...e, eventId: `late-${i}` })),
      ctl({ action: 'reset', issuedAt: T0 + 20_000 }),
    ]);
    await processor.process(all.slice(0, 4));
    await processor.process(all.slice(4));
    const kinds = sink.all.audit.map((r) => r.entry.kind);
    expect(kinds.filter((k) => k === 'control')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'circuit')).toHaveLength(sink.all.circuit.length);
    expect(kinds.filter((k) => k === 'trust')).toHaveLength(sink.all.trust.length);
    expect(sink.all.audit.map((r) => r.index)).toEqual(sink.all.audit.map((_, i) => i));
    expect(verifyChain(sink.all.audit)).toMatchObject({ ok: true, count: sink.all.audit.length });
  });

  it('re-processing a chunk whose save was lost re-emits byte-identical audit records', async () => {
    const store = new MemoryStateStore();
    const sinkA = new Capture();
    const mk = (sink: OutputSink) =>
      new BatchProcessor({
        store,
        scorer: new FakeScorer(),
        sink,
        signer: createSigner([OUT_KEY], OUT_KEY.kid),
        policy: DEFAULT_POLICY,
        mode: 'enforce',
        ttlMs: 30_000,
        controlVerifier: createVerifier([OP_KEY]),
        escalation: EVERY_BAND,
        audit: { topic: 'agent.audit' },
      });
    const all = recs([...calm(4), ctl({ issuedAt: T0 + 10_000 })]);
    await mk(sinkA).process(all.slice(0, 2));
    // A crash after the outputs were produced but before the save: a sink that writes, then a store that refuses.
    const lost = new Capture();
    const failing = new BatchProcessor({
      store: {
        ...store,
        loadMany: (k) => store.loadMany(k),
        loadAuditHeads: (c) => store.loadAuditHeads(c),
        saveMany: () => Promise.reject(new Error('crash')),
        clear: () => store.clear(),
        close: () => store.close(),
      },
      scorer: new FakeScorer(),
      sink: lost,
      signer: createSigner([OUT_KEY], OUT_KEY.kid),
      policy: DEFAULT_POLICY,
      mode: 'enforce',
      ttlMs: 30_000,
      controlVerifier: createVerifier([OP_KEY]),
      escalation: EVERY_BAND,
      audit: { topic: 'agent.audit' },
    });
    await expect(failing.process(all.slice(2))).rejects.toThrow('crash');
    await mk(sinkA).process(all.slice(2));
    expect(lost.all.audit.map((r) => JSON.stringify(r))).toEqual(sinkA.all.audit.slice(-lost.all.audit.length).map((r) => JSON.stringify(r)));
    // The log as the topic holds it: the lost attempt's records, then the same again.
    const onTopic = [
      ...sinkA.all.audit.slice(0, sinkA.all.audit.length - lost.all.audit.length),
      ...lost.all.audit,
      ...sinkA.all.audit.slice(-lost.all.audit.length),
    ];
    expect(verifyChain(onTopic)).toMatchObject({ ok: true });
  });
});
