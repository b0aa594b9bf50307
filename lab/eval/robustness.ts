/**
 * Robustness evaluation (docs/evaluation.md, "Robustness"): does detection hold on traffic the
 * model and policy were not fitted or tuned on?
 *
 *  - leave-one-kind-out folds on a corpus (training, tuning and test sets): refit the tail-sum
 *    model in TypeScript (lab/eval/tailsum.ts, the family and parameters of the committed card)
 *    and re-tune the policy (lab/eval/tune.ts) without one benign profile — measure that
 *    profile's benign agents flagged on the test sets — or without one attack kind — measure
 *    that kind's detection;
 *  - the committed model and DEFAULT_POLICY on independent streams (lab/indep) and on a
 *    perturbation sweep of them;
 *  - real access logs through `trustline import-log` → `trustline replay` (lab/eval/real-logs.ts).
 *
 * Pure computation over in-memory events; the command (lab/eval/commands/robustness.ts) does
 * the I/O and writes models/EVALUATION.md.
 */
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { DEFAULT_POLICY, type Policy } from '../../src/core/judge.ts';
import type { AnomalyScorer } from '../../src/pipeline/ports.ts';
import type { EvalSummary } from './evaluator.ts';
import { loadLabels, sidecarOf, type AgentLabel, type Labels } from './labels.ts';
import { rocAuc } from './metrics.ts';
import { scoreEvents, type ScoredFile } from './offline.ts';
import { fitTailSum, tailSumScorer, type TailSumParams } from './tailsum.ts';
import { concatRows, readEventFile, trainingRows } from './training-rows.ts';
import { evaluateGrid, evaluatePolicy, POLICY_GRID, tuneOnSubset, WIDE_GRID, type Candidate, type Grid } from './tune.ts';

export type Dataset = { name: string; events: AgentRequestEvent[]; labels: Labels };
export type Corpus = { name: string; train: Dataset[]; tune: Dataset[]; test: Dataset[] };

/** The targets for validation and every leave-one-out row (docs/evaluation.md). */
export const TARGETS = { caught: 0.97, perKind: 0.9, benignFlagged: 0.01, medianEvents: 5, firstRequestEvents: 5 } as const;

export async function loadDataset(file: string): Promise<Dataset> {
  return { name: file, events: await readEventFile(file), labels: loadLabels(sidecarOf(file)) };
}

/** A benign agent's profile, or an attack host's (null for agents with no label). */
export function profileOf(l: AgentLabel | undefined): string | null {
  if (!l) return null;
  return l.malicious ? (l.profile ?? null) : (l.profile ?? l.scenario);
}

/** Labels restricted to the agents `keep` accepts (the others become unlabelled: not evaluated). */
export function restrictLabels(labels: Labels, keep: (l: AgentLabel) => boolean): Labels {
  return { ...labels, agents: Object.fromEntries(Object.entries(labels.agents).filter(([, l]) => keep(l))) };
}

/** Per-agent and per-kind figures of one evaluation. */
export type Figures = {
  malicious: number;
  detected: number;
  caught: number | null;
  perKind: Record<string, { agents: number; detected: number; rate: number | null; medianEvents: number | null }>;
  worstKind: { name: string; rate: number } | null;
  benign: number;
  benignFlagged: number;
  benignFlaggedRate: number | null;
  flaggedByProfile: Record<string, { agents: number; flagged: number }>;
  medianEvents: number | null;
  /** Agent-level ROC-AUC of 1 − lowest trust, malicious vs benign. */
  agentAuc: number | null;
  /** Malicious agents active from their first request (no event before the attack start). */
  fromFirstRequest: { agents: number; within5: number; maxEvents: number | null };
  /** Benign agents flagged only through an open circuit while trust stayed ≥ restrict. */
  circuitOnlyFlags: number;
};

export function figuresOf(s: EvalSummary): Figures {
  const perKind: Figures['perKind'] = {};
  for (const [k, g] of Object.entries(s.perScenario))
    perKind[k] = { agents: g.agents, detected: g.detected, rate: g.detectionRate, medianEvents: g.timeToDetectEvents.median };
  let worst: Figures['worstKind'] = null;
  for (const [k, g] of Object.entries(perKind)) if (worst === null || (g.rate ?? 0) < worst.rate) worst = { name: k, rate: g.rate ?? 0 };
  const flaggedByProfile: Figures['flaggedByProfile'] = {};
  for (const [k, p] of Object.entries(s.perBenignProfile)) flaggedByProfile[k] = { agents: p.agents, flagged: p.flagged };
  const agents = s.agents;
  const scores = agents.map((a) => 1 - a.lowestTrust);
  const auc = rocAuc(
    scores,
    agents.map((a) => (a.malicious ? 1 : 0)),
  );
  const born = agents.filter((a) => a.malicious && a.events === a.attackEvents);
  const bornEvents = born.map((a) => (a.firstDetection ? a.firstDetection.eventsAfterStart : Number.POSITIVE_INFINITY));
  return {
    malicious: s.overall.agents,
    detected: s.overall.detected,
    caught: s.overall.detectionRate,
    perKind,
    worstKind: worst,
    benign: s.overall.benignAgents,
    benignFlagged: s.overall.benignAgentsFlagged,
    benignFlaggedRate: s.overall.falsePositiveRate,
    flaggedByProfile,
    medianEvents: s.overall.timeToDetectEvents.median,
    agentAuc: Number.isFinite(auc) ? Math.round(auc * 10_000) / 10_000 : null,
    fromFirstRequest: {
      agents: born.length,
      within5: bornEvents.filter((e) => e <= TARGETS.firstRequestEvents).length,
      maxEvents: born.length ? (bornEvents.some((e) => !Number.isFinite(e)) ? null : Math.max(...bornEvents)) : null,
    },
    circuitOnlyFlags: agents.filter((a) => !a.malicious && a.flaggedEvents > 0 && a.lowestTrust >= 0.5).length,
  };
}

/** Which targets a figure set misses (empty = all met). */
export function missedTargets(f: Figures): string[] {
  const out: string[] = [];
  if (f.malicious > 0 && (f.caught ?? 0) < TARGETS.caught) out.push(`caught ${pct(f.caught)} < 97 %`);
  for (const [k, g] of Object.entries(f.perKind)) if ((g.rate ?? 0) < TARGETS.perKind) out.push(`${k} ${pct(g.rate)} < 90 %`);
  if (f.benign > 0 && (f.benignFlaggedRate ?? 0) > TARGETS.benignFlagged) out.push(`benign flagged ${pct(f.benignFlaggedRate)} > 1 %`);
  if (f.medianEvents !== null && f.medianEvents > TARGETS.medianEvents) out.push(`median ${f.medianEvents} events > 5`);
  if (f.fromFirstRequest.agents > f.fromFirstRequest.within5)
    out.push(`${f.fromFirstRequest.agents - f.fromFirstRequest.within5}/${f.fromFirstRequest.agents} first-request attackers not flagged within 5 events`);
  return out;
}

export function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)} %`;
}

async function scoreAll(ds: readonly Dataset[], scorer: AnomalyScorer, relabel?: (l: Labels) => Labels): Promise<{ scored: ScoredFile; labels: Labels }[]> {
  const out: { scored: ScoredFile; labels: Labels }[] = [];
  for (const d of ds) out.push({ scored: await scoreEvents(d.events, scorer, { name: d.name }), labels: relabel ? relabel(d.labels) : d.labels });
  return out;
}

/** Fits the tail-sum family on the benign rows of `train` whose agents `keep` accepts. */
export async function fitFold(
  train: readonly Dataset[],
  params: TailSumParams,
  keep: (l: AgentLabel | undefined) => boolean = () => true,
  modelId = 'fold',
): Promise<AnomalyScorer> {
  const parts = [];
  for (const d of train) parts.push(await trainingRows(d.events, d.labels, (l) => keep(l)));
  const rows = concatRows(parts);
  return tailSumScorer(fitTailSum(rows.matrix, rows.rows, params), modelId);
}

export type FoldRow = {
  /** 'benign' (a benign profile left out) or 'attack' (an attack kind left out); 'none' = every kind in. */
  leftOut: 'benign' | 'attack' | 'none';
  kind: string;
  policy: string;
  /** On the test sets: the left-out profile's benign agents (flagged) or the left-out kind's agents (detected). */
  target: { agents: number; hits: number; rate: number | null };
  overall: Figures;
};

export type LooOptions = {
  grid?: Grid;
  wide?: Grid;
  base?: Policy;
  /** Only these kinds (default: every benign profile of the training labels and every attack kind). */
  benignKinds?: readonly string[];
  attackKinds?: readonly string[];
  log?: (msg: string) => void;
};

/** A dataset without the agents `drop` selects: their events are removed, not only their labels. */
export function withoutAgents(d: Dataset, drop: (l: AgentLabel) => boolean): Dataset {
  const gone = new Set(
    Object.entries(d.labels.agents)
      .filter(([, l]) => drop(l))
      .map(([id]) => id),
  );
  if (gone.size === 0) return d;
  return { name: d.name, events: d.events.filter((e) => !gone.has(e.agent.id)), labels: restrictLabels(d.labels, (l) => !drop(l)) };
}

/**
 * Leave-one-kind-out on a corpus. Each fold removes every event of the left-out agents from the
 * training and tuning sets — a benign fold every agent of one profile (its benign agents and the
 * attack hosts that followed it), an attack fold every agent of one attack kind — so nothing of
 * them reaches the model, the peer or fleet statistics, or the policy; then refits the model
 * (benign rows only, as `trustline features --exclude-attacks`), re-tunes the policy by
 * lab/eval/tune.ts's rule, and measures on the untouched test sets. A row "(none)" is the same
 * with every kind in.
 */
export async function leaveOneOut(corpus: Corpus, params: TailSumParams, o: LooOptions = {}): Promise<FoldRow[]> {
  const grid = o.grid ?? POLICY_GRID;
  const wideGrid = o.wide ?? WIDE_GRID;
  const base = o.base ?? DEFAULT_POLICY;
  const log = o.log ?? (() => {});
  const kindsOf = (pred: (l: AgentLabel) => string | null, sets: readonly Dataset[]): string[] =>
    [...new Set(sets.flatMap((d) => Object.values(d.labels.agents).map(pred)).filter((x): x is string => x !== null))].sort();
  const attackKinds = o.attackKinds ?? kindsOf((l) => (l.malicious ? l.scenario : null), [...corpus.tune, ...corpus.test]);
  const benignKinds = o.benignKinds ?? kindsOf((l) => (l.malicious ? null : profileOf(l)), corpus.train);

  const fold = async (leftOut: FoldRow['leftOut'], kind: string, drop: (l: AgentLabel) => boolean): Promise<FoldRow> => {
    const train = corpus.train.map((d) => withoutAgents(d, drop));
    const scorer = await fitFold(train, params, () => true, `${corpus.name}-${leftOut}-${kind}`);
    const tune = await scoreAll(
      corpus.tune.map((d) => withoutAgents(d, drop)),
      scorer,
    );
    let wide: Candidate[] | null = null;
    const best = tuneOnSubset(
      evaluateGrid(tune, base, grid),
      () => true,
      () => (wide ??= evaluateGrid(tune, base, wideGrid)),
    )[0];
    const f = figuresOf(evaluatePolicy(await scoreAll(corpus.test, scorer), best?.policy ?? base, 'trustline', false));
    let target: FoldRow['target'] = { agents: 0, hits: 0, rate: null };
    if (leftOut === 'attack') {
      const g = f.perKind[kind];
      target = { agents: g?.agents ?? 0, hits: g?.detected ?? 0, rate: g?.rate ?? null };
    } else if (leftOut === 'benign') {
      const p = f.flaggedByProfile[kind];
      target = { agents: p?.agents ?? 0, hits: p?.flagged ?? 0, rate: p && p.agents ? p.flagged / p.agents : null };
    }
    log(
      leftOut === 'none'
        ? `${corpus.name}: every kind in: ${f.detected}/${f.malicious} detected, ${f.benignFlagged}/${f.benign} benign flagged`
        : `${corpus.name}: without ${leftOut} ${kind}: ${target.hits}/${target.agents} ${leftOut === 'benign' ? 'flagged' : 'detected'}`,
    );
    return { leftOut, kind, policy: best?.label ?? 'none admissible', target, overall: f };
  };

  const rows: FoldRow[] = [await fold('none', '(none)', () => false)];
  for (const kind of attackKinds) rows.push(await fold('attack', kind, (l) => l.malicious && l.scenario === kind));
  for (const kind of benignKinds) rows.push(await fold('benign', kind, (l) => profileOf(l) === kind));
  return rows;
}

/** The committed scorer and a policy on labelled datasets. */
export async function evaluateOn(ds: readonly Dataset[], scorer: AnomalyScorer, policy: Policy = DEFAULT_POLICY): Promise<Figures> {
  return figuresOf(evaluatePolicy(await scoreAll(ds, scorer), policy, 'trustline', false));
}
