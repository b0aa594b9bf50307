/**
 * Analyst's view of detection errors: for every missed malicious agent and every benign agent
 * that was flagged, prints the agent's events around the attack start / first flag with the
 * calibrated anomaly, trust, band and the features furthest above the fleet (model card p99).
 *
 * Usage: npm run eval -- inspect <file.jsonl[.gz]> [--card <card.json>] [--agent <id prefix>] [--before 5] [--after 25]
 */
import { defaultCardPath } from '../card.ts';
import { parseArgs } from 'node:util';
import { decodeEvent } from '../../../src/contract/decode.ts';
import type { AgentRequestEvent } from '../../../src/contract/schemas.ts';
import { FEATURE_COUNT, FEATURE_NAMES } from '../../../src/core/features.ts';
import { DEFAULT_POLICY, judge, r4 } from '../../../src/core/judge.ts';
import { F, newAgentState, type AgentState } from '../../../src/core/agent-state.ts';
import { DetectionEvaluator, isFlagged } from '../evaluator.ts';
import { loadLabels, sidecarOf } from '../labels.ts';
import { judgeScored, scoreFile } from '../offline.ts';
import { loadAnomalyScorer } from '../../../src/scoring/pipeline-scorer.ts';
import { readLines } from '../../../src/runners/replay/file-source.ts';

/** `npm run eval -- inspect` (lab/eval/cli.ts). */
export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      card: { type: 'string', default: defaultCardPath() },
      agent: { type: 'string' },
      evidence: { type: 'string' },
      scenario: { type: 'string' },
      near: { type: 'string' },
      before: { type: 'string', default: '5' },
      after: { type: 'string', default: '25' },
    },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: npm run eval -- inspect <file> [--card c] [--agent prefix]');
  const labels = loadLabels(sidecarOf(file));
  /** `--evidence '{"ref":2.5}'` overrides DEFAULT_POLICY.evidence. */
  const POLICY = { ...DEFAULT_POLICY, evidence: { ...DEFAULT_POLICY.evidence, ...(values.evidence ? (JSON.parse(values.evidence) as object) : {}) } };
  const scorer = await loadAnomalyScorer(values.card!);
  const scored = await scoreFile(file, scorer, { keepFeatures: true });
  const raw: AgentRequestEvent[] = [];
  for await (const { bytes } of readLines(file)) {
    if (bytes.length === 0) continue;
    const r = decodeEvent(bytes);
    if (r.ok) raw.push(r.event);
  }
  const ev = new DetectionEvaluator();
  ev.beginStream(file, labels);
  judgeScored(scored, POLICY, ev, scorer);
  const summary = ev.summary();
  const pick = summary.agents.filter((a) =>
    values.agent
      ? a.agentId.startsWith(values.agent)
      : values.scenario
        ? a.scenario === values.scenario
        : values.near
          ? !a.malicious && a.lowestTrust < Number(values.near)
          : (a.malicious && !a.detected) || (!a.malicious && a.flaggedEvents > 0),
  );

  const stats = scorer.featureStats;
  for (const a of pick) {
    process.stdout.write(
      `\n== ${a.malicious ? a.scenario : `benign ${a.scenario}`} ${a.agentId} [${a.traits.join(' ')}] events ${a.events} attack ${a.attackEvents} lowest trust ${a.lowestTrust} flagged ${a.flaggedEvents}\n`,
    );
    const idx = scored.events.flatMap((e, i) => (e.agentId === a.agentId ? [i] : []));
    const states = new Map<string, AgentState>();
    const s = newAgentState();
    states.set(a.agentId, s);
    let anchor = a.attackStartTs !== null ? idx.findIndex((i) => scored.events[i]!.ts >= a.attackStartTs!) : -1;
    const judged = idx.map((i) => {
      const e = scored.events[i]!;
      return { i, j: judge(s, e.signals, e.anomaly, e.ts, e.dt, e.first, POLICY), E: s.f[F.evidence]! };
    });
    if (anchor < 0)
      anchor = Math.max(
        0,
        judged.findIndex((x) => isFlagged(x.j.band, x.j.circuit)),
      );
    if (a.attackStartTs === null && a.flaggedEvents === 0) anchor = judged.reduce((m, x, k) => (x.j.trust < judged[m]!.j.trust ? k : m), 0);
    const lo = Math.max(0, anchor - Number(values.before));
    const hi = Math.min(judged.length, anchor + Number(values.after));
    for (let k = lo; k < hi; k++) {
      const { i, j, E } = judged[k]!;
      const e = scored.events[i]!;
      const r = raw[i]!;
      const tops: string[] = [];
      for (let f = 0; f < FEATURE_COUNT; f++) {
        const v = scored.features![i * FEATURE_COUNT + f]!;
        const st = stats[f]!;
        const score = (v - st.p50) / Math.max(st.p99 - st.p50, 0.05 * (Math.abs(st.p99) + 1));
        if (score > 1) tops.push(`${FEATURE_NAMES[f]}=${r4(v)}`);
      }
      const rel = a.attackStartTs !== null ? `${((e.ts - a.attackStartTs) / 1000).toFixed(0)}s` : '';
      process.stdout.write(
        `${String(k - anchor).padStart(4)} ${rel.padStart(8)} an=${e.anomaly.toFixed(3)} E=${E.toFixed(2)} tr=${r4(j.trust).toFixed(3)} ${j.band.padEnd(8)} ${j.circuit.padEnd(9)} ${r.request.method} ${r.request.route.slice(0, 34).padEnd(34)} ${r.request.status} ${String(r.request.bytesOut ?? '').padStart(9)} ${r.action?.name ?? ''} as${r.request.asn ?? ''} ${r.request.country ?? ''} ${(r.agent.userAgent ?? '').slice(0, 16)} | ${tops.join(' ')}\n`,
      );
    }
  }
  await scorer.close();
}
