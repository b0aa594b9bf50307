/**
 * Offline evaluation helpers: score a file once (decode → features → model, exactly as the
 * pipeline does), then run the trust/breaker step over the scored events under any policy. The
 * features and anomalies do not depend on the policy, so comparing policies costs one judge pass
 * each. Used by the evaluation scripts and tests, never by the processor.
 */
import { decodeEvent } from '../../src/contract/decode.ts';
import type { AgentRequestEvent, Band, CircuitState, Reason } from '../../src/contract/schemas.ts';
import { D, isInitialised, newAgentState, type AgentState } from '../../src/core/agent-state.ts';
import { FEATURE_COUNT, observe, type Signals } from '../../src/core/features.ts';
import { judge, r4, type Policy } from '../../src/core/judge.ts';
import { explain } from '../../src/core/reasons.ts';
import type { AnomalyScorer } from '../../src/pipeline/batch-processor.ts';
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
    const key = `${e.tenant ?? 'default'}\u0000${e.agent.id}`;
    let s = states.get(key);
    if (!s) states.set(key, (s = newAgentState()));
    const first = !isInitialised(s);
    const ts = first ? e.ts : Math.max(e.ts, s.d[D.lastTs]!);
    const dt = first ? 0 : ts - s.d[D.lastTs]!;
    const signals = observe(s, e, ts, matrix, rows * FEATURE_COUNT);
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
  const states = new Map<string, AgentState>();
  const withReasons = scored.features !== null && scorer !== undefined;
  const noReasons: Reason[] = [];
  for (let i = 0; i < scored.events.length; i++) {
    const e = scored.events[i]!;
    let s = states.get(e.key);
    if (!s) states.set(e.key, (s = newAgentState()));
    const j = judge(s, e.signals, e.anomaly, e.ts, e.dt, e.first, policy);
    evaluator.add({
      agentId: e.agentId,
      ts: e.ts,
      anomaly: e.anomaly,
      trust: r4(j.trust),
      band: j.band,
      circuit: j.circuit,
      opened: j.circuitChange !== null && (j.circuitChange.state === 'open' || j.circuitChange.state === 'forced_open'),
      reasons: withReasons ? explain(e.signals, scored.features!, i * FEATURE_COUNT, e.anomaly, scorer.featureStats) : noReasons,
    });
  }
}

/** The trust outcome of every scored event (in order) under `policy`. */
export function judgeEvents(scored: ScoredFile, policy: Policy): { agentId: string; ts: number; anomaly: number; trust: number; band: Band; circuit: CircuitState }[] {
  const states = new Map<string, AgentState>();
  return scored.events.map((e) => {
    let s = states.get(e.key);
    if (!s) states.set(e.key, (s = newAgentState()));
    const j = judge(s, e.signals, e.anomaly, e.ts, e.dt, e.first, policy);
    return { agentId: e.agentId, ts: e.ts, anomaly: e.anomaly, trust: r4(j.trust), band: j.band, circuit: j.circuit };
  });
}
