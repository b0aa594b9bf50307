/**
 * Training rows for in-process model fits (lab/eval/tailsum.ts): the feature vectors of labelled
 * event files, computed by the same `observeEvent()` (src/core/step.ts) the pipeline and `trustline features` use, with
 * the same exclusion as `trustline features --exclude-attacks` (events of a malicious agent at or
 * after its attack start), plus an optional agent filter (leave-one-kind-out folds).
 */
import { decodeEvent } from '../../src/contract/decode.ts';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { eventAgentKey } from '../../src/core/agent-key.ts';
import { newAgentState, type AgentState } from '../../src/core/agent-state.ts';
import { FEATURE_COUNT } from '../../src/core/features.ts';
import { observeEvent } from '../../src/core/step.ts';
import { readLines } from '../../src/runners/replay/file-source.ts';
import type { AgentLabel, Labels } from './labels.ts';

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

/**
 * Feature rows of `events` (one stream: agent state starts empty). Rows of malicious agents at or
 * after their attack start are left out; so are the rows of agents for which `keep` is false
 * (their events are still observed, so nothing else changes).
 */
export function trainingRows(events: readonly AgentRequestEvent[], labels: Labels, keep: (label: AgentLabel | undefined, agentId: string) => boolean = () => true): { matrix: Float32Array; rows: number } {
  const states = new Map<string, AgentState>();
  let cap = Math.max(1024, events.length);
  let matrix = new Float32Array(cap * FEATURE_COUNT);
  const vec = new Float32Array(FEATURE_COUNT);
  let rows = 0;
  for (const ev of events) {
    const key = eventAgentKey(ev);
    let s = states.get(key);
    if (!s) states.set(key, (s = newAgentState()));
    observeEvent(s, ev, vec, 0);
    const label = labels.agents[ev.agent.id];
    if (label?.malicious && label.attackStartTs !== null && ev.ts >= label.attackStartTs) continue;
    if (!keep(label, ev.agent.id)) continue;
    if (rows === cap) {
      cap *= 2;
      const m = new Float32Array(cap * FEATURE_COUNT);
      m.set(matrix);
      matrix = m;
    }
    matrix.set(vec, rows * FEATURE_COUNT);
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
