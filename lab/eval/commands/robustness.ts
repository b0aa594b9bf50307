/**
 * `npm run eval -- robustness`: the robustness evaluation of docs/evaluation.md ("Robustness"),
 * written into models/EVALUATION.md between `<!-- robustness:start -->` and
 * `<!-- robustness:end -->` (and models/.cache/robustness.json). Deterministic except for the
 * commit it names; no Python (the folds refit the tail-sum family in TypeScript).
 *
 * Usage: npm run eval -- robustness [--card <model card, default: the configuration's model.card>]
 *          [--only indep,sweep,loo-sim,loo-indep,real] [--quick] [--grid quick|full] [--no-write]
 *
 * --quick: 1-day streams of 30 benign agents and the quick policy grid; --grid: the policy grid of
 * the leave-one-kind-out folds alone (full = lab/eval/tune.ts's grids, ~1 h on two cores).
 */
import { defaultCardPath } from '../card.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICY } from '../../../src/core/judge.ts';
import { loadModelCard } from '../../../src/scoring/model-card.ts';
import { loadAnomalyScorer } from '../../../src/scoring/pipeline-scorer.ts';
import { generateIndep, NOVEL_ATTACK_KINDS, type IndepOptions } from '../../indep/generate.ts';
import { analyseRealLog, findRealLogs, type RealLogResult } from '../real-logs.ts';
import { evaluateOn, leaveOneOut, loadDataset, missedTargets, pct, TARGETS, type Corpus, type Dataset, type Figures, type FoldRow } from '../robustness.ts';
import { paramsFromCard } from '../tailsum.ts';
import type { Grid } from '../tune.ts';

const SECTIONS = ['indep', 'sweep', 'loo-sim', 'loo-indep', 'real'] as const;
type Section = (typeof SECTIONS)[number];
const CACHE = 'models/.cache/robustness.json';
export const START = '<!-- robustness:start -->';
export const END = '<!-- robustness:end -->';

/** Seeds of the independent streams (fixed: the report is reproducible). */
const INDEP_SEEDS = [1, 2, 3];
const SWEEP_SEED = 4;
const LOO_INDEP = { train: 101, test: [102, 103] };
const SWEEP: { label: string; o: Partial<IndepOptions> }[] = [
  { label: 'as generated', o: {} },
  { label: 'request rates ×0.5', o: { rateScale: 0.5 } },
  { label: 'request rates ×2', o: { rateScale: 2 } },
  { label: 'sensitive-action share −50 %', o: { sensitiveScale: 0.5 } },
  { label: 'sensitive-action share +50 %', o: { sensitiveScale: 1.5 } },
  { label: 'population ×0.25', o: { populationScale: 0.25 } },
  { label: 'population ×4', o: { populationScale: 4 } },
  { label: 'noisier networks', o: { networkNoise: 1 } },
];
/** A 16-policy grid around the defaults for `--quick` runs (the full run uses lab/eval/tune.ts's grids). */
export const QUICK_GRID: Grid = { ref: [2, 2.5], perEvent: [0.95], tauMs: [600_000, 3_600_000], scale: [6.5, 10], anomalousAt: [0.85, 0.9] };

type Result = {
  model: string;
  commit: string;
  quick: boolean;
  indep?: { seed: number; events: number; figures: Figures }[];
  sweep?: { label: string; events: number; figures: Figures }[];
  looSim?: { grid: string; rows: FoldRow[] };
  looIndep?: { grid: string; rows: FoldRow[] };
  real?: RealLogResult | { skipped: string };
};

const log = (m: string): void => void process.stderr.write(`[robustness] ${m}\n`);

function indepDataset(o: IndepOptions): Dataset {
  const { events, labels } = generateIndep(o);
  return { name: `indep-${o.seed}`, events, labels };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      card: { type: 'string', default: defaultCardPath() },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      grid: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const only = new Set<Section>((values.only ? values.only.split(',') : SECTIONS) as Section[]);
  for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section "${s}" (one of ${SECTIONS.join(', ')})`);
  const quick = values.quick!;
  const gridName = values.grid ?? (quick ? 'quick' : 'full');
  if (gridName !== 'quick' && gridName !== 'full') throw new Error(`--grid must be quick or full, got "${gridName}"`);
  const cardPath = values.card!;
  const card = loadModelCard(cardPath);
  const scorer = await loadAnomalyScorer(cardPath);
  const size: Partial<IndepOptions> = quick ? { durationMin: 1440, benignAgents: 30 } : {};
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const result: Result = { model: `${scorer.modelId} (${cardPath}, family ${card.family})`, commit, quick };
  try {
    if (only.has('indep')) {
      result.indep = [];
      for (const seed of INDEP_SEEDS) {
        log(`independent stream seed ${seed}`);
        const d = indepDataset({ seed, ...size });
        result.indep.push({ seed, events: d.events.length, figures: await evaluateOn([d], scorer, DEFAULT_POLICY) });
      }
    }
    if (only.has('sweep')) {
      result.sweep = [];
      for (const s of SWEEP) {
        log(`sweep: ${s.label}`);
        const d = indepDataset({ seed: SWEEP_SEED, ...size, ...s.o });
        result.sweep.push({ label: s.label, events: d.events.length, figures: await evaluateOn([d], scorer, DEFAULT_POLICY) });
      }
    }
    const params = card.family === 'tail_sum' ? paramsFromCard(card.params) : null;
    const grid = gridName === 'quick' ? { grid: QUICK_GRID, wide: QUICK_GRID } : {};
    if (only.has('loo-sim') && params) {
      const train = await loadDataset('fixtures/train/train.jsonl.gz');
      const test = await Promise.all(['a', 'b', 'c'].map((x) => loadDataset(`fixtures/validation/validation-${x}.jsonl.gz`)));
      const corpus: Corpus = { name: 'simulator', train: [train], tune: [train], test };
      result.looSim = { grid: gridName, rows: await leaveOneOut(corpus, params, { ...grid, log }) };
    }
    if (only.has('loo-indep') && params) {
      const train = indepDataset({ seed: LOO_INDEP.train, ...size });
      const corpus: Corpus = { name: 'independent', train: [train], tune: [train], test: LOO_INDEP.test.map((seed) => indepDataset({ seed, ...size })) };
      result.looIndep = { grid: gridName, rows: await leaveOneOut(corpus, params, { ...grid, log }) };
    }
    if (only.has('real')) {
      const dir = findRealLogs(process.cwd());
      if (!dir) result.real = { skipped: 'real logs not found (set TRUSTLINE_REAL_LOGS or place them at ../shared/data/real-logs)' };
      else {
        log(`real logs: ${dir}/apache_logs through import-log → replay`);
        result.real = analyseRealLog(
          process.cwd(),
          join(dir, 'apache_logs'),
          join(dir, 'crawler-user-agents.json'),
          cardPath,
          resolve('models/.cache/real-logs'),
        );
      }
    }
  } finally {
    await scorer.close();
  }
  // A partial run (--only) keeps the other sections of the previous run of the same mode.
  if (values.only && existsSync(CACHE)) {
    const prev = JSON.parse(readFileSync(CACHE, 'utf8')) as Result;
    if (prev.quick === quick && prev.model === result.model) {
      for (const k of ['indep', 'sweep', 'looSim', 'looIndep', 'real'] as const)
        if (result[k] === undefined && prev[k] !== undefined) (result as Record<string, unknown>)[k] = prev[k];
      if (prev.commit !== commit) result.commit = `${commit} (sections not rerun here: ${prev.commit})`;
    }
  }
  const md = render(result);
  mkdirSync('models/.cache', { recursive: true });
  writeFileSync(CACHE, JSON.stringify(result, null, 2) + '\n');
  if (values['no-write']) {
    process.stdout.write(md + '\n');
    return;
  }
  writeSection('models/EVALUATION.md', md);
  log('wrote the robustness section of models/EVALUATION.md and models/.cache/robustness.json');
}

/** Replaces (or appends) the robustness block of `file`. */
export function writeSection(file: string, md: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const block = `${START}\n${md.trimEnd()}\n${END}`;
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** The robustness block of `file` ('' when there is none), for regenerators to keep it. */
export function readSection(file: string): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  return i >= 0 && j > i ? text.slice(i, j + END.length) : '';
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

const num = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : String(x));
const frac = (a: number, b: number): string => `${a}/${b}`;

function figuresRow(label: string, f: Figures): string {
  const first = f.fromFirstRequest.agents ? `${f.fromFirstRequest.within5}/${f.fromFirstRequest.agents} (max ${num(f.fromFirstRequest.maxEvents)})` : '–';
  const worst = f.worstKind ? `${f.worstKind.name} ${pct(f.worstKind.rate)}` : '–';
  const missed = missedTargets(f);
  return `| ${label} | ${frac(f.detected, f.malicious)} (${pct(f.caught)}) | ${worst} | ${frac(f.benignFlagged, f.benign)} (${pct(f.benignFlaggedRate)}) | ${f.circuitOnlyFlags} | ${num(f.medianEvents)} | ${num(f.agentAuc)} | ${first} | ${missed.length ? missed.join('; ') : 'all met'} |`;
}
const FIG_HEAD =
  '| run | caught | worst kind | benign flagged | of which circuit only (trust ≥ 0.5) | median events to detect | agent ROC-AUC (1 − min trust) | first-request attackers flagged ≤ 5 events | targets missed |\n|---|---|---|---|---|---|---|---|---|';

function perKindTable(rows: { label: string; figures: Figures }[]): string[] {
  const kinds = [...new Set(rows.flatMap((r) => Object.keys(r.figures.perKind)))].sort();
  const profiles = [...new Set(rows.flatMap((r) => Object.keys(r.figures.flaggedByProfile)))].sort();
  const out = [`| kind | ${rows.map((r) => r.label).join(' | ')} |`, `|---|${rows.map(() => '---').join('|')}|`];
  for (const k of kinds)
    out.push(
      `| ${k}${NOVEL_ATTACK_KINDS.includes(k as never) ? ' (new)' : ''}: caught | ${rows.map((r) => (r.figures.perKind[k] ? `${frac(r.figures.perKind[k]!.detected, r.figures.perKind[k]!.agents)}, median ${num(r.figures.perKind[k]!.medianEvents)}` : '–')).join(' | ')} |`,
    );
  for (const p of profiles)
    out.push(
      `| ${p}: benign flagged | ${rows.map((r) => (r.figures.flaggedByProfile[p] ? frac(r.figures.flaggedByProfile[p]!.flagged, r.figures.flaggedByProfile[p]!.agents) : '–')).join(' | ')} |`,
    );
  return out;
}

function looTable(rows: FoldRow[]): string[] {
  const out = [
    '| left out | policy chosen without it | on the test sets: the left-out kind | threshold (tests) | caught | worst kind | benign flagged | median events | agent ROC-AUC | targets missed |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const f = r.overall;
    const target =
      r.leftOut === 'benign'
        ? `${r.target.hits}/${r.target.agents} benign agents flagged (${pct(r.target.rate)})`
        : r.leftOut === 'attack'
          ? `${r.target.hits}/${r.target.agents} detected (${pct(r.target.rate)})`
          : '(every kind in)';
    const ok =
      r.leftOut === 'benign'
        ? (r.target.rate ?? 0) <= 0.02
          ? 'ok (≤ 2 %)'
          : '**fails (> 2 %)**'
        : r.leftOut === 'attack'
          ? (r.target.rate ?? 0) >= 0.85
            ? 'ok (≥ 85 %)'
            : '**fails (< 85 %)**'
          : '';
    const missed = missedTargets(f);
    out.push(
      `| ${r.leftOut === 'none' ? '—' : `${r.leftOut}: ${r.kind}`} | ${r.policy} | ${target} | ${ok} | ${frac(f.detected, f.malicious)} (${pct(f.caught)}) | ${f.worstKind ? `${f.worstKind.name} ${pct(f.worstKind.rate)}` : '–'} | ${frac(f.benignFlagged, f.benign)} (${pct(f.benignFlaggedRate)}) | ${num(f.medianEvents)} | ${num(f.agentAuc)} | ${missed.length ? missed.join('; ') : 'all met'} |`,
    );
  }
  const benign = rows.filter((r) => r.leftOut === 'benign');
  const attack = rows.filter((r) => r.leftOut === 'attack');
  const worstB = benign.reduce<FoldRow | null>((w, r) => (w === null || (r.target.rate ?? 0) > (w.target.rate ?? 0) ? r : w), null);
  const worstA = attack.reduce<FoldRow | null>((w, r) => (w === null || (r.target.rate ?? 1) < (w.target.rate ?? 1) ? r : w), null);
  const all = rows.filter((r) => r.leftOut !== 'none');
  const minCaught = all.reduce<FoldRow | null>((w, r) => (w === null || (r.overall.caught ?? 0) < (w.overall.caught ?? 0) ? r : w), null);
  const maxFp = all.reduce<FoldRow | null>((w, r) => (w === null || (r.overall.benignFlaggedRate ?? 0) > (w.overall.benignFlaggedRate ?? 0) ? r : w), null);
  out.push('');
  out.push('**Worst cases:**');
  if (worstB)
    out.push(
      `- leave-one-benign-kind-out: **${pct(worstB.target.rate)}** of the left-out profile's benign agents flagged (${worstB.kind}, ${worstB.target.hits}/${worstB.target.agents}); tests fail above 2 %.`,
    );
  if (worstA)
    out.push(
      `- leave-one-attack-out: **${pct(worstA.target.rate)}** of the left-out kind detected (${worstA.kind}, ${worstA.target.hits}/${worstA.target.agents}); tests fail below 85 %.`,
    );
  if (minCaught)
    out.push(
      `- lowest overall caught in a fold: ${pct(minCaught.overall.caught)} (${minCaught.leftOut}: ${minCaught.kind}); highest benign flagged in a fold: ${maxFp ? `${pct(maxFp.overall.benignFlaggedRate)} (${maxFp.leftOut}: ${maxFp.kind})` : '–'}.`,
    );
  return out;
}

export function render(r: Result): string {
  const w: string[] = [];
  w.push('## Robustness');
  w.push('');
  w.push(
    `Generated by \`npm run eval -- robustness${r.quick ? ' --quick' : ''}\` (lab/eval/commands/robustness.ts; definitions in docs/evaluation.md, "Robustness") at commit ${r.commit}, model ${r.model}, policy \`DEFAULT_POLICY\` unless a fold says otherwise.`,
  );
  w.push(
    `Targets (validation and every leave-one-out row): ≥ ${TARGETS.caught * 100} % of attacks caught, every attack kind ≥ ${TARGETS.perKind * 100} %, ≤ ${TARGETS.benignFlagged * 100} % of benign agents flagged, median ≤ ${TARGETS.medianEvents} events to detect, an attacker active from its first request flagged within ${TARGETS.firstRequestEvents} events.`,
  );
  w.push(
    '"Flagged" = ever in restrict/block or with an open circuit; "caught" = flagged at or after the attack start; agent ROC-AUC ranks agents by 1 − their lowest trust.',
  );
  w.push('');
  if (r.indep) {
    w.push('### Independent traffic (lab/indep, committed model)');
    w.push('');
    w.push(
      'Streams from a generator written from the wire contract only (lab/indep/generate.ts: 7 benign kinds, 10 attack kinds of which 5 — marked "new" — never appear in fixtures/), 2 days of event time each.',
    );
    w.push('');
    w.push(FIG_HEAD);
    for (const x of r.indep) w.push(figuresRow(`seed ${x.seed} (${x.events} events, ${x.figures.malicious + x.figures.benign} agents)`, x.figures));
    w.push('');
    w.push(...perKindTable(r.indep.map((x) => ({ label: `seed ${x.seed}`, figures: x.figures }))));
    w.push('');
  }
  if (r.sweep) {
    w.push(`### Perturbation sweep (lab/indep seed ${SWEEP_SEED}, committed model)`);
    w.push('');
    w.push(FIG_HEAD);
    for (const x of r.sweep) w.push(figuresRow(`${x.label} (${x.events} events)`, x.figures));
    const worstFp = r.sweep.reduce((m, x) => Math.max(m, x.figures.benignFlaggedRate ?? 0), 0);
    const worstCaught = r.sweep.reduce((m, x) => Math.min(m, x.figures.caught ?? 1), 1);
    w.push(`| **worst case** | lowest caught ${pct(worstCaught)} | | highest benign flagged ${pct(worstFp)} | | | | | |`);
    w.push('');
    w.push(...perKindTable(r.sweep.map((x) => ({ label: x.label, figures: x.figures }))));
    w.push('');
  }
  for (const [title, loo, what] of [
    [
      'Leave one kind out: simulator fixtures',
      r.looSim,
      'fitted on `fixtures/train` (benign rows), policy tuned on `fixtures/train`, measured on `fixtures/validation` (a, b, c)',
    ],
    [
      'Leave one kind out: independent traffic',
      r.looIndep,
      `fitted and tuned on lab/indep seed ${LOO_INDEP.train}, measured on seeds ${LOO_INDEP.test.join(', ')}`,
    ],
  ] as const) {
    if (!loo) continue;
    const rows = loo.rows;
    const gridNote =
      loo.grid === 'quick' ? `the 16-policy quick grid ${JSON.stringify(QUICK_GRID)}` : "lab/eval/tune.ts's POLICY_GRID, WIDE_GRID when none is admissible";
    w.push(`### ${title}`);
    w.push('');
    w.push(
      `Each fold refits the tail-sum model in TypeScript (lab/eval/tailsum.ts: the committed card's family and parameters) and re-tunes the trust policy (lab/eval/tune.ts's ranking rule; ${gridNote}) without the kind: ${what}. A fold removes every event of the left-out agents from the fitting and tuning sets — a benign fold every agent of that profile (its benign agents and the attack hosts that followed it), an attack fold every agent of that kind — so they reach neither the model, nor the fleet and peer statistics, nor the policy; the test sets are untouched.`,
    );
    w.push('');
    w.push(...looTable(rows));
    w.push('');
  }
  if (r.real) {
    w.push('### Real access logs');
    w.push('');
    if ('skipped' in r.real) w.push(`Skipped: ${r.real.skipped}.`);
    else {
      const x = r.real;
      w.push(
        `\`trustline import-log --format combined\` → \`trustline replay\` on ${x.log.replace(/^.*\/(shared\/)/, '../$1')} (${x.lines} lines → ${x.events} events, ${x.agents} agents, ${x.agentsWith1to3Events} of them with 1–3 events). Proxy label: ${x.declaredBots} agents whose user agent matches crawler-user-agents.json ("declared bots"; noisy, see the README beside the log).`,
      );
      w.push('');
      w.push(
        `- Flagged: **${x.flagged.agents}** agents (${x.flagged.declaredBots} declared bots, ${x.flagged.others} others; ${x.flagged.flaggedWith1to3Events} with 1–3 events); earliest flag at event ${num(x.earliestFlagEventIndex)} of an agent.`,
      );
      w.push(
        `- Agent-level ROC-AUC for declared bots vs the rest: max anomaly ${num(x.aucDeclaredBotMaxAnomaly)}, 1 − lowest trust ${num(x.aucDeclaredBotMinTrust)} (a sanity figure: declared bots are not attackers).`,
      );
      w.push(
        `- Reasons on flagged records: ${
          Object.entries(x.flaggedReasonCounts)
            .sort((a, b) => b[1] - a[1])
            .map(([k, n]) => `${k} ${n}`)
            .join(', ') || 'none'
        }.`,
      );
      w.push(
        `- **Nonsensical reasons** (a reason whose cause the record cannot have): ${x.nonsense.total} on all records, ${x.nonsense.onFlagged} on flagged records${x.nonsense.total ? ':' : ' — check passed.'}`,
      );
      for (const [rule, n] of Object.entries(x.nonsense.byRule).sort((a, b) => b[1] - a[1])) {
        const ex = x.nonsense.examples
          .filter((e) => e.rule === rule)
          .slice(0, 2)
          .map((e) => `\`${e.reason}\` on ${e.path} (${e.status})`)
          .join(', ');
        w.push(`  - ${rule}: ${n} (e.g. ${ex})`);
      }
      w.push('');
      w.push('| agent | user agent | declared bot | events | first flag at event | band / circuit | reasons at the first flag | top paths |');
      w.push('|---|---|---|---|---|---|---|---|');
      for (const a of x.flaggedAgents.slice(0, 25)) {
        const ua = a.userAgent.replace(/\|/g, '/').slice(0, 60);
        w.push(
          `| ${a.agentId} | ${ua || '(none)'} | ${a.declaredBot ? 'yes' : 'no'} | ${a.events} | ${a.firstFlag!.eventIndex} (${a.firstFlag!.path.slice(0, 40)}) | ${a.firstFlag!.band} / ${a.firstFlag!.circuit} | ${a.firstFlag!.reasons.join(', ') || '–'} | ${a.topPaths.join('; ').replace(/\|/g, '/').slice(0, 120)} |`,
        );
      }
      if (x.flaggedAgents.length > 25) w.push(`| … ${x.flaggedAgents.length - 25} more in models/.cache/robustness.json | | | | | | | |`);
      w.push('');
    }
  }
  return w.join('\n');
}
