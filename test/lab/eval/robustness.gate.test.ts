/**
 * Robustness gate (`npm run test:robustness`; not in `npm test` while it fails, see models/EVALUATION.md) (docs/evaluation.md, "Robustness"): leave-one-kind-out on small independent
 * streams (lab/indep), computed here — the tail-sum model refitted in TypeScript per fold and the
 * policy re-tuned per fold (lab/eval/tune.ts, the 16-policy quick grid) — never read from a
 * committed file. Fails when a benign profile the model and policy never saw has more than 2 % of
 * its agents flagged, or an attack kind left out of tuning is detected below 85 %.
 */
import { defaultCardPath } from '../../../lab/eval/card.ts';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { QUICK_GRID } from '../../../lab/eval/commands/robustness.ts';
import { leaveOneOut, type FoldRow } from '../../../lab/eval/robustness.ts';
import { paramsFromCard } from '../../../lab/eval/tailsum.ts';
import { ATTACK_KINDS, BENIGN_KINDS, generateIndep } from '../../../lab/indep/generate.ts';
import { loadModelCard } from '../../../src/scoring/model-card.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const SIZE = { durationMin: 1440, benignAgents: 30, attacksPerKind: 2 };
let rows: FoldRow[] = [];

beforeAll(async () => {
  const card = loadModelCard(resolve(ROOT, defaultCardPath()));
  const set = (seed: number) => ({ name: `indep-${seed}`, ...generateIndep({ seed, ...SIZE }) });
  const train = set(301);
  rows = await leaveOneOut({ name: 'test', train: [train], tune: [train], test: [set(302)] }, paramsFromCard(card.params), {
    grid: QUICK_GRID,
    wide: QUICK_GRID,
  });
}, 300_000);

const describeRow = (r: FoldRow): string =>
  `${r.leftOut} ${r.kind}: ${r.target.hits}/${r.target.agents} (policy ${r.policy}; overall caught ${r.overall.detected}/${r.overall.malicious}, benign flagged ${r.overall.benignFlagged}/${r.overall.benign})`;

describe('leave-one-kind-out on independent traffic', () => {
  it('has a fold for every benign and attack kind, each measured on agents of that kind', () => {
    expect(
      rows
        .filter((r) => r.leftOut === 'benign')
        .map((r) => r.kind)
        .sort(),
    ).toEqual([...BENIGN_KINDS].sort());
    expect(
      rows
        .filter((r) => r.leftOut === 'attack')
        .map((r) => r.kind)
        .sort(),
    ).toEqual([...ATTACK_KINDS].sort());
    for (const r of rows) if (r.leftOut !== 'none') expect(r.target.agents, r.kind).toBeGreaterThan(0);
  });

  it.each(BENIGN_KINDS)('without benign kind %s: at most 2 % of its benign agents flagged', (kind) => {
    const r = rows.find((x) => x.leftOut === 'benign' && x.kind === kind)!;
    expect(r.target.rate!, describeRow(r)).toBeLessThanOrEqual(0.02);
  });

  it.each(ATTACK_KINDS)('without attack kind %s: at least 85 % of it detected', (kind) => {
    const r = rows.find((x) => x.leftOut === 'attack' && x.kind === kind)!;
    expect(r.target.rate!, describeRow(r)).toBeGreaterThanOrEqual(0.85);
  });
});
