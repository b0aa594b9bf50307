/**
 * Policy selection on the TRAINING fixtures only (src/eval/tune.ts): scores the training files
 * once with a model card, evaluates the policy grid and prints the best admissible settings.
 * `--validate` also prints the validation figures of the chosen one, as a check — never used
 * to choose.
 *
 * Usage: npx tsx scripts/eval-tune.ts [--card models/trustline-iforest.json] [--show 15] [--validate]
 */
import { parseArgs } from 'node:util';
import { loadLabels, sidecarOf } from '../src/eval/labels.ts';
import { scoreFile } from '../src/eval/offline.ts';
import { formatSummary } from '../src/eval/replay-eval.ts';
import { evaluatePolicy, tunePolicy } from '../src/eval/tune.ts';
import { loadAnomalyScorer } from '../src/scoring/pipeline-scorer.ts';

const { values } = parseArgs({ options: { card: { type: 'string', default: 'models/trustline-iforest.json' }, show: { type: 'string', default: '15' }, validate: { type: 'boolean', default: false } } });
const TRAIN = ['fixtures/train/train.jsonl.gz'];
const VALIDATION = ['fixtures/validation/validation-a.jsonl.gz', 'fixtures/validation/validation-b.jsonl.gz', 'fixtures/validation/validation-c.jsonl.gz'];

const scorer = await loadAnomalyScorer(values.card!);
const load = async (files: string[]) => Promise.all(files.map(async (f) => ({ scored: await scoreFile(f, scorer), labels: loadLabels(sidecarOf(f)) })));
const ranked = tunePolicy(await load(TRAIN));
process.stdout.write(`${ranked.length} admissible policies (≤ 1 % benign agents flagged on train)\n`);
for (const c of ranked.slice(0, Number(values.show))) {
  const o = c.summary.overall;
  process.stdout.write(`${c.label}: detected ${o.detected}/${o.agents}, FP ${o.benignAgentsFlagged}/${o.benignAgents}, ttd median ${o.timeToDetectEvents.median} events, benign margin ${c.benignMargin}\n`);
}
const best = ranked[0];
if (best) {
  process.stdout.write(`\nchosen on train: ${best.label}\n${formatSummary(evaluatePolicy(await load(TRAIN), best.policy, 'trustline (train)', true))}`);
  if (values.validate) process.stdout.write(`\nvalidation (check only):\n${formatSummary(evaluatePolicy(await load(VALIDATION), best.policy, 'trustline (validation)', true))}`);
}
await scorer.close();
