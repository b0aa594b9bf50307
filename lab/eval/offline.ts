/**
 * Offline evaluation helpers: score a file once (decode → features → model, exactly as the
 * pipeline does), then run the trust/breaker step over the scored events under any policy. The
 * features and anomalies do not depend on the policy, so comparing policies costs one judge pass
 * each. Used by the evaluation scripts and tests, never by the processor.
 */
import { decodeEvent } from '../../src/contract/decode.ts';
import type { AgentRequestEvent, Band, CircuitState, Reason } from '../../src/contract/schemas.ts';
import { eventAgentKey } from '../../src/core/agent-key.ts';
import { newAgentState, type AgentState } from '../../src/core/agent-state.ts';
import { emptyTail, type ControlTail } from '../../src/core/control.ts';
import { FEATURE_COUNT, type Signals } from '../../src/core/features.ts';
import { r4, type Judgement, type Policy } from '../../src/core/judge.ts';
import { PeerBook } from '../../src/core/peers.ts';
import { DEFAULT_COMPILED_RULES } from '../../src/core/routes.ts';
import { observeEvent, stepEvent, type StepSettings } from '../../src/core/step.ts';
import type { AnomalyScorer } from '../../src/pipeline/ports.ts';
import { readLines } from '../../src/runners/replay/file-source.ts';
import type { DetectionEvaluator } from './evaluator.ts';

/** One valid event of a file after features and scoring. */
export type ScoredEvent = {
  /** tenant + NUL + agent id (state key). */
  key: string;
  agentId: string;
  /** Event time clamped forward within the agent, as the pipeline uses it. */
  ts: number;
  dt: number;
  first: boolean;
  /** Calibrated anomaly rounded to 4 decimals, as the pipeline rounds it. */
  anomaly: number;
  signals: Signals;
};

export type ScoredFile = {
  file: string;
  events: ScoredEvent[];
  /** Row-major feature vectors, one row per event (only with `keepFeatures`). */
  features: Float32Array | null;
};

/** Decodes, observes and scores every valid line of `file` (one model call per `batch` rows). */
export async function scoreFile(file: string, scorer: AnomalyScorer, options: { batch?: number; keepFeatures?: boolean } = {}): Promise<ScoredFile> {
  async function* events(): AsyncGenerator<AgentRequestEvent> {
    for await (const { bytes } of readLines(file)) {
      if (bytes.length === 0) continue;
      const r = decodeEvent(bytes);
      if (r.ok) yield r.event;
    }
  }
  return scoreEvents(events(), scorer, { ...options, name: file });
}

/** Observes and scores already decoded events, in order, exactly as the pipeline does. */
export async function scoreEvents(
  source: AsyncIterable<AgentRequestEvent> | Iterable<AgentRequestEvent>,
  scorer: AnomalyScorer,
  options: { batch?: number; keepFeatures?: boolean; name?: string } = {},
): Promise<ScoredFile> {
  const batch = options.batch ?? 1000;
  const states = new Map<string, AgentState>();
  const peers = new PeerBook(); // as the pipeline keeps them for one source partition
  const events: ScoredEvent[] = [];
  const chunks: Float32Array[] = [];
  let matrix = new Float32Array(batch * FEATURE_COUNT);
  let rows = 0;
  const flush = async (): Promise<void> => {
    if (rows === 0) return;
    const scores = await scorer.score(matrix.subarray(0, rows * FEATURE_COUNT), rows);
    const base = events.length - rows;
    for (let i = 0; i < rows; i++) events[base + i]!.anomaly = Math.round(scores[i]! * 10_000) / 10_000;
    if (options.keepFeatures) chunks.push(matrix.slice(0, rows * FEATURE_COUNT));
    rows = 0;
  };
  for await (const e of source) {
    const key = eventAgentKey(e);
    let s = states.get(key);
    if (!s) states.set(key, (s = newAgentState()));
    const { ts, dt, first, signals } = observeEvent(s, e, matrix, rows * FEATURE_COUNT, { rules: DEFAULT_COMPILED_RULES, peer: peers.get(e) });
    events.push({ key, agentId: e.agent.id, ts, dt, first, anomaly: 0, signals });
    if (++rows === batch) {
      await flush();
      matrix = options.keepFeatures ? new Float32Array(batch * FEATURE_COUNT) : matrix;
    }
  }
  await flush();
  let features: Float32Array | null = null;
  if (options.keepFeatures) {
    features = new Float32Array(events.length * FEATURE_COUNT);
    let o = 0;
    for (const c of chunks) {
      features.set(c, o);
      o += c.length;
    }
  }
  return { file: options.name ?? 'events', events, features };
}

/**
 * Runs trust and the breaker over a scored file under `policy` and feeds every event to the
 * evaluator (whose stream must already be begun). Reasons are computed only when the file kept
 * its features and `featureStats` are given.
 */
export function judgeScored(scored: ScoredFile, policy: Policy, evaluator: DetectionEvaluator, scorer?: Pick<AnomalyScorer, 'featureStats'>): void {
  const withReasons = scored.features !== null && scorer !== undefined;
  const noReasons: Reason[] = [];
  const settings: StepSettings = { policy, escalation: null, featureStats: scorer?.featureStats ?? [] };
  for (const { e, j, reasons } of stepAll(scored, settings, withReasons)) {
    evaluator.add({
      agentId: e.agentId,
      ts: e.ts,
      anomaly: e.anomaly,
      trust: r4(j.trust),
      band: j.band,
      circuit: j.circuit,
      opened: j.circuitChange !== null && (j.circuitChange.state === 'open' || j.circuitChange.state === 'forced_open'),
      reasons: withReasons ? reasons : noReasons,
    });
  }
}

/** The per-event step (src/core/step.ts) over every scored event in order, as the pipeline runs it (no escalations). */
function* stepAll(scored: ScoredFile, settings: StepSettings, withFeatures: boolean): Generator<{ e: ScoredEvent; j: Judgement; reasons: Reason[] }> {
  const states = new Map<string, { s: AgentState; tail: ControlTail }>();
  for (let i = 0; i < scored.events.length; i++) {
    const e = scored.events[i]!;
    let a = states.get(e.key);
    if (!a) states.set(e.key, (a = { s: newAgentState(), tail: emptyTail() }));
    const r = stepEvent(a.s, a.tail, null, e, e.anomaly, withFeatures ? scored.features : null, i * FEATURE_COUNT, 0, settings);
    yield { e, j: r.judgement, reasons: r.reasons };
  }
}

/** The trust outcome of every scored event (in order) under `policy`. */
export function judgeEvents(
  scored: ScoredFile,
  policy: Policy,
): { agentId: string; ts: number; anomaly: number; trust: number; band: Band; circuit: CircuitState }[] {
  const out: { agentId: string; ts: number; anomaly: number; trust: number; band: Band; circuit: CircuitState }[] = [];
  for (const { e, j } of stepAll(scored, { policy, escalation: null, featureStats: [] }, false))
    out.push({ agentId: e.agentId, ts: e.ts, anomaly: e.anomaly, trust: r4(j.trust), band: j.band, circuit: j.circuit });
  return out;
}
