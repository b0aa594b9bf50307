/**
 * The two baselines of models/EVALUATION.md, evaluated with the same metrics as trustline:
 *
 * (a) STATIC RULES — what a gateway does without behavioural modelling: per agent, a
 *     leaky-bucket rate limit (requests per minute) and a leaky-bucket counter of 4xx responses
 *     (401, 403, 404, 429 …) per ten minutes. An agent over either limit is restricted (both:
 *     blocked). The two limits are fitted on training-kind data: the smallest limits that at
 *     most 0.25 % of benign agents ever exceed (0.5 % together, the same false-positive budget
 *     trustline's policy is chosen with).
 * (b) RAW-FIELD ANOMALY MODEL — lab/eval/raw-fields.ts: per-event fields scored against the
 *     fleet with the same model family, calibration, trust and breaker as trustline, but no
 *     per-agent baseline.
 *
 * Pure functions over decoded events (no I/O besides the optional file helpers).
 */
import { decodeEvent } from '../../src/contract/decode.ts';
import type { AgentRequestEvent, Band } from '../../src/contract/schemas.ts';
import type { AnomalyScorer } from '../../src/pipeline/ports.ts';
import { readLines } from '../../src/runners/replay/file-source.ts';
import type { DetectionEvaluator } from './evaluator.ts';
import type { ScoredEvent, ScoredFile } from './offline.ts';
import { RAW_COUNT, rawFields } from './raw-fields.ts';

/** Decoded valid events of a file, in order. */
export async function readEvents(file: string): Promise<AgentRequestEvent[]> {
  const out: AgentRequestEvent[] = [];
  for await (const { bytes } of readLines(file)) {
    if (bytes.length === 0) continue;
    const r = decodeEvent(bytes);
    if (r.ok) out.push(r.event);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a) Static rules
// ---------------------------------------------------------------------------------------------

/** Leaky-bucket limits: `ratePerMin` requests per minute, `errorsPer10Min` 4xx responses per ten minutes. */
export type RuleParams = { ratePerMin: number; errorsPer10Min: number };

const MIN = 60_000;

type Bucket = { level: number; ts: number };

/** Leaky bucket: drains `capacity` per `windowMs`, then adds `x`; returns the new level. */
function pour(b: Bucket, ts: number, x: number, capacity: number, windowMs: number): number {
  const dt = Math.max(0, ts - b.ts);
  b.level = Math.max(0, b.level - (capacity * dt) / windowMs) + x;
  b.ts = ts;
  return b.level;
}

function isError(status: number): boolean {
  return status >= 400 && status < 500;
}

/**
 * Per agent, the highest level each bucket reaches over `events` with the given drain rates
 * (fitting: a limit at or above an agent's peak never trips for it).
 */
export function ruleBucketPeaks(events: readonly AgentRequestEvent[], drain: RuleParams): Map<string, { rate: number; errors: number }> {
  const state = new Map<string, { rate: Bucket; err: Bucket; peak: { rate: number; errors: number } }>();
  for (const e of events) {
    const key = `${e.tenant ?? 'default'}\u0000${e.agent.id}`;
    let s = state.get(key);
    if (!s) state.set(key, (s = { rate: { level: 0, ts: e.ts }, err: { level: 0, ts: e.ts }, peak: { rate: 0, errors: 0 } }));
    s.peak.rate = Math.max(s.peak.rate, pour(s.rate, e.ts, 1, drain.ratePerMin, MIN));
    s.peak.errors = Math.max(s.peak.errors, pour(s.err, e.ts, isError(e.request.status) ? 1 : 0, drain.errorsPer10Min, 10 * MIN));
  }
  const out = new Map<string, { rate: number; errors: number }>();
  for (const [k, v] of state) out.set(k.slice(k.indexOf('\u0000') + 1), v.peak);
  return out;
}

/**
 * Fits the two limits on benign agents of training data: for a limit L the bucket drains L per
 * window, so an agent trips when its bucket ever exceeds L. Searches the smallest L (on a
 * geometric grid) that at most `budget` of the benign agents trip, separately per bucket.
 */
export function fitRules(streams: readonly { events: readonly AgentRequestEvent[]; benign: (agentId: string) => boolean }[], budget = 0.0025): RuleParams {
  const grid: number[] = [];
  for (let x = 2; x <= 5_000; x *= 1.15) grid.push(Math.round(x * 100) / 100);
  const tripShare = (params: RuleParams, which: 'rate' | 'errors'): number => {
    let n = 0;
    let tripped = 0;
    for (const s of streams) {
      for (const [agent, peak] of ruleBucketPeaks(s.events, params)) {
        if (!s.benign(agent)) continue;
        n++;
        if (which === 'rate' ? peak.rate > params.ratePerMin : peak.errors > params.errorsPer10Min) tripped++;
      }
    }
    return n ? tripped / n : 0;
  };
  // The share of agents that trip falls as the limit grows: binary search for the first admissible grid value.
  const smallest = (ok: (L: number) => boolean): number => {
    let lo = 0;
    let hi = grid.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ok(grid[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return grid[lo]!;
  };
  return {
    ratePerMin: smallest((L) => tripShare({ ratePerMin: L, errorsPer10Min: 1e9 }, 'rate') <= budget),
    errorsPer10Min: smallest((L) => tripShare({ ratePerMin: 1e9, errorsPer10Min: L }, 'errors') <= budget),
  };
}

/** Runs the static rules over a stream and feeds the evaluator (whose stream is begun). */
export function runRules(events: readonly AgentRequestEvent[], params: RuleParams, evaluator: DetectionEvaluator): void {
  const state = new Map<string, { rate: Bucket; err: Bucket; wasOver: boolean }>();
  for (const e of events) {
    const key = `${e.tenant ?? 'default'}\u0000${e.agent.id}`;
    let s = state.get(key);
    if (!s) state.set(key, (s = { rate: { level: 0, ts: e.ts }, err: { level: 0, ts: e.ts }, wasOver: false }));
    const rate = pour(s.rate, e.ts, 1, params.ratePerMin, MIN) / params.ratePerMin;
    const errors = pour(s.err, e.ts, isError(e.request.status) ? 1 : 0, params.errorsPer10Min, 10 * MIN) / params.errorsPer10Min;
    const over = (rate > 1 ? 1 : 0) + (errors > 1 ? 1 : 0);
    const band: Band = over === 2 ? 'block' : over === 1 ? 'restrict' : Math.max(rate, errors) > 0.75 ? 'watch' : 'trusted';
    evaluator.add({
      agentId: e.agent.id,
      ts: e.ts,
      anomaly: Math.max(rate, errors),
      trust: Math.round(Math.max(0, 1 - Math.max(rate, errors) / 2) * 10_000) / 10_000,
      band,
      circuit: 'closed',
      opened: over > 0 && !s.wasOver,
    });
    s.wasOver = over > 0;
  }
}

// ---------------------------------------------------------------------------------------------
// (b) Raw-field anomaly model
// ---------------------------------------------------------------------------------------------

/** Scores events on their raw fields (no per-agent state), in batches of 1000 like the pipeline. */
export async function scoreRaw(events: readonly AgentRequestEvent[], scorer: AnomalyScorer, name = 'events'): Promise<ScoredFile> {
  const out: ScoredEvent[] = [];
  const last = new Map<string, number>();
  const batch = 1000;
  const matrix = new Float32Array(batch * RAW_COUNT);
  for (let i = 0; i < events.length; i += batch) {
    const rows = Math.min(batch, events.length - i);
    for (let k = 0; k < rows; k++) {
      const e = events[i + k]!;
      const key = `${e.tenant ?? 'default'}\u0000${e.agent.id}`;
      const prev = last.get(key);
      const ts = prev === undefined ? e.ts : Math.max(e.ts, prev);
      last.set(key, ts);
      const signals = rawFields(e, matrix, k * RAW_COUNT);
      out.push({ key, agentId: e.agent.id, ts, dt: prev === undefined ? 0 : ts - prev, first: prev === undefined, anomaly: 0, signals });
    }
    const scores = await scorer.score(matrix.subarray(0, rows * RAW_COUNT), rows);
    for (let k = 0; k < rows; k++) out[i + k]!.anomaly = Math.round(scores[k]! * 10_000) / 10_000;
  }
  return { file: name, events: out, features: null };
}

/** CSV of raw-field rows (header agentId,eventId,ts,<fields>) for training the baseline model. */
export function rawCsvRows(events: readonly AgentRequestEvent[], include: (e: AgentRequestEvent) => boolean): string[] {
  const v = new Float32Array(RAW_COUNT);
  const rows: string[] = [];
  for (const e of events) {
    rawFields(e, v, 0);
    if (!include(e)) continue;
    const id = /[",\n\r]/.test(e.agent.id) ? `"${e.agent.id.replace(/"/g, '""')}"` : e.agent.id;
    const eid = /[",\n\r]/.test(e.eventId) ? `"${e.eventId.replace(/"/g, '""')}"` : e.eventId;
    rows.push(`${id},${eid},${e.ts},${Array.from(v, (x) => String(x)).join(',')}`);
  }
  return rows;
}
