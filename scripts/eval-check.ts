/**
 * Quick check of the current code, policy and a model card on the training and validation
 * fixtures (offline: features and scores once, then trust and breaker under DEFAULT_POLICY).
 *
 * Usage: npx tsx scripts/eval-check.ts [--card models/trustline-iforest.json] [--sets train,validation]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_POLICY } from '../src/core/judge.ts';
import { DetectionEvaluator } from '../src/eval/evaluator.ts';
import { loadLabels, sidecarOf } from '../src/eval/labels.ts';
import { judgeScored, scoreFile } from '../src/eval/offline.ts';
import { formatSummary } from '../src/eval/replay-eval.ts';
import { loadAnomalyScorer } from '../src/scoring/pipeline-scorer.ts';

const { values } = parseArgs({ options: { card: { type: 'string', default: 'models/trustline-iforest.json' }, sets: { type: 'string', default: 'train,validation' } } });
const SETS: Record<string, string[]> = {
  train: ['fixtures/train/train.jsonl.gz'],
  validation: ['fixtures/validation/validation-a.jsonl.gz', 'fixtures/validation/validation-b.jsonl.gz', 'fixtures/validation/validation-c.jsonl.gz'],
};
const scorer = await loadAnomalyScorer(values.card!);
for (const set of values.sets!.split(',')) {
  const ev = new DetectionEvaluator(`trustline (${set})`);
  for (const file of SETS[set] ?? [set]) {
    const scored = await scoreFile(file, scorer);
    ev.beginStream(file, loadLabels(sidecarOf(file)));
    judgeScored(scored, DEFAULT_POLICY, ev);
  }
  process.stdout.write(formatSummary(ev.summary()));
}
await scorer.close();
