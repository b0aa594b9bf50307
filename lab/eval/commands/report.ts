/**
 * The evaluation behind models/EVALUATION.md, reproducible from seeds and pinned requirements:
 *
 *  1. data: fixtures/train (model fitting), plus training-kind simulator sets (seeds 7001–7004)
 *     for choosing trust policies; fixtures/validation for the reported figures (never fitted
 *     or tuned on); fresh validation-kind simulator sets (seeds 9101–9106) as a held-out check.
 *  2. model selection: candidate families trained by models/train.py on the same rows, each
 *     with its own policy chosen on the training-kind data (lab/eval/tune.ts), compared on
 *     validation;
 *  3. baselines on the same data: (a) static rules (leaky-bucket rate limit + 4xx counter),
 *     (b) the raw-field anomaly model (lab/eval/baselines.ts, lab/eval/raw-fields.ts);
 *  4. trustline as committed (the configuration's model card, DEFAULT_POLICY), explanations, and
 *     the two costs (observe µs/event, ONNX ms per 1000 rows);
 *  5. writes models/EVALUATION.md, models/.cache/evaluation.json, and the figures into the
 *     committed model card's `evaluation` block.
 *
 * Usage: npm run eval -- report [--skip-candidates]   (needs models/.venv: npm run train once)
 */
import { defaultCardPath } from '../card.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AgentRequestEvent } from '../../../src/contract/schemas.ts';
import { D, isInitialised, newAgentState, type AgentState } from '../../../src/core/agent-state.ts';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_VERSION, observe } from '../../../src/core/features.ts';
import { DEFAULT_POLICY, type Policy } from '../../../src/core/judge.ts';
import { fitRules, rawCsvRows, readEvents, runRules, scoreRaw, type RuleParams } from '../baselines.ts';
import { DetectionEvaluator, type EvalSummary, type GroupFigures } from '../evaluator.ts';
import { EXPECTED_REASONS, namesExpectedCause } from '../explanations.ts';
import { loadLabels, sidecarOf, type Labels } from '../labels.ts';
import { judgeScored, scoreFile, type ScoredFile } from '../offline.ts';
import { RAW_FIELDS, RAW_NAMES, RAW_VERSION } from '../raw-fields.ts';
import { tunePolicy, POLICY_GRID } from '../tune.ts';
import type { AnomalyScorer } from '../../../src/pipeline/ports.ts';
import { loadScorer } from '../../../src/scoring/onnx-scorer.ts';
import { loadAnomalyScorer } from '../../../src/scoring/pipeline-scorer.ts';
import { readSection } from './robustness.ts';

let values: { 'skip-candidates'?: boolean } = {};
const PY = 'models/.venv/bin/python';
const SIM = 'models/.cache/sim';
const TRAIN = ['fixtures/train/train.jsonl.gz'];
const TUNE_SEEDS = [7001, 7002, 7003, 7004];
const HELDOUT_SEEDS = [9101, 9102, 9103, 9104, 9105, 9106];
const VALIDATION = ['a', 'b', 'c'].map((x) => `fixtures/validation/validation-${x}.jsonl.gz`);
const simFile = (kind: string, seed: number): string => `${SIM}/${kind}-adhoc-${seed}.jsonl.gz`;
const TUNE = [...TRAIN, ...TUNE_SEEDS.map((s) => simFile('train', s))];
const HELDOUT = HELDOUT_SEEDS.map((s) => simFile('validation', s));
const log = (m: string): void => void process.stderr.write(`[eval-report] ${m}\n`);
/** Merges evaluation figures into a model card, formatted exactly as models/train.py writes cards. */
const CARD_UPDATE = [
  'import json, sys',
  'card = json.load(open(sys.argv[1], encoding="utf-8"))',
  'card["evaluation"] = {"onnxParity": card["evaluation"]["onnxParity"], **json.load(open(sys.argv[2], encoding="utf-8"))}',
  'open(sys.argv[1], "w", encoding="utf-8").write(json.dumps(card, indent=2, allow_nan=False, ensure_ascii=False) + "\\n")',
].join('\n');

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

function ensureSimulated(): void {
  mkdirSync(SIM, { recursive: true });
  for (const [kind, seeds] of [
    ['train', TUNE_SEEDS],
    ['validation', HELDOUT_SEEDS],
  ] as const) {
    for (const seed of seeds) {
      if (existsSync(simFile(kind, seed))) continue;
      log(`simulating ${kind} seed ${seed}`);
      execFileSync('npx', ['tsx', 'lab/sim/cli.ts', '--adhoc', kind, '--seed', String(seed), '--out', SIM], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
  }
}

type Labelled = { scored: ScoredFile; labels: Labels };

async function scoreAll(files: readonly string[], scorer: AnomalyScorer, keepFeatures = false): Promise<Labelled[]> {
  const out: Labelled[] = [];
  for (const f of files) out.push({ scored: await scoreFile(f, scorer, { keepFeatures }), labels: loadLabels(sidecarOf(f)) });
  return out;
}

function train(args: string[]): void {
  execFileSync(PY, ['models/train.py', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function onnxMsPer1000(scorer: AnomalyScorer, width: number, rows: Float32Array): Promise<number> {
  const m = rows.subarray(0, 1000 * width);
  for (let i = 0; i < 30; i++) await scorer.score(m, 1000);
  const t: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await scorer.score(m, 1000);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return Math.round(t[t.length >> 1]! * 1000) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Detectors
// ---------------------------------------------------------------------------------------------

type Result = {
  name: string;
  policy?: Policy;
  policyLabel?: string;
  params?: unknown;
  validation: EvalSummary;
  heldout: EvalSummary;
  onnxMs?: number;
  note?: string;
};

function summarize(files: readonly Labelled[], policy: Policy, detector: string, scorer?: AnomalyScorer): EvalSummary {
  const ev = new DetectionEvaluator(detector);
  for (const { scored, labels } of files) {
    ev.beginStream(scored.file, labels);
    judgeScored(scored, policy, ev, scorer);
  }
  return ev.summary();
}

async function candidate(id: string, args: string[], features: string): Promise<Result & { card: string }> {
  const dir = `models/.cache/cand/${id}`;
  log(`candidate ${id}: training`);
  train(['--features', features, '--files', ...TRAIN, '--out-dir', dir, '--name', `cand-${id}`, ...args]);
  const card = `${dir}/cand-${id}.json`;
  const scorer = await loadAnomalyScorer(card);
  try {
    log(`candidate ${id}: scoring and choosing a policy on training-kind data`);
    const tune = await scoreAll(TUNE, scorer);
    const best = tunePolicy(tune)[0];
    if (!best) throw new Error(`candidate ${id}: no admissible policy`);
    const validation = summarize(await scoreAll(VALIDATION, scorer), best.policy, id);
    const heldout = summarize(await scoreAll(HELDOUT, scorer), best.policy, id);
    const rows = (await scoreAll([VALIDATION[0]!], scorer, true))[0]!.scored.features!;
    return { name: id, card, policy: best.policy, policyLabel: best.label, validation, heldout, onnxMs: await onnxMsPer1000(scorer, FEATURE_COUNT, rows) };
  } finally {
    await scorer.close();
  }
}

async function rulesBaseline(): Promise<Result> {
  log('baseline (a): fitting static rules on training-kind data');
  const streams: { events: AgentRequestEvent[]; benign: (a: string) => boolean }[] = [];
  for (const f of TUNE) {
    const labels = loadLabels(sidecarOf(f));
    streams.push({ events: await readEvents(f), benign: (a) => labels.agents[a]?.malicious === false });
  }
  const params: RuleParams = fitRules(streams);
  const run = async (files: readonly string[]): Promise<EvalSummary> => {
    const ev = new DetectionEvaluator('static rules');
    for (const f of files) {
      ev.beginStream(f, loadLabels(sidecarOf(f)));
      runRules(await readEvents(f), params, ev);
    }
    return ev.summary();
  };
  return { name: 'static rules', params, validation: await run(VALIDATION), heldout: await run(HELDOUT) };
}

async function rawBaseline(): Promise<Result> {
  log('baseline (b): raw-field model');
  const csv = 'models/.cache/raw-features.csv';
  const lines = [['agentId', 'eventId', 'ts', ...RAW_NAMES].join(',')];
  for (const f of TRAIN) {
    const labels = loadLabels(sidecarOf(f));
    // As `trustline features --exclude-attacks`: benign behaviour only.
    const attack = (e: AgentRequestEvent): boolean => {
      const l = labels.agents[e.agent.id];
      return !!l?.malicious && l.attackStartTs !== null && e.ts >= l.attackStartTs;
    };
    lines.push(...rawCsvRows(await readEvents(f), (e) => !attack(e)));
  }
  writeFileSync(csv, lines.join('\n') + '\n');
  train([
    '--features',
    csv,
    '--files',
    ...TRAIN,
    '--out-dir',
    'models/baselines',
    '--name',
    'baseline-raw',
    '--feature-version',
    RAW_VERSION,
    '--risk',
    RAW_FIELDS.map((f) => f.risk).join(','),
    '--groups',
    RAW_NAMES.join(','),
  ]);
  const s = await loadScorer({ cardPath: 'models/baselines/baseline-raw.json', expectedFeatures: RAW_NAMES, expectedFeatureVersion: RAW_VERSION });
  const scorer: AnomalyScorer = {
    modelId: s.modelId,
    featureStats: s.card.features.map((f) => ({ p50: s.card.featureStats[f]!.p50, p99: s.card.featureStats[f]!.p99 })),
    score: (m, r) => s.score(m, r),
  };
  try {
    const load = async (files: readonly string[]): Promise<Labelled[]> => {
      const out: Labelled[] = [];
      for (const f of files) out.push({ scored: await scoreRaw(await readEvents(f), scorer, f), labels: loadLabels(sidecarOf(f)) });
      return out;
    };
    const best = tunePolicy(await load(TUNE), DEFAULT_POLICY, 'raw-field model')[0];
    if (!best) throw new Error('raw baseline: no admissible policy');
    return {
      name: 'raw-field model',
      policy: best.policy,
      policyLabel: best.label,
      validation: summarize(await load(VALIDATION), best.policy, 'raw-field model'),
      heldout: summarize(await load(HELDOUT), best.policy, 'raw-field model'),
    };
  } finally {
    await s.close();
  }
}

async function trustlineCommitted(): Promise<Result & { explanations: Record<string, { ok: number; n: number }>; observeUs: number }> {
  log('trustline as committed');
  const scorer = await loadAnomalyScorer(defaultCardPath());
  try {
    const validationData = await scoreAll(VALIDATION, scorer, true);
    const validation = summarize(validationData, DEFAULT_POLICY, 'trustline', scorer);
    const heldout = summarize(await scoreAll(HELDOUT, scorer, true), DEFAULT_POLICY, 'trustline', scorer);
    const explanations: Record<string, { ok: number; n: number }> = {};
    for (const s of [validation, heldout])
      for (const a of s.agents) {
        if (!a.malicious || !a.firstDetection) continue;
        const t = (explanations[a.scenario] ??= { ok: 0, n: 0 });
        t.n++;
        if (namesExpectedCause(a.scenario, a.firstDetection.reasons)) t.ok++;
      }
    const onnxMs = await onnxMsPer1000(scorer, FEATURE_COUNT, validationData[0]!.scored.features!);
    return { name: 'trustline', policy: DEFAULT_POLICY, validation, heldout, explanations, onnxMs, observeUs: await observeUsPerEvent() };
  } finally {
    await scorer.close();
  }
}

/** observe() µs per event over the validation traffic (decoded beforehand; states in a Map, as the pipeline). */
async function observeUsPerEvent(): Promise<number> {
  const events: AgentRequestEvent[] = [];
  for (const f of VALIDATION) events.push(...(await readEvents(f)));
  const out = new Float32Array(FEATURE_COUNT * 1000);
  const us: number[] = [];
  for (let round = 0; round < 7; round++) {
    const states = new Map<string, AgentState>();
    const t0 = performance.now();
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      let s = states.get(e.agent.id);
      if (!s) states.set(e.agent.id, (s = newAgentState()));
      observe(s, e, isInitialised(s) ? Math.max(e.ts, s.d[D.lastTs]!) : e.ts, out, (i % 1000) * FEATURE_COUNT);
    }
    us.push(((performance.now() - t0) * 1000) / events.length);
  }
  us.sort((a, b) => a - b);
  return Math.round(us[us.length >> 1]! * 1000) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)} %`);
const num = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : String(x));
const frac = (g: { detected: number; agents: number }): string => `${g.detected}/${g.agents}`;

function overallRow(r: Result, s: EvalSummary): string {
  const o = s.overall;
  return `| ${r.name} | ${frac(o)} (${pct(o.detectionRate)}) | ${minScenario(s)} | ${o.benignAgentsFlagged}/${o.benignAgents} (${pct(o.falsePositiveRate)}) | ${pct(o.benignEventFlagRate)} | ${num(o.timeToDetectEvents.median)} / ${num(o.timeToDetectEvents.p90)} | ${num(o.timeToDetectSeconds.median)} / ${num(o.timeToDetectSeconds.p90)} | ${num(o.rocAuc)} | ${num(o.prAuc)} |`;
}

function minScenario(s: EvalSummary): string {
  const e = Object.entries(s.perScenario).sort((a, b) => (a[1].detectionRate ?? 0) - (b[1].detectionRate ?? 0))[0];
  return e ? `${pct(e[1].detectionRate)} (${e[0]})` : '–';
}

function scenarioTable(results: readonly Result[], pick: (r: Result) => EvalSummary): string[] {
  const names = Object.keys(pick(results[0]!).perScenario);
  const head = `| attack type | ${results.map((r) => `${r.name}: detected`).join(' | ')} | ${results.map((r) => `${r.name}: ttd median/p90 events (s)`).join(' | ')} | trustline ROC-AUC / PR-AUC |`;
  const sep = `|${'---|'.repeat(1 + results.length * 2 + 1)}`;
  const rows = names.map((n) => {
    const g = (r: Result): GroupFigures | undefined => pick(r).perScenario[n];
    const det = results.map((r) => (g(r) ? `${frac(g(r)!)} (${pct(g(r)!.detectionRate)})` : '–'));
    const ttd = results.map((r) =>
      g(r) && g(r)!.detected
        ? `${num(g(r)!.timeToDetectEvents.median)}/${num(g(r)!.timeToDetectEvents.p90)} (${num(g(r)!.timeToDetectSeconds.median)}/${num(g(r)!.timeToDetectSeconds.p90)} s)`
        : '–',
    );
    const t = pick(results[0]!).perScenario[n]!;
    return `| ${n} | ${det.join(' | ')} | ${ttd.join(' | ')} | ${num(t.rocAuc)} / ${num(t.prAuc)} |`;
  });
  return [head, sep, ...rows];
}

function target(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}

async function main(): Promise<void> {
  ensureSimulated();
  mkdirSync('models/.cache', { recursive: true });
  log('exporting training features (trustline features --exclude-attacks)');
  execFileSync('npx', ['--no-install', 'trustline', 'features', ...TRAIN, '--out', 'models/.cache/features.csv', '--exclude-attacks'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  const cands: (Result & { card: string })[] = [];
  if (!values['skip-candidates']) {
    cands.push(await candidate('iforest', ['--family', 'iforest'], 'models/.cache/features.csv'));
    cands.push(await candidate('tail_sum-floor0', ['--family', 'tail_sum', '--floor-decades', '0'], 'models/.cache/features.csv'));
    cands.push(await candidate('tail_sum', ['--family', 'tail_sum'], 'models/.cache/features.csv'));
    cands.push(await candidate('tail_sum-family_max', ['--family', 'tail_sum', '--aggregate', 'family_max'], 'models/.cache/features.csv'));
  }
  const tl = await trustlineCommitted();
  const rules = await rulesBaseline();
  const raw = await rawBaseline();

  // Consistency: the committed model is the tail_sum candidate, and DEFAULT_POLICY is its chosen policy.
  const committedSha = JSON.parse(readFileSync(defaultCardPath(), 'utf8')).onnxSha256 as string;
  const chosen = cands.find((c) => c.name === 'tail_sum');
  const notes: string[] = [];
  if (chosen) {
    const sha = JSON.parse(readFileSync(chosen.card, 'utf8')).onnxSha256 as string;
    if (sha !== committedSha) notes.push('The committed model differs from the retrained tail_sum candidate: run `npm run train` and commit.');
    if (JSON.stringify(chosen.policy) !== JSON.stringify(DEFAULT_POLICY))
      notes.push(`DEFAULT_POLICY differs from the policy chosen for the tail_sum candidate (${chosen.policyLabel}).`);
  }

  const v = tl.validation.overall;
  const worstType = Math.min(...Object.values(tl.validation.perScenario).map((g) => g.detectionRate ?? 0));
  const beats = [rules, raw].every(
    (b) => (v.detectionRate ?? 0) > (b.validation.overall.detectionRate ?? 0) && (v.falsePositiveRate ?? 1) <= (b.validation.overall.falsePositiveRate ?? 1),
  );
  const hv = tl.heldout.overall;
  const lines: string[] = [];
  const w = (s = ''): void => void lines.push(s);
  w('# trustline — detection evaluation');
  w();
  w('Generated by `npm run eval -- report` (do not edit by hand; every definition is in');
  w(
    '[docs/evaluation.md](../docs/evaluation.md)). Model: `' +
      defaultCardPath() +
      '` (' +
      JSON.parse(readFileSync(defaultCardPath(), 'utf8')).family +
      `, feature version ${FEATURE_VERSION}, ${FEATURE_NAMES.length} features), trust policy: \`DEFAULT_POLICY\` of src/core/judge.ts.`,
  );
  w();
  w('**Data.** The model is fitted on the benign behaviour of `fixtures/train` only. Trust policies (one per');
  w(
    `model) are chosen on training-kind data only: \`fixtures/train\` plus simulator sets of the training kind (seeds ${TUNE_SEEDS.join(', ')}). The figures below are on`,
  );
  w('`fixtures/validation` (a, b, c: 306 agents, 56 malicious), which nothing was fitted or tuned on; the');
  w(`model family was chosen on them. As a second, untouched check, six fresh validation-kind simulator sets (seeds ${HELDOUT_SEEDS.join(', ')})`);
  w('are reported as "held-out"; they were generated after every choice below was made and played no part in it.');
  w('All sets come from the same simulator (lab/sim): traffic generated independently of this repository may be harder.');
  w();
  w('## Targets (validation)');
  w();
  w('| target | trustline | |');
  w('|---|---|---|');
  w(`| ≥ 95 % of malicious agents detected | ${pct(v.detectionRate)} (${frac(v)}) | ${target((v.detectionRate ?? 0) >= 0.95)} |`);
  w(`| no attack type below 85 % | lowest ${pct(worstType)} | ${target(worstType >= 0.85)} |`);
  w(
    `| median time to detect ≤ 10 events after the attack start | ${num(v.timeToDetectEvents.median)} events (${num(v.timeToDetectSeconds.median)} s) | ${target((v.timeToDetectEvents.median ?? 1e9) <= 10)} |`,
  );
  w(
    `| ≤ 1 % of benign agents ever in restrict/block or with an open circuit | ${pct(v.falsePositiveRate)} (${v.benignAgentsFlagged}/${v.benignAgents}) | ${target((v.falsePositiveRate ?? 1) <= 0.01)} |`,
  );
  w(`| ahead of both baselines on detection at equal or lower false positives | see below | ${target(beats)} |`);
  w();
  w(
    `Held-out simulator seeds: ${pct(hv.detectionRate)} detected (${frac(hv)}), lowest type ${minScenario(tl.heldout)}, median ${num(hv.timeToDetectEvents.median)} events, ${pct(hv.falsePositiveRate)} of benign agents flagged (${hv.benignAgentsFlagged}/${hv.benignAgents}).`,
  );
  w();
  w('## trustline and the baselines, same data, same metrics');
  w();
  w('(a) **static rules**: per-agent leaky buckets — a request-rate limit and a 4xx counter —, the limits fitted on the training-kind data');
  w(`(at most 0.25 % of benign agents trip each): ${JSON.stringify(rules.params)} (requests per minute, 4xx responses per ten minutes).`);
  w('(b) **raw-field model**: the same tail-sum model family, calibration, trust and breaker as trustline, on per-event fields');
  w(`(${RAW_NAMES.join(', ')}) without any per-agent baseline; its policy chosen on the training-kind data like trustline's (${raw.policyLabel}).`);
  w('(c) **trustline** as committed.');
  w();
  for (const [title, pick] of [
    ['Validation', (r: Result) => r.validation],
    ['Held-out simulator seeds', (r: Result) => r.heldout],
  ] as const) {
    w(`### ${title}`);
    w();
    w(
      '| detector | malicious agents detected | lowest attack type | benign agents flagged | benign events flagged | time to detect, median / p90 (events) | (seconds) | ROC-AUC | PR-AUC |',
    );
    w('|---|---|---|---|---|---|---|---|---|');
    for (const r of [tl, rules, raw]) w(overallRow(r, pick(r)));
    w();
    w(...[scenarioTable([tl, rules, raw], pick).join('\n')]);
    w();
  }
  if (cands.length) {
    w('## Model selection');
    w();
    w('Each candidate is trained by `models/train.py` on the same rows (`fixtures/train`, benign behaviour, seed 20240611), calibrated on');
    w('its own training scores (empirical tail), and gets its own trust policy chosen on the training-kind data by the same rule');
    w(
      `(lab/eval/tune.ts: ≤ 0.5 % of benign agents flagged, then the worst attack type's detection, overall detection, false positives, median time to detect, margin; grid ${JSON.stringify(POLICY_GRID)}).`,
    );
    w();
    w(
      '| candidate | policy chosen on training-kind data | validation: detected | lowest type | benign flagged | ttd median (events) | ROC-AUC | PR-AUC | held-out: detected | benign flagged | ONNX ms / 1000 rows |',
    );
    w('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const c of cands) {
      const o = c.validation.overall;
      const h = c.heldout.overall;
      w(
        `| ${c.name} | ${c.policyLabel} | ${frac(o)} (${pct(o.detectionRate)}) | ${minScenario(c.validation)} | ${o.benignAgentsFlagged}/${o.benignAgents} | ${num(o.timeToDetectEvents.median)} | ${num(o.rocAuc)} | ${num(o.prAuc)} | ${frac(h)} (${pct(h.detectionRate)}) | ${h.benignAgentsFlagged}/${h.benignAgents} | ${num(c.onnxMs)} |`,
      );
    }
    w();
  }
  w('## Explanations');
  w();
  w(
    'The first detecting record of each malicious agent (validation and held-out) carries a reason of the family its attack type calls for (lab/eval/explanations.ts):',
  );
  w();
  w('| attack type | expected | first detections naming it |');
  w('|---|---|---|');
  for (const [s, e] of Object.entries(EXPECTED_REASONS))
    w(`| ${s} | ${e.describe} | ${tl.explanations[s] ? `${tl.explanations[s]!.ok}/${tl.explanations[s]!.n}` : '–'} |`);
  w();
  w('## Cost');
  w();
  w(`- \`observe()\`: ${tl.observeUs} µs per event (validation traffic, median of 7 passes; budget 2.5 µs).`);
  w(`- Model: ${tl.onnxMs} ms per 1000-row batch in onnxruntime-node, 1 intra-op thread (budget 4 ms).`);
  w('(Measured on the machine that generated this file; `npm run eval -- perf` measures again.)');
  w();
  if (notes.length) {
    w('## Consistency warnings');
    w();
    for (const n of notes) w(`- ${n}`);
    w();
  }
  w(readFileSync('models/EVALUATION.notes.md', 'utf8').trimEnd());
  w();
  // The robustness section is written by `npm run eval -- robustness`; keep it.
  const robustness = readSection('models/EVALUATION.md');
  if (robustness) {
    w(robustness);
    w();
  }
  writeFileSync('models/EVALUATION.md', lines.join('\n'));
  const strip = (s: EvalSummary): Omit<EvalSummary, 'agents'> => {
    const { agents: _agents, ...rest } = s;
    return rest;
  };
  writeFileSync(
    'models/.cache/evaluation.json',
    JSON.stringify(
      {
        trustline: tl,
        rules: { ...rules },
        raw: { ...raw },
        candidates: cands.map((c) => ({ ...c, validation: strip(c.validation), heldout: strip(c.heldout) })),
      },
      null,
      2,
    ),
  );

  // The committed card records its evaluation figures (kept by train.py while the model is unchanged).
  const cardPath = defaultCardPath();
  const brief = (s: EvalSummary) => ({
    detectionRate: s.overall.detectionRate,
    detected: s.overall.detected,
    malicious: s.overall.agents,
    falsePositiveRate: s.overall.falsePositiveRate,
    benignAgentsFlagged: s.overall.benignAgentsFlagged,
    benignAgents: s.overall.benignAgents,
    timeToDetectEvents: s.overall.timeToDetectEvents,
    timeToDetectSeconds: s.overall.timeToDetectSeconds,
    rocAuc: s.overall.rocAuc,
    prAuc: s.overall.prAuc,
    perScenario: Object.fromEntries(
      Object.entries(s.perScenario).map(([k, g]) => [
        k,
        { detected: g.detected, agents: g.agents, timeToDetectEventsMedian: g.timeToDetectEvents.median, rocAuc: g.rocAuc },
      ]),
    ),
  });
  const evaluation = {
    policy: 'DEFAULT_POLICY (src/core/judge.ts)',
    validation: { files: VALIDATION, ...brief(tl.validation) },
    heldout: { simulatorSeeds: HELDOUT_SEEDS, ...brief(tl.heldout) },
    baselines: { staticRules: brief(rules.validation), rawFieldModel: brief(raw.validation) },
    onnxMsPer1000Rows: tl.onnxMs,
    report: 'models/EVALUATION.md',
  };
  // Written by Python with train.py's own JSON format, so `npm run train` leaves the card byte-identical.
  writeFileSync('models/.cache/card-evaluation.json', JSON.stringify(evaluation));
  execFileSync(PY, ['-c', CARD_UPDATE, cardPath, 'models/.cache/card-evaluation.json'], { stdio: 'inherit' });
  log(`wrote models/EVALUATION.md, models/.cache/evaluation.json and the evaluation block of ${defaultCardPath()}`);
}

/** `npm run eval -- report` (lab/eval/cli.ts). */
export async function run(argv: string[]): Promise<void> {
  values = parseArgs({ args: argv, options: { 'skip-candidates': { type: 'boolean', default: false } } }).values;
  await main();
}
