/**
 * Training rows for in-process model fits (lab/eval/tailsum.ts): the feature vectors of labelled
 * event files, computed by lab/eval/offline.ts's `scoreEvents` — the pipeline's own per-event
 * observation, the same as `trustline features` — with the same exclusion as `trustline features
 * --exclude-attacks` (events of a malicious agent at or after its attack start), plus an optional
 * agent filter (leave-one-kind-out folds).
 */
import { decodeEvent } from '../../src/contract/decode.ts';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { FEATURE_COUNT, FEATURE_NAMES } from '../../src/core/features.ts';
import type { AnomalyScorer } from '../../src/pipeline/ports.ts';
import { readLines } from '../../src/runners/replay/file-source.ts';
import type { AgentLabel, Labels } from './labels.ts';
import { scoreEvents } from './offline.ts';

/** Decoded valid events of a file, in order. */
export async function readEventFile(file: string): Promise<AgentRequestEvent[]> {
  const out: AgentRequestEvent[] = [];
  for await (const { bytes } of readLines(file)) {
    if (bytes.length === 0) continue;
    const r = decodeEvent(bytes);
    if (r.ok) out.push(r.event);
  }
  return out;
}

/** A scorer that scores nothing (feature extraction only). */
const NO_MODEL: AnomalyScorer = {
  modelId: 'none',
  featureStats: FEATURE_NAMES.map(() => ({ p50: 0, p99: 1 })),
  score: (_m, rows) => Promise.resolve(new Float32Array(rows)),
};

/**
 * Feature rows of `events` (one stream: agent state starts empty). Rows of malicious agents at or
 * after their attack start are left out; so are the rows of agents for which `keep` is false
 * (their events are still observed, so nothing else changes).
 */
export async function trainingRows(
  events: readonly AgentRequestEvent[],
  labels: Labels,
  keep: (label: AgentLabel | undefined, agentId: string) => boolean = () => true,
): Promise<{ matrix: Float32Array; rows: number }> {
  const scored = await scoreEvents(events, NO_MODEL, { keepFeatures: true, batch: 4096 });
  if (scored.events.length !== events.length) throw new Error(`observed ${scored.events.length} of ${events.length} events`);
  const all = scored.features!;
  const matrix = new Float32Array(events.length * FEATURE_COUNT);
  let rows = 0;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    const label = labels.agents[ev.agent.id];
    if (label?.malicious && label.attackStartTs !== null && ev.ts >= label.attackStartTs) continue;
    if (!keep(label, ev.agent.id)) continue;
    matrix.set(all.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT), rows * FEATURE_COUNT);
    rows++;
  }
  return { matrix: matrix.subarray(0, rows * FEATURE_COUNT), rows };
}

/** Concatenates row matrices. */
export function concatRows(parts: readonly { matrix: Float32Array; rows: number }[]): { matrix: Float32Array; rows: number } {
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  const matrix = new Float32Array(rows * FEATURE_COUNT);
  let o = 0;
  for (const p of parts) {
    matrix.set(p.matrix.subarray(0, p.rows * FEATURE_COUNT), o);
    o += p.rows * FEATURE_COUNT;
  }
  return { matrix, rows };
}
