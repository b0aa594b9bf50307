/**
 * The batch pipeline shared by `trustline run` (Kafka + Redis) and `trustline replay`
 * (file + memory): decode all → group by agent → load their states in one round trip → pure
 * per-event features in source order → score the whole batch in one model call → trust and
 * breaker → produce outputs → save states (compare-and-set) in one round trip.
 *
 * Guarantees (design §2): outputs are written before states are saved, and the caller commits
 * source positions only after `process` resolves. An event whose position is not above its
 * agent's stored watermark was already applied and is skipped, so state is applied exactly
 * once; everything here is a function of (stored state, event), so a re-processed event
 * yields byte-identical outputs. Bad input is turned into dead letters, never an exception.
 */
import { decodeEvent } from '../contract/decode.ts';
import type { AgentRequestEvent, Mode } from '../contract/schemas.ts';
import { D, decodeState, encodeState, isInitialised, newAgentState, type AgentState } from '../core/agent-state.ts';
import { FEATURE_COUNT, observe, type Signals } from '../core/features.ts';
import { judge, type Policy } from '../core/judge.ts';
import { explain, type FeatureStats } from '../core/reasons.ts';
import { buildCircuitSignal, buildTrustUpdate, type RecordContext } from '../outputs/records.ts';
import type { Signer } from '../outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../outputs/sink.ts';
import type { AgentKey, SaveEntry, StateStore } from '../state/store.ts';

/** One input record from any source. */
export type InputRecord = {
  value: Buffer | null;
  key: Buffer | null;
  /** Monotonic position within the source partition (Kafka offset, file line). */
  position: number;
  source: { topic: string; partition: number; offset: string };
};

/** The scoring model as the pipeline sees it: one call per batch. */
export interface AnomalyScorer {
  readonly modelId: string;
  readonly featureStats: FeatureStats;
  /** Calibrated anomaly in [0,1] for each row of a row-major [rows × FEATURE_COUNT] matrix. */
  score(matrix: Float32Array, rows: number): Promise<Float32Array>;
}

export type PipelineDeps = {
  store: StateStore;
  scorer: AnomalyScorer;
  sink: OutputSink;
  signer: Signer;
  policy: Policy;
  mode: Mode;
  ttlMs: number;
};

/** Time spent per stage, accumulated across batches (ms). */
export type StageTimes = { decode: number; load: number; features: number; score: number; trust: number; emit: number; save: number };

export type BatchResult = {
  applied: number;
  skipped: number;
  dead: number;
  outputs: BatchOutputs;
  staleSaves: number;
  /** Time spent in this call per stage (ms). */
  times: StageTimes;
};

type Pending = { event: AgentRequestEvent; rec: InputRecord; slot: AgentSlot; ts: number; dt: number; first: boolean; signals: Signals; seq: number };
type AgentSlot = { key: AgentKey; state: AgentState; touched: boolean };

const now = (): number => performance.now();

export class BatchProcessor {
  readonly times: StageTimes = { decode: 0, load: 0, features: 0, score: 0, trust: 0, emit: 0, save: 0 };

  constructor(private readonly deps: PipelineDeps) {}

  async process(records: readonly InputRecord[]): Promise<BatchResult> {
    const { store, scorer, sink, signer, policy, mode, ttlMs } = this.deps;
    const outputs: BatchOutputs = { trust: [], circuit: [], dlq: [], scores: [] };
    const times: StageTimes = { decode: 0, load: 0, features: 0, score: 0, trust: 0, emit: 0, save: 0 };

    // 1. Decode all.
    let t = now();
    const valid: { event: AgentRequestEvent; rec: InputRecord }[] = [];
    for (const rec of records) {
      const r = decodeEvent(rec.value);
      if (r.ok) valid.push({ event: r.event, rec });
      else outputs.dlq.push({ value: rec.value, key: rec.key, code: r.code, message: r.message, path: r.path, source: rec.source });
    }
    times.decode = now() - t;

    // 2. Group by agent, load all states in one round trip.
    t = now();
    const slots = new Map<string, AgentSlot>();
    for (const { event } of valid) {
      const tenant = event.tenant ?? 'default';
      const id = `${tenant}\u0000${event.agent.id}`;
      if (!slots.has(id)) slots.set(id, { key: { tenant, agentId: event.agent.id }, state: newAgentState(), touched: false });
    }
    const slotList = [...slots.values()];
    const loaded = slotList.length ? await store.loadMany(slotList.map((s) => s.key)) : [];
    for (let i = 0; i < slotList.length; i++) {
      const bytes = loaded[i];
      if (bytes) {
        const st = decodeState(bytes);
        // An unreadable record (older layout) restarts the agent's baseline rather than stopping the stream.
        if (st) slotList[i]!.state = st;
      }
    }
    times.load = now() - t;

    // 3. Pure per-event features in source order; skip what was already applied.
    t = now();
    // Per call: several partitions' batches may be in flight at once (their agents are disjoint).
    const matrix = new Float32Array(valid.length * FEATURE_COUNT);
    const pending: Pending[] = [];
    let skipped = 0;
    for (const { event, rec } of valid) {
      const slot = slots.get(`${event.tenant ?? 'default'}\u0000${event.agent.id}`)!;
      const s = slot.state;
      if (rec.position <= s.d[D.watermark]!) {
        skipped++;
        continue;
      }
      const first = !isInitialised(s);
      const ts = first ? event.ts : Math.max(event.ts, s.d[D.lastTs]!); // clamp out-of-order time forward
      const dt = first ? 0 : ts - s.d[D.lastTs]!;
      const signals = observe(s, event, ts, matrix, pending.length * FEATURE_COUNT);
      s.d[D.watermark] = rec.position;
      slot.touched = true;
      pending.push({ event, rec, slot, ts, dt, first, signals, seq: s.d[D.seq]! });
    }
    times.features = now() - t;

    // 4. One model call for the whole batch.
    t = now();
    const anomalies = pending.length ? await scorer.score(matrix.subarray(0, pending.length * FEATURE_COUNT), pending.length) : new Float32Array(0);
    times.score = now() - t;

    // 5. Trust, breaker and records, in source order.
    t = now();
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!;
      const anomaly = Math.round(anomalies[i]! * 10_000) / 10_000;
      const j = judge(p.slot.state, p.signals, anomaly, p.ts, p.dt, p.first, policy);
      const reasons = explain(p.signals, matrix, i * FEATURE_COUNT, anomaly, scorer.featureStats);
      const ctx: RecordContext = { tenant: p.slot.key.tenant, agentId: p.slot.key.agentId, seq: p.seq, eventId: p.event.eventId, ts: p.ts, model: scorer.modelId, mode };
      if (j.circuitChange) outputs.circuit.push(buildCircuitSignal(ctx, j.circuitChange, j.offences, reasons, signer));
      if (j.emitTrust) outputs.trust.push(buildTrustUpdate(ctx, j, anomaly, reasons, ttlMs, signer));
      outputs.scores.push({ agentId: ctx.agentId, eventId: ctx.eventId, seq: ctx.seq, ts: ctx.ts, anomaly, trust: Math.round(j.trust * 10_000) / 10_000, band: j.band, circuit: j.circuit, reasons });
    }
    times.trust = now() - t;

    // 6. Outputs first …
    t = now();
    await sink.write(outputs);
    times.emit = now() - t;

    // 7. … then state, compare-and-set on the watermark.
    t = now();
    const saves: SaveEntry[] = [];
    for (const slot of slotList) if (slot.touched) saves.push({ key: slot.key, watermark: slot.state.d[D.watermark]!, state: encodeState(slot.state) });
    const outcomes = saves.length ? await store.saveMany(saves) : [];
    times.save = now() - t;

    for (const k of Object.keys(times) as (keyof StageTimes)[]) this.times[k] += times[k];
    return { applied: pending.length, skipped, dead: outputs.dlq.length, outputs, staleSaves: outcomes.filter((o) => o === 'stale').length, times };
  }
}
