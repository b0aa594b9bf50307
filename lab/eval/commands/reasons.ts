/**
 * Explanation check: for every malicious agent of the given files (default: the validation
 * fixtures), the reasons of its FIRST detecting record, and whether they name the expected
 * cause (lab/eval/explanations.ts). Prints the misses and a per-scenario tally.
 *
 * Usage: npm run eval -- reasons [--card <model card, default: the configuration's model.card>] [files…]
 */
import { defaultCardPath } from '../card.ts';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICY } from '../../../src/core/judge.ts';
import { DetectionEvaluator } from '../evaluator.ts';
import { namesExpectedCause } from '../explanations.ts';
import { loadLabels, sidecarOf } from '../labels.ts';
import { judgeScored, scoreFile } from '../offline.ts';
import { loadAnomalyScorer } from '../../../src/scoring/pipeline-scorer.ts';

/** `npm run eval -- reasons` (lab/eval/cli.ts). */
export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { card: { type: 'string', default: defaultCardPath() } },
  });
  const files = positionals.length ? positionals : ['a', 'b', 'c'].map((x) => `fixtures/validation/validation-${x}.jsonl.gz`);
  const scorer = await loadAnomalyScorer(values.card!);
  const ev = new DetectionEvaluator();
  for (const f of files) {
    const scored = await scoreFile(f, scorer, { keepFeatures: true });
    ev.beginStream(f, loadLabels(sidecarOf(f)));
    judgeScored(scored, DEFAULT_POLICY, ev, scorer);
  }
  await scorer.close();
  const tally = new Map<string, { ok: number; n: number }>();
  for (const a of ev.summary({ ranking: false }).agents) {
    if (!a.malicious || !a.firstDetection) continue;
    const ok = namesExpectedCause(a.scenario, a.firstDetection.reasons);
    const t = tally.get(a.scenario) ?? { ok: 0, n: 0 };
    t.n++;
    if (ok) t.ok++;
    else
      process.stdout.write(
        `MISS ${a.scenario} ${a.agentId} [${a.traits.join(' ')}] at attack event ${a.firstDetection.eventsAfterStart}: ${a.firstDetection.reasons.map((r) => `${r.code}${r.value !== undefined ? `=${r.value}` : ''}`).join(', ')}\n`,
      );
    tally.set(a.scenario, t);
  }
  for (const [s, t] of [...tally].sort()) process.stdout.write(`${s.padEnd(24)} ${t.ok}/${t.n} first detections name the expected cause\n`);
}
