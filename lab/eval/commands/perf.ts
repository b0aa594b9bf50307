/**
 * Measures the two per-event costs the detection work must stay within (not a test; numbers
 * depend on the machine):
 *  - `observe()` µs per event over real fixture traffic (decoded beforehand, states in a Map,
 *    as the pipeline does), target ≤ 2.5 µs;
 *  - the model's ONNX time per 1000-row batch with 1 intra-op thread, target ≤ 4 ms.
 *
 * Usage: npm run eval -- perf [--card <model card, default: the configuration's model.card>] [files…]
 */
import { defaultCardPath } from '../card.ts';
import { parseArgs } from 'node:util';
import type { AgentRequestEvent } from '../../../src/contract/schemas.ts';
import { decodeEvent } from '../../../src/contract/decode.ts';
import { D, isInitialised, newAgentState, type AgentState } from '../../../src/core/agent-state.ts';
import { FEATURE_COUNT, FEATURE_NAMES, observe } from '../../../src/core/features.ts';
import { loadScorer } from '../../../src/scoring/onnx-scorer.ts';
import { readLines } from '../../../src/runners/replay/file-source.ts';

/** `npm run eval -- perf` (lab/eval/cli.ts). */
export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { card: { type: 'string', default: defaultCardPath() }, rounds: { type: 'string', default: '7' } },
  });
  const files = positionals.length ? positionals : ['fixtures/validation/validation-a.jsonl.gz', 'fixtures/validation/validation-b.jsonl.gz'];

  const events: AgentRequestEvent[] = [];
  for (const f of files) {
    for await (const { bytes } of readLines(f)) {
      if (bytes.length === 0) continue;
      const r = decodeEvent(bytes);
      if (r.ok) events.push(r.event);
    }
  }

  const out = new Float32Array(FEATURE_COUNT * 1000);
  function pass(): number {
    const states = new Map<string, AgentState>();
    const t0 = performance.now();
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      let s = states.get(ev.agent.id);
      if (!s) states.set(ev.agent.id, (s = newAgentState()));
      const ts = isInitialised(s) ? Math.max(ev.ts, s.d[D.lastTs]!) : ev.ts;
      observe(s, ev, ts, out, (i % 1000) * FEATURE_COUNT);
    }
    return ((performance.now() - t0) * 1000) / events.length;
  }
  // Map lookups and state allocation included; the pipeline does the same work per event.
  const rounds = Number(values.rounds);
  const us: number[] = [];
  for (let r = 0; r < rounds; r++) us.push(pass());
  us.sort((a, b) => a - b);

  const scorer = await loadScorer({ cardPath: values.card!, expectedFeatures: FEATURE_NAMES, intraOpThreads: 1 });
  const matrix = new Float32Array(FEATURE_COUNT * 1000);
  {
    // Real feature rows: the last 1000 observed.
    const states = new Map<string, AgentState>();
    const n = Math.min(events.length, 20_000);
    for (let i = 0; i < n; i++) {
      const ev = events[i]!;
      let s = states.get(ev.agent.id);
      if (!s) states.set(ev.agent.id, (s = newAgentState()));
      const ts = isInitialised(s) ? Math.max(ev.ts, s.d[D.lastTs]!) : ev.ts;
      observe(s, ev, ts, matrix, (i % 1000) * FEATURE_COUNT);
    }
  }
  for (let i = 0; i < 30; i++) await scorer.score(matrix, 1000);
  const ms: number[] = [];
  for (let r = 0; r < 200; r++) {
    const t0 = performance.now();
    await scorer.score(matrix, 1000);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  await scorer.close();

  const result = {
    events: events.length,
    observeUsPerEvent: { median: Math.round(us[us.length >> 1]! * 1000) / 1000, best: Math.round(us[0]! * 1000) / 1000 },
    onnxMsPer1000Rows: {
      model: scorer.modelId,
      median: Math.round(ms[ms.length >> 1]! * 1000) / 1000,
      p90: Math.round(ms[Math.floor(ms.length * 0.9)]! * 1000) / 1000,
    },
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
