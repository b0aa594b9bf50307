import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { CircuitSignalSchema, TrustUpdateSchema, type AgentRequestEvent, type CircuitSignal, type TrustUpdate } from '../../src/contract/schemas.ts';
import { D, STATE_BYTES, decodeState } from '../../src/core/agent-state.ts';
import { FEATURE_COUNT } from '../../src/core/features.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { createSigner, createVerifier, type SigningKey } from '../../src/outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../../src/outputs/sink.ts';
import { BatchProcessor, type InputRecord } from '../../src/pipeline/batch-processor.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import type { AgentKey, SaveEntry, SaveOutcome, StateStore } from '../../src/state/store.ts';
import { watermarkOf } from '../../src/state/store.ts';
import { PEER_TENANT } from '../../src/core/peers.ts';
import { T0, ev, mixedStream, toRecords } from '../support/events.ts';
import { FakeScorer } from '../support/fake-scorer.ts';

const KEY: SigningKey = { kid: 'test-1', alg: 'HS256', secret: 'pipeline test secret ................' };
const ajv = new Ajv({ strict: true });
const validTrust = ajv.compile<TrustUpdate>(TrustUpdateSchema);
const validCircuit = ajv.compile<CircuitSignal>(CircuitSignalSchema);

/** Collects everything written, in write order. */
class CapturingSink implements OutputSink {
  readonly all: BatchOutputs = { trust: [], circuit: [], dlq: [], scores: [] };
  writes = 0;
  failNext = false;

  async write(o: BatchOutputs): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('broker unavailable');
    }
    this.writes++;
    this.all.trust.push(...o.trust);
    this.all.circuit.push(...o.circuit);
    this.all.dlq.push(...o.dlq);
    this.all.scores.push(...o.scores);
  }

  async close(): Promise<void> {}
}

function setup(store: StateStore = new MemoryStateStore(), mode: 'enforce' | 'shadow' = 'enforce') {
  const sink = new CapturingSink();
  const scorer = new FakeScorer();
  const processor = new BatchProcessor({ store, scorer, sink, signer: createSigner([KEY], KEY.kid), policy: DEFAULT_POLICY, mode, ttlMs: 30_000 });
  return { store, sink, scorer, processor };
}

async function runInBatches(p: BatchProcessor, records: readonly InputRecord[], size: number): Promise<void> {
  for (let i = 0; i < records.length; i += size) await p.process(records.slice(i, i + size));
}

/** Every output as text (DLQ values as base64): byte-identical outputs ⇔ equal strings. */
function outputText(o: BatchOutputs): string {
  return JSON.stringify({
    trust: o.trust,
    circuit: o.circuit,
    scores: o.scores,
    dlq: o.dlq.map((d) => ({ ...d, value: d.value?.toString('base64') ?? null, key: d.key?.toString('base64') ?? null })),
  });
}

/** The agents' records in the store (it also holds the peer-group records, src/core/peers.ts). */
function agentEntries(store: MemoryStateStore): [string, Uint8Array][] {
  return store.entries().filter(([k]) => !k.startsWith(`${PEER_TENANT}\u0000`));
}

function stateText(store: MemoryStateStore): string {
  return JSON.stringify(store.entries().map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

const EVENTS = mixedStream(6, 120, 21);
const BAD_LINES: Buffer[] = [
  Buffer.from('{"v":1,"eventId":'), // truncated JSON
  Buffer.from('{"v":2,"eventId":"x","ts":1700000000000}'), // unknown version
  Buffer.from(JSON.stringify({ ...ev(), request: { method: 'GET', status: 200 } })), // no route
  Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // invalid UTF-8
  Buffer.from('[]'),
];
/** The mixed stream with the bad lines spread through it. */
const LINES: (AgentRequestEvent | Buffer)[] = (() => {
  const out: (AgentRequestEvent | Buffer)[] = [...EVENTS];
  BAD_LINES.forEach((b, i) => out.splice(50 + i * 97, 0, b));
  return out;
})();
const RECORDS = toRecords(LINES);

describe('BatchProcessor', () => {
  it('scores good lines and turns bad ones into dead letters with the original bytes', async () => {
    const { processor, sink } = setup();
    const tombstone: InputRecord = {
      value: null,
      key: Buffer.from('agent-0'),
      position: RECORDS.length + 1,
      source: { topic: 'agent.requests', partition: 0, offset: String(RECORDS.length + 1) },
    };
    const res = await processor.process([...RECORDS, tombstone]);
    expect(res.applied).toBe(EVENTS.length);
    expect(res.dead).toBe(BAD_LINES.length + 1);
    expect(sink.all.scores.length).toBe(EVENTS.length);
    expect(sink.all.dlq.map((d) => d.code)).toEqual([
      'invalid_json',
      'unsupported_version',
      'missing_field',
      'invalid_utf8',
      'not_an_object',
      expect.any(String),
    ]);
    sink.all.dlq.slice(0, BAD_LINES.length).forEach((d, i) => {
      expect(Buffer.compare(d.value!, BAD_LINES[i]!)).toBe(0);
      const rec = RECORDS.find((r) => r.value === d.value)!;
      expect(d.source).toEqual(rec.source);
      expect(d.message.length).toBeGreaterThan(0);
    });
    expect(sink.all.dlq.at(-1)!.value).toBeNull();
    expect(sink.all.dlq.at(-1)!.key?.toString()).toBe('agent-0');
  });

  it('a batch of only bad lines produces dead letters and touches no state', async () => {
    const { processor, sink, store, scorer } = setup();
    const res = await processor.process(toRecords(BAD_LINES));
    expect(res).toMatchObject({ applied: 0, dead: BAD_LINES.length, staleSaves: 0 });
    expect(sink.all.dlq.length).toBe(BAD_LINES.length);
    expect((store as MemoryStateStore).size).toBe(0);
    expect(scorer.calls).toEqual([]);
  });

  it('calls the model once per batch with one row per applied event', async () => {
    const { processor, scorer } = setup();
    await runInBatches(processor, RECORDS, 100);
    expect(scorer.calls.length).toBe(Math.ceil(RECORDS.length / 100));
    expect(scorer.calls.reduce((a, b) => a + b, 0)).toBe(EVENTS.length);
    for (const row of scorer.rows) expect(row.length).toBe(FEATURE_COUNT);
  });

  it('gives byte-identical outputs and final states in batches of 1, 7 and 1000', async () => {
    const runs = await Promise.all(
      [1, 7, 1000].map(async (size) => {
        const { processor, sink, store } = setup();
        await runInBatches(processor, RECORDS, size);
        return { out: outputText(sink.all), state: stateText(store as MemoryStateStore), sink };
      }),
    );
    expect(runs[0]!.sink.all.trust.length).toBeGreaterThan(10);
    expect(runs[0]!.sink.all.circuit.length).toBeGreaterThan(0);
    expect(runs[1]!.out).toBe(runs[0]!.out);
    expect(runs[2]!.out).toBe(runs[0]!.out);
    expect(runs[1]!.state).toBe(runs[0]!.state);
    expect(runs[2]!.state).toBe(runs[0]!.state);
  });

  it('re-processing records already applied produces no outputs and no state change (exactly once)', async () => {
    const { processor, sink, store } = setup();
    const good = toRecords(EVENTS);
    await runInBatches(processor, good, 50);
    const before = stateText(store as MemoryStateStore);
    const written = outputText(sink.all);
    for (const size of [1, 13, 1000]) {
      let applied = 0;
      let skipped = 0;
      for (let i = 0; i < good.length; i += size) {
        const r = await processor.process(good.slice(i, i + size));
        applied += r.applied;
        skipped += r.skipped;
        expect(r.outputs.trust.length + r.outputs.circuit.length + r.outputs.scores.length).toBe(0);
      }
      expect(applied).toBe(0);
      expect(skipped).toBe(good.length);
    }
    expect(stateText(store as MemoryStateStore)).toBe(before);
    expect(outputText(sink.all)).toBe(written);
  });

  it('an overlapping replay applies only the new records and ends where a clean run ends', async () => {
    const good = toRecords(EVENTS);
    const clean = setup();
    await runInBatches(clean.processor, good, 64);

    const replay = setup();
    await runInBatches(replay.processor, good.slice(0, 400), 64);
    const res = await replay.processor.process(good.slice(300, 500)); // 100 old + 100 new
    expect(res.skipped).toBe(100);
    expect(res.applied).toBe(100);
    await runInBatches(replay.processor, good.slice(450), 64);
    expect(stateText(replay.store as MemoryStateStore)).toBe(stateText(clean.store as MemoryStateStore));
    expect(outputText(replay.sink.all)).toBe(outputText(clean.sink.all));
  });

  it('saves state only after outputs were written: a failed write loses nothing and the retry is byte-identical', async () => {
    const good = toRecords(EVENTS);
    const clean = setup();
    await runInBatches(clean.processor, good, 100);

    const { processor, sink, store } = setup();
    await processor.process(good.slice(0, 100));
    const saved = stateText(store as MemoryStateStore);
    sink.failNext = true;
    await expect(processor.process(good.slice(100, 200))).rejects.toThrow('broker unavailable');
    expect(stateText(store as MemoryStateStore)).toBe(saved); // nothing applied: the batch will be redelivered
    await runInBatches(processor, good.slice(100), 100);
    expect(outputText(sink.all)).toBe(outputText(clean.sink.all));
    expect(stateText(store as MemoryStateStore)).toBe(stateText(clean.store as MemoryStateStore));
  });

  it('a zombie instance holding older state cannot overwrite newer state', async () => {
    const good = toRecords(EVENTS);
    const live = new MemoryStateStore();
    const a = setup(live);
    await a.processor.process(good.slice(0, 200));
    // The zombie loaded its states before the live instance went on …
    const snapshot = new MemoryStateStore();
    await snapshot.saveMany(live.entries().map(([id, bytes]) => ({ key: keyOf(id), watermark: watermarkOf(bytes), state: bytes })));
    await a.processor.process(good.slice(200, 400));
    const newer = stateText(live);
    // … and now processes a batch it was assigned before the rebalance.
    const zombieStore: StateStore = {
      loadMany: (keys: readonly AgentKey[]) => snapshot.loadMany(keys),
      saveMany: (entries: readonly SaveEntry[]): Promise<SaveOutcome[]> => live.saveMany(entries),
      clear: () => live.clear(),
      close: async () => {},
    };
    const zombie = setup(zombieStore);
    const res = await zombie.processor.process(good.slice(200, 300));
    expect(res.applied).toBe(100);
    expect(res.staleSaves).toBeGreaterThan(0);
    expect(res.staleSaves).toBe(new Set(EVENTS.slice(200, 300).map((e) => e.agent.id)).size);
    expect(stateText(live)).toBe(newer);
    // Its outputs are the bytes the live instance produced for those records (consumers dedupe on (agentId, seq)).
    const liveRun = setup();
    await liveRun.processor.process(good.slice(0, 200));
    const expected = await liveRun.processor.process(good.slice(200, 300));
    expect(outputText(zombie.sink.all)).toBe(outputText(expected.outputs));
  });

  it('orders records by source position within an agent, with seq counting applied events', async () => {
    const { processor, sink } = setup();
    await runInBatches(processor, RECORDS, 37);
    const posOf = new Map(RECORDS.map((r) => [r.value!.toString(), r.position]));
    const eventPos = new Map(EVENTS.map((e) => [e.eventId, posOf.get(JSON.stringify(e))!]));
    const byAgent = new Map<string, { seq: number; pos: number }[]>();
    for (const s of sink.all.scores) {
      const list = byAgent.get(s.agentId) ?? [];
      list.push({ seq: s.seq, pos: eventPos.get(s.eventId)! });
      byAgent.set(s.agentId, list);
    }
    expect(byAgent.size).toBe(6);
    for (const [, list] of byAgent) {
      list.forEach((x, i) => expect(x.seq).toBe(i + 1));
      for (let i = 1; i < list.length; i++) expect(list[i]!.pos).toBeGreaterThan(list[i - 1]!.pos);
    }
    // Trust updates and circuit signals follow the same order per agent.
    for (const kind of [sink.all.trust, sink.all.circuit] as const) {
      const last = new Map<string, number>();
      for (const r of kind) {
        expect(r.seq).toBeGreaterThan(last.get(r.agentId) ?? 0);
        last.set(r.agentId, r.seq);
      }
    }
    // Out-of-order event times were clamped forward: per-agent output time never goes back.
    const lastTs = new Map<string, number>();
    for (const s of sink.all.scores) {
      expect(s.ts).toBeGreaterThanOrEqual(lastTs.get(s.agentId) ?? 0);
      lastTs.set(s.agentId, s.ts);
    }
    // … and the input really had some.
    const maxTs = new Map<string, number>();
    let backwards = 0;
    for (const e of EVENTS) {
      if (e.ts < (maxTs.get(e.agent.id) ?? 0)) backwards++;
      maxTs.set(e.agent.id, Math.max(e.ts, maxTs.get(e.agent.id) ?? 0));
    }
    expect(backwards).toBeGreaterThan(3);
  });

  it('every TrustUpdate and CircuitSignal validates against the published schema and verifies', async () => {
    const { processor, sink } = setup(new MemoryStateStore(), 'shadow');
    await runInBatches(processor, RECORDS, 50);
    const verifier = createVerifier([KEY]);
    expect(sink.all.trust.length).toBeGreaterThan(10);
    expect(sink.all.circuit.length).toBeGreaterThan(0);
    for (const t of sink.all.trust) {
      expect(validTrust(t), JSON.stringify(validTrust.errors)).toBe(true);
      expect(verifier.verify(t)).toBe(true);
      expect(verifier.verify(JSON.parse(JSON.stringify(t)) as TrustUpdate)).toBe(true);
      expect(t.mode).toBe('shadow');
      expect(t.model).toBe('fake@1');
      expect(t.ttlMs).toBe(30_000);
    }
    for (const c of sink.all.circuit) {
      expect(validCircuit(c), JSON.stringify(validCircuit.errors)).toBe(true);
      expect(verifier.verify(c)).toBe(true);
      expect(c.mode).toBe('shadow');
      // Every signal is a change of state, or an open circuit re-opened with a new `until`.
      if (c.state === c.previous) expect(c.state).toBe('open');
      expect(c.until !== undefined).toBe(c.state === 'open');
      expect(c.probeBudget !== undefined).toBe(c.state === 'half_open');
    }
    // The circuit stream of each agent is a consistent chain of transitions.
    const circuitOf = new Map<string, string>();
    for (const c of sink.all.circuit) {
      expect(c.previous).toBe(circuitOf.get(`${c.tenant}/${c.agentId}`) ?? 'closed');
      circuitOf.set(`${c.tenant}/${c.agentId}`, c.state);
    }
  });

  it('the first event of every agent emits a TrustUpdate with seq 1', async () => {
    const { processor, sink } = setup();
    await runInBatches(processor, RECORDS, 1000);
    const agents = new Set(EVENTS.map((e) => `${e.tenant ?? 'default'}/${e.agent.id}`));
    const firsts = sink.all.trust.filter((t) => t.seq === 1).map((t) => `${t.tenant}/${t.agentId}`);
    expect(new Set(firsts)).toEqual(agents);
  });

  it('keeps state per (tenant, agent)', async () => {
    const { processor, store, sink } = setup();
    const events = [
      ev({ agent: { id: 'same' }, ts: T0 }),
      ev({ agent: { id: 'same' }, tenant: 'acme', ts: T0 + 1 }),
      ev({ agent: { id: 'same' }, ts: T0 + 2 }),
    ];
    await processor.process(toRecords(events));
    expect((store as MemoryStateStore).size).toBe(2);
    expect(sink.all.scores.map((s) => s.seq)).toEqual([1, 1, 2]);
    for (const [, bytes] of agentEntries(store as MemoryStateStore)) {
      expect(bytes.byteLength).toBe(STATE_BYTES + 1);
      expect(decodeState(bytes)!.d[D.watermark]).toBeGreaterThan(0);
    }
  });

  it("stores the position of the last applied event as each agent's watermark", async () => {
    const { processor, store } = setup();
    await runInBatches(processor, RECORDS, 100);
    const good = new Set(EVENTS.map((e) => JSON.stringify(e)));
    const lastPos = new Map<string, number>();
    for (const r of RECORDS) {
      const text = r.value!.toString();
      if (!good.has(text)) continue;
      const e = JSON.parse(text) as { tenant?: string; agent: { id: string } };
      lastPos.set(`${e.tenant ?? 'default'}\u0000${e.agent.id}`, r.position);
    }
    expect(lastPos.size).toBe(6);
    for (const [id, bytes] of agentEntries(store as MemoryStateStore)) expect(watermarkOf(bytes), id).toBe(lastPos.get(id));
    // A peer-group record's watermark is the position of the last event of its group.
    const peerEntries = (store as MemoryStateStore).entries().filter(([k]) => k.startsWith(`${PEER_TENANT}\u0000`));
    expect(peerEntries.length).toBeGreaterThan(0);
    for (const [id, bytes] of peerEntries) expect(watermarkOf(bytes), id).toBeLessThanOrEqual(Math.max(...lastPos.values()));
    expect(Math.max(...peerEntries.map(([, b]) => watermarkOf(b)))).toBe(Math.max(...lastPos.values()));
  });

  it('the outputs of an event do not depend on the events after it in the same batch', async () => {
    const calm = ev({ eventId: 'calm', ts: T0 + 1_000 });
    const denied = [2_000, 3_000, 4_000].map((dt, i) =>
      ev({ eventId: `denied-${i}`, ts: T0 + dt, request: { status: 403 }, action: { requiredScope: 'admin:write' } }),
    );
    const records = toRecords([ev({ eventId: 'first', ts: T0 }), calm, ...denied]);
    const oneByOne = setup();
    for (const r of records) await oneByOne.processor.process([r]);
    const together = setup();
    await together.processor.process(records);
    const calmScore = (o: BatchOutputs) => JSON.stringify(o.scores.find((x) => x.eventId === 'calm'));
    expect(calmScore(together.sink.all)).toBe(calmScore(oneByOne.sink.all));
    expect(outputText(together.sink.all)).toBe(outputText(oneByOne.sink.all));
  });
});

function keyOf(id: string): AgentKey {
  const [tenant, agentId] = id.split('\u0000') as [string, string];
  return { tenant, agentId };
}
