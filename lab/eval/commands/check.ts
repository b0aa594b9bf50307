/**
 * Quick check of the current code, policy and a model card on the training and validation
 * fixtures (offline: features and scores once, then trust and breaker under DEFAULT_POLICY).
 *
 * Usage: npm run eval -- check [--card <model card, default: the configuration's model.card>] [--sets train,validation]
 */
import { defaultCardPath } from '../card.ts';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICY } from '../../../src/core/judge.ts';
import { DetectionEvaluator } from '../evaluator.ts';
import { loadLabels, sidecarOf } from '../labels.ts';
import { judgeScored, scoreFile } from '../offline.ts';
import { formatSummary } from '../replay-eval.ts';
import { loadAnomalyScorer } from '../../../src/scoring/pipeline-scorer.ts';

/** `npm run eval -- check` (lab/eval/cli.ts). */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      card: { type: 'string', default: defaultCardPath() },
      sets: { type: 'string', default: 'train,validation' },
      evidence: { type: 'string' },
      brief: { type: 'boolean', default: false },
    },
  });
  /** `--evidence '{"ref":2.5}'` overrides DEFAULT_POLICY.evidence (analysis only). */
  const POLICY = { ...DEFAULT_POLICY, evidence: { ...DEFAULT_POLICY.evidence, ...(values.evidence ? (JSON.parse(values.evidence) as object) : {}) } };
  const SETS: Record<string, string[]> = {
    train: ['fixtures/train/train.jsonl.gz'],
    validation: ['fixtures/validation/validation-a.jsonl.gz', 'fixtures/validation/validation-b.jsonl.gz', 'fixtures/validation/validation-c.jsonl.gz'],
    heldout: [9101, 9102, 9103, 9104, 9105, 9106].map((s) => `models/.cache/sim/validation-adhoc-${s}.jsonl.gz`),
  };
  const scorer = await loadAnomalyScorer(values.card!);
  for (const set of values.sets!.split(',')) {
    const ev = new DetectionEvaluator(`trustline (${set})`);
    for (const file of SETS[set] ?? [set]) {
      const scored = await scoreFile(file, scorer);
      ev.beginStream(file, loadLabels(sidecarOf(file)));
      judgeScored(scored, POLICY, ev);
    }
    const text = formatSummary(ev.summary());
    process.stdout.write(values.brief ? text.split('\n').slice(0, 2).join('\n') + '\n' : text);
  }
  await scorer.close();
}
