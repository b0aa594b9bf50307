/**
 * Explanations name the cause: replays the validation fixtures through the real pipeline with
 * the committed model (as `trustline replay --labels` does) and checks that the FIRST detecting
 * record of every malicious agent carries a reason of the family its attack type calls for
 * (lab/eval/explanations.ts). Also pins the detection figures the model was chosen on, loosely,
 * so a change that breaks detection fails here rather than only in models/EVALUATION.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.ts';
import type { EvalSummary } from '../../../lab/eval/evaluator.ts';
import { EXPECTED_REASONS, familyOfReason, namesExpectedCause } from '../../../lab/eval/explanations.ts';
import { sidecarOf } from '../../../lab/eval/labels.ts';
import { replayWithLabels } from '../../../lab/eval/replay-eval.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const FILES = ['a', 'b', 'c'].map((x) => join(ROOT, `fixtures/validation/validation-${x}.jsonl.gz`));
let dir = '';
let summary: EvalSummary;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trustline-reasons-'));
  const config = loadConfig({ env: {}, overrides: { log: { level: 'warn' } } });
  summary = (await replayWithLabels(FILES, FILES.map(sidecarOf), dir, config)).summary;
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('explanations of the first detection of each malicious agent (validation fixtures, committed model)', () => {
  it('every attack type of the fixtures has expectations', () => {
    for (const scenario of Object.keys(summary.perScenario)) expect(EXPECTED_REASONS[scenario], scenario).toBeDefined();
  });

  it.each(Object.keys(EXPECTED_REASONS))('%s: the first detecting record names the expected cause', (scenario) => {
    const agents = summary.agents.filter((a) => a.malicious && a.scenario === scenario);
    expect(agents.length, `no ${scenario} agents in the validation fixtures`).toBeGreaterThan(0);
    const wrong = agents
      .filter((a) => a.firstDetection !== null && !namesExpectedCause(scenario, a.firstDetection.reasons))
      .map((a) => `${a.agentId}: ${a.firstDetection!.reasons.map((r) => `${r.code} (${familyOfReason(r.code) ?? 'hard signal'})`).join(', ')}`);
    expect(wrong, `expected ${EXPECTED_REASONS[scenario]!.describe}`).toEqual([]);
    // Reasons come with their evidence: feature reasons carry the value and the fleet p99.
    for (const a of agents) for (const r of a.firstDetection?.reasons ?? []) if (r.feature) expect(r.value).toBeTypeOf('number');
  });

  it('detects the attacks within the evaluation targets (≥ 85 % per type, ≥ 95 % overall, ≤ 1 % benign agents flagged)', () => {
    expect(summary.overall.detectionRate).toBeGreaterThanOrEqual(0.95);
    for (const [scenario, g] of Object.entries(summary.perScenario)) expect(g.detectionRate, scenario).toBeGreaterThanOrEqual(0.85);
    expect(summary.overall.falsePositiveRate).toBeLessThanOrEqual(0.01);
    expect(summary.overall.timeToDetectEvents.median).toBeLessThanOrEqual(10);
  });
});
