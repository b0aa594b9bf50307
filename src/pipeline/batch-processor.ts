/**
 * The batch pipeline shared by `trustline run` (Kafka + Redis) and `trustline replay`
 * (file + memory), stage by stage (docs/architecture.md):
 *
 *   decode → load states (one round trip) → features (src/core/step.ts, source order)
 *   → score (one model call) → step (src/core/step.ts) → sign (src/outputs) → audit chain
 *   → write outputs → save states (compare-and-set, one round trip)
 *
 * Every domain rule lives in the pure per-event step (src/core/step.ts); this module only
 * orders the stages, does the batched I/O and keeps the exactly-once bookkeeping.
 *
 * Guarantees (docs/operations.md, delivery): outputs are written before states are saved, and the caller commits
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
import { appendEncodedEntry, encodeAuditEntry, type AuditEntry, type AuditRecord, type EncodedAuditEntry } from '../audit/chain.ts';
import { decodeInput } from '../contract/decode.ts';
import type { AgentControl, AgentRequestEvent, CircuitSignal, Escalation, Mode } from '../contract/schemas.ts';
import { DEFAULT_TENANT, agentKeyOfControl, agentKeyOfEvent, agentKeyString, eventAgentKey, type AgentKey } from '../core/agent-key.ts';
import { D, STATE_BYTES, decodeState, encodeState, newAgentState, type AgentState } from '../core/agent-state.ts';
import {
  DEFAULT_ESCALATION,
  emptyTail,
  escalationIdOf,
  joinStored,
  splitStored,
  type ControlEffect,
  type ControlTail,
  type EscalationSettings,
} from '../core/control.ts';
import { FEATURE_COUNT } from '../core/features.ts';
import { clonePeerState, decodePeerState, encodePeerState, newPeerState, peerGroupOf, peerKeyOf, type PeerState } from '../core/peers.ts';
import { DEFAULT_COMPILED_RULES, type CompiledRouteRules } from '../core/routes.ts';
import { r4, type Policy } from '../core/judge.ts';
import { admitControl, observeEvent, stepControl, stepEvent, type EventStep, type Observation, type StepSettings } from '../core/step.ts';
import { buildCircuitSignal, buildEscalation, buildTrustUpdate, trustAuditEntry, type RecordContext } from '../outputs/records.ts';
import type { Signer, Verifier } from '../outputs/sign.ts';
import type { AnomalyScorer, AuditChainKey, AuditHeadSave, BatchOutputs, InputRecord, OutputSink, SaveEntry, StateStore, StoredAuditHead } from './ports.ts';

export type { AnomalyScorer, InputRecord } from './ports.ts';

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
  /** Build one analyst row per applied event (`outputs.scores`, replay's scores.jsonl); default true. */
  scoreRows?: boolean;
  /** Route rules (config `detection.routes`); default DEFAULT_ROUTE_RULES. */
  rules?: CompiledRouteRules;
};

/** Time spent per stage (ms): `step` is trust, breaker, reasons and escalations; `sign` builds and signs the records; `audit` appends them to the chain. */
export type StageTimes = {
  decode: number;
  load: number;
  features: number;
  score: number;
  step: number;
  sign: number;
  audit: number;
  emit: number;
  save: number;
};

const zeroTimes = (): StageTimes => ({ decode: 0, load: 0, features: 0, score: 0, step: 0, sign: 0, audit: 0, emit: 0, save: 0 });

export type BatchResult = {
  applied: number;
  skipped: number;
  dead: number;
  outputs: BatchOutputs;
  staleSaves: number;
  /** Event time of every applied event, in source order (for event-to-emit latency). */
  eventTimes: Float64Array;
  /** Time spent in this call per stage (ms). */
  times: StageTimes;
};

type AgentSlot = { key: AgentKey; state: AgentState; tail: ControlTail; touched: boolean };
/**
 * One decoded record through the stages: one object per record, made by `decode` with every
 * field (placeholders until filled), so no stage allocates another per record. `load` sets
 * `slot`; the features stage sets `obs`, `seq` and `row` (events) or `ts` and `seq` (admitted
 * controls); the step sets `step` or `effect`.
 */
/** A peer-group record of one source partition (docs/detection.md, "Hierarchical baselines"). */
type PeerSlot = { key: AgentKey; state: PeerState; touched: boolean };
type Pending =
  | { kind: 'event'; event: AgentRequestEvent; rec: InputRecord; slot: AgentSlot; obs: Observation; seq: number; row: number; step: EventStep | null }
  | { kind: 'control'; control: AgentControl; rec: InputRecord; slot: AgentSlot; ts: number; seq: number; effect: ControlEffect | null };
type Valid = Pending;
/** Placeholders of a record not yet loaded or observed (never read: every stage fills its field first). */
const NO_SLOT: AgentSlot = { key: { tenant: '', agentId: '' }, state: newAgentState(), tail: emptyTail(), touched: false };
const NO_OBS: Observation = { ts: 0, dt: 0, first: true, signals: {} as Observation['signals'] };
type Chain = { key: AuditChainKey; head: AuditRecord | { partition: number }; position: number; appended: boolean };

const now = (): number => performance.now();
/** The peer-group record an event of `rec`'s source partition folds into. */
const peerSlotId = (e: AgentRequestEvent, rec: InputRecord): string => `${rec.source.partition}\u0000${peerGroupOf(e)}`;

export class BatchProcessor {
  readonly times: StageTimes = zeroTimes();
  private readonly settings: StepSettings;

  constructor(private readonly deps: PipelineDeps) {
    this.settings = {
      policy: deps.policy,
      escalation: deps.escalation === undefined ? DEFAULT_ESCALATION : deps.escalation,
      featureStats: deps.scorer.featureStats,
      rules: deps.rules ?? DEFAULT_COMPILED_RULES,
    };
  }

  async process(records: readonly InputRecord[]): Promise<BatchResult> {
    const { store, scorer, sink } = this.deps;
    const outputs: BatchOutputs = { trust: [], circuit: [], dlq: [], scores: [], escalations: [], audit: [] };
    const times = zeroTimes();

    let t = now();
    const valid = this.decode(records, outputs);
    times.decode = now() - t;

    t = now();
    const { slots, chains, peers } = await this.load(records, valid);
    const rules = this.settings.rules ?? DEFAULT_COMPILED_RULES;
    times.load = now() - t;

    // Features in source order; what was already applied (position ≤ watermark) is skipped.
    t = now();
    const matrix = new Float32Array(valid.length * FEATURE_COUNT);
    const pending: Pending[] = [];
    let rows = 0;
    let skipped = 0;
    for (const v of valid) {
      const slot = v.slot;
      const s = slot.state;
      if (v.rec.position <= s.d[D.watermark]!) {
        skipped++;
        continue;
      }
      s.d[D.watermark] = v.rec.position;
      slot.touched = true;
      if (v.kind === 'control') {
        const admitted = admitControl(s, slot.tail, v.control);
        if (admitted) {
          v.ts = admitted.ts;
          v.seq = admitted.seq;
          pending.push(v);
        }
        continue;
      }
      // The agent's peer-group record of this partition, folded in source order; an event it already
      // holds (saved before a crash, the agent's state not) is judged against it without folding it again.
      const peer = peers.get(peerSlotId(v.event, v.rec))!;
      const fresh = v.rec.position > peer.state.watermark;
      if (fresh) {
        peer.state.watermark = v.rec.position;
        peer.touched = true;
      }
      v.obs = observeEvent(s, v.event, matrix, rows * FEATURE_COUNT, { rules, peer: fresh ? peer.state : clonePeerState(peer.state) });
      v.seq = s.d[D.seq]!;
      v.row = rows;
      pending.push(v);
      rows++;
    }
    times.features = now() - t;

    t = now();
    const anomalies = rows ? await scorer.score(matrix.subarray(0, rows * FEATURE_COUNT), rows) : new Float32Array(0);
    times.score = now() - t;

    // The per-event step, in source order.
    t = now();
    const eventTimes = new Float64Array(rows);
    for (const p of pending) {
      if (p.kind === 'control') p.effect = stepControl(p.slot.state, p.slot.tail, p.control, p.ts, this.settings);
      else {
        p.step = stepEvent(p.slot.state, p.slot.tail, p.event, p.obs, anomalies[p.row]!, matrix, p.row * FEATURE_COUNT, p.seq, this.settings);
        eventTimes[p.row] = p.obs.ts;
      }
    }
    times.step = now() - t;

    t = now();
    const entries = this.sign(pending, chains, outputs);
    times.sign = now() - t;

    t = now();
    for (const { partition, entry } of entries) {
      const c = chains.get(partition)!;
      const rec = appendEncodedEntry(c.head, entry);
      outputs.audit!.push(rec);
      c.head = rec;
      c.appended = true;
    }
    times.audit = now() - t;

    // Outputs first …
    t = now();
    await sink.write(outputs);
    times.emit = now() - t;

    // … then state, compare-and-set on the watermark.
    t = now();
    const saves: SaveEntry[] = [];
    for (const slot of slots.values())
      if (slot.touched) saves.push({ key: slot.key, watermark: slot.state.d[D.watermark]!, state: joinStored(encodeState(slot.state), slot.tail) });
    const agentSaves = saves.length;
    for (const peer of peers.values()) if (peer.touched) saves.push({ key: peer.key, watermark: peer.state.watermark, state: encodePeerState(peer.state) });
    const headSaves: AuditHeadSave[] = [];
    for (const c of chains.values()) {
      if (c.appended && 'hash' in c.head)
        headSaves.push({ chain: c.key, head: { position: c.position, partition: c.head.partition, index: c.head.index, hash: c.head.hash } });
    }
    const outcomes = saves.length || headSaves.length ? await store.saveMany(saves, headSaves) : [];
    times.save = now() - t;

    for (const k of Object.keys(times) as (keyof StageTimes)[]) this.times[k] += times[k];
    // Peer records are saved too but are not agents: only the agents' outcomes count as stale saves.
    return {
      applied: pending.length,
      skipped,
      dead: outputs.dlq.length,
      outputs,
      staleSaves: outcomes.slice(0, agentSaves).filter((o) => o === 'stale').length,
      eventTimes,
      times,
    };
  }

  /** Decodes every record; bad ones (and control records that do not verify) become dead letters. */
  private decode(records: readonly InputRecord[], outputs: BatchOutputs): Valid[] {
    const valid: Valid[] = [];
    for (const rec of records) {
      const r = decodeInput(rec.value);
      if (!r.ok) outputs.dlq.push({ value: rec.value, key: rec.key, code: r.code, message: r.message, path: r.path, source: rec.source });
      else if (r.kind === 'event') valid.push({ kind: 'event', event: r.event, rec, slot: NO_SLOT, obs: NO_OBS, seq: 0, row: 0, step: null });
      else if (this.deps.controlVerifier?.verify(r.control))
        valid.push({ kind: 'control', control: r.control, rec, slot: NO_SLOT, ts: 0, seq: 0, effect: null });
      else
        outputs.dlq.push({
          value: rec.value,
          key: rec.key,
          code: 'bad_signature',
          message: 'control record signature does not verify against the operator key ring',
          path: '/sig',
          source: rec.source,
        });
    }
    return valid;
  }

  /** Loads the states of the batch's agents and the heads of its audit chains, in one round trip. */
  private async load(
    records: readonly InputRecord[],
    valid: readonly Valid[],
  ): Promise<{ slots: Map<string, AgentSlot>; chains: Map<number, Chain>; peers: Map<string, PeerSlot> }> {
    const { store } = this.deps;
    const audit = this.deps.audit ?? null;
    const slots = new Map<string, AgentSlot>();
    const peers = new Map<string, PeerSlot>();
    for (const v of valid) {
      // The agent key object is made once per agent of the batch, not per record.
      const id = v.kind === 'event' ? eventAgentKey(v.event) : agentKeyString(v.control.tenant ?? DEFAULT_TENANT, v.control.agentId);
      let slot = slots.get(id);
      if (!slot)
        slots.set(
          id,
          (slot = {
            key: v.kind === 'event' ? agentKeyOfEvent(v.event) : agentKeyOfControl(v.control),
            state: newAgentState(),
            tail: emptyTail(),
            touched: false,
          }),
        );
      v.slot = slot;
      if (v.kind === 'event') {
        const pid = peerSlotId(v.event, v.rec);
        if (!peers.has(pid)) peers.set(pid, { key: peerKeyOf(v.event, v.rec.source.partition), state: newPeerState(), touched: false });
      }
    }
    const slotList = [...slots.values()];
    const peerList = [...peers.values()];
    // Audit chains of this chunk (normally one: a chunk comes from one source partition).
    const chains = new Map<number, Chain>();
    if (audit && store.loadAuditHeads) {
      for (const rec of records) {
        const partition = audit.partitionOf ? audit.partitionOf(rec) : rec.source.partition;
        const c = chains.get(partition);
        if (c) c.position = Math.max(c.position, rec.position);
        else chains.set(partition, { key: { topic: audit.topic, partition }, head: { partition }, position: rec.position, appended: false });
      }
    }
    const chainList = [...chains.values()];
    const [loaded, heads] = await Promise.all([
      slotList.length ? store.loadMany([...slotList.map((s) => s.key), ...peerList.map((p) => p.key)]) : Promise.resolve([]),
      chainList.length ? store.loadAuditHeads!(chainList.map((c) => c.key)) : Promise.resolve([] as (StoredAuditHead | null)[]),
    ]);
    for (let i = 0; i < chainList.length; i++) {
      const h = heads[i];
      // Only hash, index and partition of the previous record are needed to append after it.
      if (h) chainList[i]!.head = { v: 1, partition: h.partition, index: h.index, prevHash: '', hash: h.hash, entry: {} };
    }
    for (let i = 0; i < slotList.length; i++) {
      const bytes = loaded[i];
      if (!bytes) continue;
      const { state, tail } = splitStored(bytes, STATE_BYTES + 1);
      const st = decodeState(state);
      // An unreadable record (older layout) restarts the agent's baseline rather than stopping the stream.
      if (st) {
        slotList[i]!.state = st;
        slotList[i]!.tail = tail;
      }
    }
    for (let i = 0; i < peerList.length; i++) {
      const bytes = loaded[slotList.length + i];
      // An unreadable record restarts the group from the fleet prior.
      const st = bytes ? decodePeerState(bytes) : null;
      if (st) peerList[i]!.state = st;
    }
    return { slots, chains, peers };
  }

  /** Builds and signs the records the step made due, in source order; returns the audit entries to chain. */
  private sign(pending: readonly Pending[], chains: ReadonlyMap<number, Chain>, outputs: BatchOutputs): { partition: number; entry: EncodedAuditEntry }[] {
    const { signer, scorer, mode, ttlMs } = this.deps;
    const audit = this.deps.audit ?? null;
    const scoreRows = this.deps.scoreRows ?? true;
    const escalations = outputs.escalations!;
    const entries: { partition: number; entry: EncodedAuditEntry }[] = [];
    for (const p of pending) {
      const { tenant, agentId } = p.slot.key;
      const partition = audit?.partitionOf ? audit.partitionOf(p.rec) : p.rec.source.partition;
      const chained = chains.has(partition);
      if (p.kind === 'control') {
        const c = p.control;
        const effect = p.effect!;
        const ctx: RecordContext = { tenant, agentId, seq: p.seq, eventId: c.controlId, ts: p.ts, model: scorer.modelId, mode };
        if (chained) entries.push({ partition, entry: encodeAuditEntry(controlEntry(tenant, agentId, p.seq, p.ts, c, effect)) });
        if (effect.circuitChange) {
          const sig = buildCircuitSignal(ctx, effect.circuitChange, effect.offences, [{ code: `operator_${c.action}` }], signer);
          outputs.circuit.push(sig);
          if (chained) entries.push({ partition, entry: encodeAuditEntry(circuitEntry(sig)) });
        }
        if (effect.decision) {
          const d = effect.decision;
          const e = buildEscalation(
            {
              escalationId: d.escalationId,
              tenant,
              agentId,
              seq: d.seq,
              eventId: c.controlId,
              ts: p.ts,
              action: {},
              reasons: [{ code: d.status === 'approved' ? 'operator_approved' : 'operator_denied' }],
              expiresAt: d.expiresAt,
              status: d.status,
              decidedBy: c.operator,
              decidedAt: p.ts,
              controlId: c.controlId,
              mode,
            },
            signer,
          );
          escalations.push(e);
          if (chained) entries.push({ partition, entry: encodeAuditEntry(escalationEntry(e)) });
        }
        continue;
      }
      const { judgement: j, anomaly, reasons, escalation } = p.step!;
      const ctx: RecordContext = { tenant, agentId, seq: p.seq, eventId: p.event.eventId, ts: p.obs.ts, model: scorer.modelId, mode };
      if (j.circuitChange) {
        const sig = buildCircuitSignal(ctx, j.circuitChange, j.offences, reasons, signer);
        outputs.circuit.push(sig);
        if (chained) entries.push({ partition, entry: encodeAuditEntry(circuitEntry(sig)) });
      }
      if (j.emitTrust) {
        const tu = buildTrustUpdate(ctx, j, anomaly, reasons, ttlMs, signer);
        outputs.trust.push(tu);
        if (chained) entries.push({ partition, entry: trustAuditEntry(tu) });
      }
      if (escalation) {
        const a = p.event.action!;
        const e = buildEscalation(
          {
            escalationId: escalationIdOf(tenant, agentId, p.seq),
            tenant,
            agentId,
            seq: p.seq,
            eventId: p.event.eventId,
            ts: p.obs.ts,
            action: {
              ...(a.name !== undefined ? { name: a.name } : {}),
              ...(a.amount !== undefined ? { amount: a.amount } : {}),
              ...(a.currency !== undefined ? { currency: a.currency } : {}),
              ...(a.sensitivity !== undefined ? { sensitivity: a.sensitivity } : {}),
            },
            reasons: escalation.reasons,
            expiresAt: escalation.expiresAt,
            status: 'pending',
            mode,
          },
          signer,
        );
        escalations.push(e);
        if (chained) entries.push({ partition, entry: encodeAuditEntry(escalationEntry(e)) });
      }
      if (scoreRows)
        outputs.scores.push({
          agentId,
          eventId: p.event.eventId,
          seq: p.seq,
          ts: p.obs.ts,
          anomaly,
          trust: r4(j.trust),
          band: j.band,
          circuit: j.circuit,
          reasons,
        });
    }
    return entries;
  }
}

function controlEntry(tenant: string, agentId: string, seq: number, ts: number, c: AgentControl, effect: ControlEffect): AuditEntry {
  return {
    kind: 'control',
    tenant,
    agentId,
    seq,
    ts,
    controlId: c.controlId,
    action: c.action,
    operator: c.operator,
    issuedAt: c.issuedAt,
    kid: c.sig.kid,
    outcome: effect.outcome,
    ...(effect.detail ? { detail: effect.detail } : {}),
    ...(c.escalationId ? { escalationId: c.escalationId } : {}),
    ...(c.decision ? { decision: c.decision } : {}),
  };
}

function circuitEntry(c: CircuitSignal): AuditEntry {
  return {
    kind: 'circuit',
    tenant: c.tenant,
    agentId: c.agentId,
    seq: c.seq,
    ts: c.issuedAt,
    state: c.state,
    previous: c.previous,
    ...(c.until !== undefined ? { until: c.until } : {}),
    sig: c.sig.value,
  };
}

function escalationEntry(e: Escalation): AuditEntry {
  return { kind: 'escalation', tenant: e.tenant, agentId: e.agentId, seq: e.seq, ts: e.ts, escalationId: e.escalationId, status: e.status, sig: e.sig.value };
}
