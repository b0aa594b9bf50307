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
 *
 * Operator control records (`kind: "control"`, re-published into the requests stream by the
 * control relay) are verified against the operator key ring again here — an unsigned or badly
 * signed one is dead-lettered and changes nothing — and applied in the agent's own order at
 * event time max(issuedAt, the agent's last event time). Every emitted record and every
 * applied control is appended to the audit hash chain of its source partition; the chain head
 * is saved with the states (compare-and-set on the source position), so a re-processed chunk
 * re-emits byte-identical audit records.
 */
import { appendAuditRecord, type AuditEntry, type AuditRecord } from '../audit/chain.ts';
import { decodeInput } from '../contract/decode.ts';
import type { AgentControl, AgentRequestEvent, CircuitSignal, Escalation, Mode } from '../contract/schemas.ts';
import { D, STATE_BYTES, decodeState, encodeState, isInitialised, newAgentState, type AgentState } from '../core/agent-state.ts';
import {
  DEFAULT_ESCALATION,
  applyControl,
  emptyTail,
  escalationIdOf,
  escalationReasons,
  expireAllowlist,
  hasPendingEscalation,
  joinStored,
  openEscalation,
  splitStored,
  type ControlTail,
  type EscalationSettings,
} from '../core/control.ts';
import { FEATURE_COUNT, observe, type Signals } from '../core/features.ts';
import { judge, type Policy } from '../core/judge.ts';
import { explain, type FeatureStats } from '../core/reasons.ts';
import { buildCircuitSignal, buildEscalation, buildTrustUpdate, type RecordContext } from '../outputs/records.ts';
import type { Signer, Verifier } from '../outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../outputs/sink.ts';
import type { AgentKey, AuditChainKey, AuditHeadSave, SaveEntry, StateStore, StoredAuditHead } from '../state/store.ts';

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
  /** Operator key ring for control records; without it every control record is dead-lettered (`bad_signature`). */
  controlVerifier?: Verifier | null;
  /** Escalation rules: default {@link DEFAULT_ESCALATION} (the configuration's defaults); `null` escalates nothing. */
  escalation?: EscalationSettings | null;
  /**
   * The audit chain: records go to `topic` (the key of the stored head), one chain per source
   * partition (`partitionOf`, default the record's source partition). Without it nothing is audited.
   */
  audit?: { topic: string; partitionOf?: (rec: InputRecord) => number } | null;
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

type Pending =
  | { kind: 'event'; event: AgentRequestEvent; rec: InputRecord; slot: AgentSlot; ts: number; dt: number; first: boolean; signals: Signals; seq: number; row: number }
  | { kind: 'control'; control: AgentControl; rec: InputRecord; slot: AgentSlot; ts: number; seq: number };
type AgentSlot = { key: AgentKey; state: AgentState; tail: ControlTail; touched: boolean };
type Valid = { kind: 'event'; event: AgentRequestEvent; rec: InputRecord } | { kind: 'control'; control: AgentControl; rec: InputRecord };

const slotId = (tenant: string, agentId: string): string => `${tenant}\u0000${agentId}`;
const validKey = (v: Valid): { tenant: string; agentId: string } =>
  v.kind === 'event' ? { tenant: v.event.tenant ?? 'default', agentId: v.event.agent.id } : { tenant: v.control.tenant ?? 'default', agentId: v.control.agentId };

const now = (): number => performance.now();

export class BatchProcessor {
  readonly times: StageTimes = { decode: 0, load: 0, features: 0, score: 0, trust: 0, emit: 0, save: 0 };

  constructor(private readonly deps: PipelineDeps) {}

  async process(records: readonly InputRecord[]): Promise<BatchResult> {
    const { store, scorer, sink, signer, policy, mode, ttlMs } = this.deps;
    const outputs: BatchOutputs = { trust: [], circuit: [], dlq: [], scores: [], escalations: [], audit: [] };
    const escalations: Escalation[] = outputs.escalations!;
    const audit = this.deps.audit ?? null;
    const escalation = this.deps.escalation === undefined ? DEFAULT_ESCALATION : this.deps.escalation;
    const times: StageTimes = { decode: 0, load: 0, features: 0, score: 0, trust: 0, emit: 0, save: 0 };

    // 1. Decode all.
    let t = now();
    const valid: Valid[] = [];
    for (const rec of records) {
      const r = decodeInput(rec.value);
      if (!r.ok) outputs.dlq.push({ value: rec.value, key: rec.key, code: r.code, message: r.message, path: r.path, source: rec.source });
      else if (r.kind === 'event') valid.push({ kind: 'event', event: r.event, rec });
      else if (this.deps.controlVerifier?.verify(r.control)) valid.push({ kind: 'control', control: r.control, rec });
      else outputs.dlq.push({ value: rec.value, key: rec.key, code: 'bad_signature', message: 'control record signature does not verify against the operator key ring', path: '/sig', source: rec.source });
    }
    times.decode = now() - t;

    // 2. Group by agent, load all states in one round trip.
    t = now();
    const slots = new Map<string, AgentSlot>();
    for (const v of valid) {
      const k = validKey(v);
      const id = slotId(k.tenant, k.agentId);
      if (!slots.has(id)) slots.set(id, { key: k, state: newAgentState(), tail: emptyTail(), touched: false });
    }
    const slotList = [...slots.values()];
    // Audit chains of this chunk (normally one: a chunk comes from one source partition).
    const chains = new Map<number, { key: AuditChainKey; head: AuditRecord | { partition: number }; position: number; appended: boolean }>();
    if (audit && store.loadAuditHeads) for (const rec of records) {
      const partition = audit.partitionOf ? audit.partitionOf(rec) : rec.source.partition;
      const c = chains.get(partition);
      if (c) c.position = Math.max(c.position, rec.position);
      else chains.set(partition, { key: { topic: audit.topic, partition }, head: { partition }, position: rec.position, appended: false });
    }
    const chainList = [...chains.values()];
    const [loaded, heads] = await Promise.all([
      slotList.length ? store.loadMany(slotList.map((s) => s.key)) : Promise.resolve([]),
      chainList.length ? store.loadAuditHeads!(chainList.map((c) => c.key)) : Promise.resolve([] as (StoredAuditHead | null)[]),
    ]);
    for (let i = 0; i < chainList.length; i++) {
      const h = heads[i];
      // Only hash, index and partition of the previous record are needed to append after it.
      if (h) chainList[i]!.head = { v: 1, partition: h.partition, index: h.index, prevHash: '', hash: h.hash, entry: {} };
    }
    for (let i = 0; i < slotList.length; i++) {
      const bytes = loaded[i];
      if (bytes) {
        const { state, tail } = splitStored(bytes, STATE_BYTES + 1);
        const st = decodeState(state);
        // An unreadable record (older layout) restarts the agent's baseline rather than stopping the stream.
        if (st) {
          slotList[i]!.state = st;
          slotList[i]!.tail = tail;
        }
      }
    }
    times.load = now() - t;

    // 3. Pure per-event features in source order; skip what was already applied.
    t = now();
    // Per call: several partitions' batches may be in flight at once (their agents are disjoint).
    const matrix = new Float32Array(valid.length * FEATURE_COUNT);
    const pending: Pending[] = [];
    let rows = 0;
    let skipped = 0;
    for (const v of valid) {
      const k = validKey(v);
      const slot = slots.get(slotId(k.tenant, k.agentId))!;
      const s = slot.state;
      const rec = v.rec;
      if (rec.position <= s.d[D.watermark]!) {
        skipped++;
        continue;
      }
      if (v.kind === 'control') {
        // Control is not a request: the baseline and its clock are untouched; it takes a seq of its own.
        const ts = Math.max(v.control.issuedAt, s.d[D.lastTs]!);
        s.d[D.seq] = s.d[D.seq]! + 1;
        s.d[D.watermark] = rec.position;
        slot.touched = true;
        pending.push({ kind: 'control', control: v.control, rec, slot, ts, seq: s.d[D.seq]! });
        continue;
      }
      const event = v.event;
      const first = !isInitialised(s);
      const ts = first ? event.ts : Math.max(event.ts, s.d[D.lastTs]!); // clamp out-of-order time forward
      const dt = first ? 0 : ts - s.d[D.lastTs]!;
      const signals = observe(s, event, ts, matrix, rows * FEATURE_COUNT);
      s.d[D.watermark] = rec.position;
      slot.touched = true;
      pending.push({ kind: 'event', event, rec, slot, ts, dt, first, signals, seq: s.d[D.seq]!, row: rows });
      rows++;
    }
    times.features = now() - t;

    // 4. One model call for the whole batch.
    t = now();
    const anomalies = rows ? await scorer.score(matrix.subarray(0, rows * FEATURE_COUNT), rows) : new Float32Array(0);
    times.score = now() - t;

    // 5. Trust, breaker and records, in source order.
    t = now();
    const entries: { partition: number; entry: AuditEntry }[] = [];
    const auditPartition = (rec: InputRecord): number => (audit?.partitionOf ? audit.partitionOf(rec) : rec.source.partition);
    for (const p of pending) {
      const { tenant, agentId } = p.slot.key;
      const chained = chains.has(auditPartition(p.rec));
      const note = (entry: AuditEntry): void => {
        if (chained) entries.push({ partition: auditPartition(p.rec), entry });
      };
      if (p.kind === 'control') {
        const c = p.control;
        const effect = applyControl(p.slot.state, p.slot.tail, c, p.ts, policy, escalation ?? DEFAULT_NO_ESCALATION);
        if (effect.outcome === 'duplicate') continue;
        const ctx: RecordContext = { tenant, agentId, seq: p.seq, eventId: c.controlId, ts: p.ts, model: scorer.modelId, mode };
        const reasons = [{ code: `operator_${c.action}` }];
        note({ kind: 'control', tenant, agentId, seq: p.seq, ts: p.ts, controlId: c.controlId, action: c.action, operator: c.operator, issuedAt: c.issuedAt, kid: c.sig.kid, outcome: effect.outcome, ...(effect.detail ? { detail: effect.detail } : {}), ...(c.escalationId ? { escalationId: c.escalationId } : {}), ...(c.decision ? { decision: c.decision } : {}) });
        if (effect.circuitChange) {
          const sig = buildCircuitSignal(ctx, effect.circuitChange, effect.offences, reasons, signer);
          outputs.circuit.push(sig);
          note(circuitEntry(sig));
        }
        if (effect.decision) {
          const e = buildEscalation(
            { escalationId: effect.decision.escalationId, tenant, agentId, seq: effect.decision.seq, eventId: c.controlId, ts: p.ts, action: {}, reasons: [{ code: effect.decision.status === 'approved' ? 'operator_approved' : 'operator_denied' }], expiresAt: effect.decision.expiresAt, status: effect.decision.status, decidedBy: c.operator, decidedAt: p.ts, controlId: c.controlId, mode },
            signer,
          );
          escalations.push(e);
          note(escalationEntry(e));
        }
        continue;
      }
      const i = p.row;
      const s = p.slot.state;
      const anomaly = Math.round(anomalies[i]! * 10_000) / 10_000;
      const allowlistEnded = expireAllowlist(s, p.ts);
      const j = judge(s, p.signals, anomaly, p.ts, p.dt, p.first, policy);
      if (allowlistEnded) j.circuitChange = j.circuitChange ? { ...j.circuitChange, previous: 'forced_closed' } : { previous: 'forced_closed', state: 'closed' };
      const reasons = explain(p.signals, matrix, i * FEATURE_COUNT, anomaly, scorer.featureStats);
      const ctx: RecordContext = { tenant, agentId, seq: p.seq, eventId: p.event.eventId, ts: p.ts, model: scorer.modelId, mode };
      if (j.circuitChange) {
        const sig = buildCircuitSignal(ctx, j.circuitChange, j.offences, reasons, signer);
        outputs.circuit.push(sig);
        note(circuitEntry(sig));
      }
      if (j.emitTrust) {
        const tu = buildTrustUpdate(ctx, j, anomaly, reasons, ttlMs, signer);
        outputs.trust.push(tu);
        note({ kind: 'trust', tenant, agentId, seq: tu.seq, ts: tu.ts, eventId: tu.eventId, trust: tu.trust, band: tu.band, circuit: tu.circuit, sig: tu.sig.value });
      }
      if (escalation && p.event.action && !hasPendingEscalation(p.slot.tail, p.ts)) {
        const why = escalationReasons(p.event.action, j.band, escalation);
        if (why) {
          const expiresAt = openEscalation(p.slot.tail, p.seq, p.ts, escalation);
          const a = p.event.action;
          const e = buildEscalation(
            {
              escalationId: escalationIdOf(tenant, agentId, p.seq),
              tenant,
              agentId,
              seq: p.seq,
              eventId: p.event.eventId,
              ts: p.ts,
              action: { ...(a.name !== undefined ? { name: a.name } : {}), ...(a.amount !== undefined ? { amount: a.amount } : {}), ...(a.currency !== undefined ? { currency: a.currency } : {}), ...(a.sensitivity !== undefined ? { sensitivity: a.sensitivity } : {}) },
              reasons: [...why, ...reasons].slice(0, 8),
              expiresAt,
              status: 'pending',
              mode,
            },
            signer,
          );
          escalations.push(e);
          note(escalationEntry(e));
        }
      }
      outputs.scores.push({ agentId: ctx.agentId, eventId: ctx.eventId, seq: ctx.seq, ts: ctx.ts, anomaly, trust: Math.round(j.trust * 10_000) / 10_000, band: j.band, circuit: j.circuit, reasons });
    }
    // The audit chains: appended in source order, from the stored heads.
    for (const { partition, entry } of entries) {
      const c = chains.get(partition)!;
      const rec = appendAuditRecord(c.head, entry);
      outputs.audit!.push(rec);
      c.head = rec;
      c.appended = true;
    }
    times.trust = now() - t;

    // 6. Outputs first …
    t = now();
    await sink.write(outputs);
    times.emit = now() - t;

    // 7. … then state, compare-and-set on the watermark.
    t = now();
    const saves: SaveEntry[] = [];
    for (const slot of slotList) if (slot.touched) saves.push({ key: slot.key, watermark: slot.state.d[D.watermark]!, state: joinStored(encodeState(slot.state), slot.tail) });
    const headSaves: AuditHeadSave[] = [];
    for (const c of chainList) {
      if (c.appended && 'hash' in c.head) headSaves.push({ chain: c.key, head: { position: c.position, partition: c.head.partition, index: c.head.index, hash: c.head.hash } });
    }
    const outcomes = saves.length || headSaves.length ? await store.saveMany(saves, headSaves) : [];
    times.save = now() - t;

    for (const k of Object.keys(times) as (keyof StageTimes)[]) this.times[k] += times[k];
    return { applied: pending.length, skipped, dead: outputs.dlq.length, outputs, staleSaves: outcomes.filter((o) => o === 'stale').length, times };
  }
}

const DEFAULT_NO_ESCALATION: EscalationSettings = { rules: [], ttlMs: 900_000, approveCredit: 0.05, denyPenalty: 0.3 };

function circuitEntry(c: CircuitSignal): AuditEntry {
  return { kind: 'circuit', tenant: c.tenant, agentId: c.agentId, seq: c.seq, ts: c.issuedAt, state: c.state, previous: c.previous, ...(c.until !== undefined ? { until: c.until } : {}), sig: c.sig.value };
}

function escalationEntry(e: Escalation): AuditEntry {
  return { kind: 'escalation', tenant: e.tenant, agentId: e.agentId, seq: e.seq, ts: e.ts, escalationId: e.escalationId, status: e.status, sig: e.sig.value };
}
