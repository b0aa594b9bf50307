/**
 * Policy selection on TRAINING data only (lab/eval/tune.ts): scores the tuning files once with a
 * model card, evaluates the policy grid and prints the best admissible settings. `--check` files
 * (e.g. validation) are evaluated with the chosen policy afterwards, as a check — never used to
 * choose.
 *
 * Usage: npm run eval -- tune [--card <model card, default: the configuration's model.card>] [--tune <file>]… [--check <file>]… [--show 15]
 * Default tuning files: fixtures/train/*.jsonl.gz plus models/.cache/sim/train-adhoc-*.jsonl.gz
 * (extra training-kind sets from the simulator, see lab/eval/commands/report.ts).
 */
import { defaultCardPath } from '../card.ts';
import { readdirSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadLabels, sidecarOf } from '../labels.ts';
import { scoreFile } from '../offline.ts';
import { formatSummary } from '../replay-eval.ts';
import { evaluatePolicy, tunePolicy } from '../tune.ts';
import { loadAnomalyScorer } from '../../../src/scoring/pipeline-scorer.ts';

/** `npm run eval -- tune` (lab/eval/cli.ts). */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      card: { type: 'string', default: defaultCardPath() },
      show: { type: 'string', default: '15' },
      tune: { type: 'string', multiple: true },
      check: { type: 'string', multiple: true },
    },
  });
  const extra = existsSync('models/.cache/sim')
    ? readdirSync('models/.cache/sim')
        .filter((f) => /^train-adhoc-.*\.jsonl\.gz$/.test(f))
        .map((f) => `models/.cache/sim/${f}`)
    : [];
  const TUNE = values.tune ?? ['fixtures/train/train.jsonl.gz', ...extra.sort()];
  const CHECK = values.check ?? [];

  const scorer = await loadAnomalyScorer(values.card!);
  const load = async (files: string[]) => Promise.all(files.map(async (f) => ({ scored: await scoreFile(f, scorer), labels: loadLabels(sidecarOf(f)) })));
  const tune = await load(TUNE);
  const ranked = tunePolicy(tune);
  process.stdout.write(`tuning on ${TUNE.join(', ')}\n${ranked.length} admissible policies (≤ 0.5 % benign agents flagged)\n`);
  for (const c of ranked.slice(0, Number(values.show))) {
    const o = c.summary.overall;
    process.stdout.write(
      `${c.label}: detected ${o.detected}/${o.agents}, FP ${o.benignAgentsFlagged}/${o.benignAgents}, ttd median ${o.timeToDetectEvents.median} events, benign margin ${c.benignMargin}\n`,
    );
  }
  const best = ranked[0];
  if (best) {
    process.stdout.write(`\nchosen: ${best.label}\n${formatSummary(evaluatePolicy(tune, best.policy, 'trustline (tuning data)', true))}`);
    if (CHECK.length) process.stdout.write(`\ncheck only:\n${formatSummary(evaluatePolicy(await load(CHECK), best.policy, 'trustline (check)', true))}`);
  }
  await scorer.close();
}
