/**
 * Choosing the trust-evidence policy on TRAINING data: a small grid around the defaults, each
 * evaluated on scored training files, ranked by a fixed rule (docs/evaluation.md, "Policy
 * selection"). Validation data is never passed here.
 */
import { DEFAULT_POLICY, type Policy } from '../../src/core/judge.ts';
import { DetectionEvaluator, summarizeOutcomes, type AgentOutcome, type EvalSummary } from './evaluator.ts';
import type { Labels } from './labels.ts';
import { judgeScored, type ScoredFile } from './offline.ts';

/** The grid: evidence reference, per-event decay, time constant, scale, and the breaker's anomalous level. */
export const POLICY_GRID = {
  ref: [1.5, 2, 2.5],
  perEvent: [0.9, 0.95, 0.98],
  tauMs: [120_000, 600_000, 3_600_000, 21_600_000],
  scale: [5, 6.5, 8, 10],
  anomalousAt: [0.85, 0.9],
} as const;

/** A wider grid, searched only when no policy of POLICY_GRID is admissible (e.g. for a weaker detector). */
export const WIDE_GRID = {
  ref: [1.5, 2, 2.5, 3, 3.5],
  perEvent: [0.9, 0.95, 0.98],
  tauMs: [120_000, 600_000, 3_600_000],
  scale: [5, 8, 12, 20, 30],
  anomalousAt: [0.9, 0.95],
} as const;

export type Grid = { readonly [K in keyof typeof POLICY_GRID]: readonly number[] };

export type Candidate = { policy: Policy; label: string; summary: EvalSummary; benignMargin: number };

/** Every policy of the grid, built on `base`. */
export function gridPolicies(base: Policy = DEFAULT_POLICY, grid: Grid = POLICY_GRID): { policy: Policy; label: string }[] {
  const out: { policy: Policy; label: string }[] = [];
  for (const ref of grid.ref)
    for (const perEvent of grid.perEvent)
      for (const tauMs of grid.tauMs)
        for (const scale of grid.scale)
          for (const anomalousAt of grid.anomalousAt)
            out.push({
              policy: { ...base, anomalousAt, evidence: { ...base.evidence, ref, perEvent, tauMs, scale } },
              label: `ref ${ref}, perEvent ${perEvent}, tau ${tauMs / 60_000} min, scale ${scale}, anomalousAt ${anomalousAt}`,
            });
  return out;
}

/** Summary of scored files under one policy (ranking metrics skipped unless asked for). */
export function evaluatePolicy(files: readonly { scored: ScoredFile; labels: Labels }[], policy: Policy, detector = 'trustline', ranking = false): EvalSummary {
  const ev = new DetectionEvaluator(detector);
  for (const { scored, labels } of files) {
    ev.beginStream(scored.file, labels);
    judgeScored(scored, policy, ev);
  }
  return ev.summary({ ranking });
}

function minScenarioRate(s: EvalSummary): number {
  const r = Object.values(s.perScenario).map((g) => g.detectionRate ?? 0);
  return r.length ? Math.min(...r) : 0;
}

/**
 * Ranks candidates: at most `maxFpRate` of benign agents flagged (half the 1 % target, a margin
 * for traffic never seen); then the worst attack type's
 * detection rate, the overall detection rate, fewer benign agents flagged, the median time to
 * detect (whole events), and last the benign margin (the lowest trust any benign agent reached:
 * higher is further from a false positive). Returns them best first (the admissible ones only).
 */
export function rankCandidates(cands: Candidate[], maxFpRate = 0.005): Candidate[] {
  return cands
    .filter((c) => (c.summary.overall.falsePositiveRate ?? 1) <= maxFpRate)
    .sort(
      (a, b) =>
        minScenarioRate(b.summary) - minScenarioRate(a.summary) ||
        (b.summary.overall.detectionRate ?? 0) - (a.summary.overall.detectionRate ?? 0) ||
        a.summary.overall.benignAgentsFlagged - b.summary.overall.benignAgentsFlagged ||
        Math.round(a.summary.overall.timeToDetectEvents.median ?? 1e9) - Math.round(b.summary.overall.timeToDetectEvents.median ?? 1e9) ||
        b.benignMargin - a.benignMargin,
    );
}

/**
 * Evaluates every policy of POLICY_GRID on the training files and returns the ranked admissible
 * ones; when none is admissible, the same for WIDE_GRID; when still none is, every WIDE_GRID
 * policy ranked by fewest benign agents flagged, then detection (so a detector that cannot meet
 * the budget is reported at its most conservative setting, not dropped).
 */
export function tunePolicy(train: readonly { scored: ScoredFile; labels: Labels }[], base: Policy = DEFAULT_POLICY, detector = 'trustline'): Candidate[] {
  const evaluate = (grid: Grid): Candidate[] =>
    gridPolicies(base, grid).map(({ policy, label }) => {
      const summary = evaluatePolicy(train, policy, detector);
      const benign = summary.agents.filter((a) => !a.malicious);
      const benignMargin = benign.length ? Math.min(...benign.map((a) => a.lowestTrust)) : 1;
      return { policy, label, summary, benignMargin };
    });
  const ranked = rankCandidates(evaluate(POLICY_GRID));
  if (ranked.length) return ranked;
  const wide = evaluate(WIDE_GRID);
  const rankedWide = rankCandidates(wide);
  if (rankedWide.length) return rankedWide;
  return wide.sort(
    (a, b) =>
      a.summary.overall.benignAgentsFlagged - b.summary.overall.benignAgentsFlagged ||
      (b.summary.overall.detectionRate ?? 0) - (a.summary.overall.detectionRate ?? 0) ||
      b.benignMargin - a.benignMargin,
  );
}

/** Every policy of `grid` evaluated once on the files: per-agent outcomes kept for re-ranking on subsets. */
export function evaluateGrid(
  files: readonly { scored: ScoredFile; labels: Labels }[],
  base: Policy = DEFAULT_POLICY,
  grid: Grid = POLICY_GRID,
  detector = 'trustline',
): Candidate[] {
  return gridPolicies(base, grid).map(({ policy, label }) => {
    const summary = evaluatePolicy(files, policy, detector);
    return { policy, label, summary, benignMargin: benignMarginOf(summary.agents) };
  });
}

function benignMarginOf(agents: readonly AgentOutcome[]): number {
  const benign = agents.filter((a) => !a.malicious);
  return benign.length ? Math.min(...benign.map((a) => a.lowestTrust)) : 1;
}

/**
 * {@link tunePolicy} restricted to the agents `include` accepts, from already evaluated grids
 * (`wide` evaluated lazily, only when no policy of `grid` is admissible). Same ranking rule.
 */
export function tuneOnSubset(cands: Candidate[], include: (a: AgentOutcome) => boolean, wide: () => Candidate[]): Candidate[] {
  const restrict = (cs: Candidate[]): Candidate[] =>
    cs.map((c) => {
      const agents = c.summary.agents.filter(include);
      return { ...c, summary: summarizeOutcomes(agents, c.summary.detector), benignMargin: benignMarginOf(agents) };
    });
  const ranked = rankCandidates(restrict(cands));
  if (ranked.length) return ranked;
  const w = restrict(wide());
  const rankedWide = rankCandidates(w);
  if (rankedWide.length) return rankedWide;
  return w.sort(
    (a, b) =>
      a.summary.overall.benignAgentsFlagged - b.summary.overall.benignAgentsFlagged ||
      (b.summary.overall.detectionRate ?? 0) - (a.summary.overall.detectionRate ?? 0) ||
      b.benignMargin - a.benignMargin,
  );
}
