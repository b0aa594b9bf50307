/**
 * The TypeScript tail-sum fit (lab/eval/tailsum.ts) reproduces the committed model: refitted on
 * the committed card's training files with the card's parameters, it gives the reference rows'
 * raw scores (models/<name>.reference.json, written by models/train.py), the card's calibration
 * and feature statistics, and the ONNX scorer's calibrated anomalies on the same rows.
 */
import { defaultCardPath } from '../../../lab/eval/card.ts';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../../src/core/features.ts';
import { loadModelCard, type ModelCard } from '../../../src/scoring/model-card.ts';
import { loadAnomalyScorer, type PipelineScorer } from '../../../src/scoring/pipeline-scorer.ts';
import { loadLabels, sidecarOf } from '../../../lab/eval/labels.ts';
import { fitTailSum, paramsFromCard, rawScores, tailSumScorer, type TailSumModel } from '../../../lab/eval/tailsum.ts';
import { concatRows, readEventFile, trainingRows } from '../../../lab/eval/training-rows.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CARD = resolve(ROOT, defaultCardPath());
let card: ModelCard;
let model: TailSumModel;
let onnx: PipelineScorer;
let ref: { rows: number[][]; raw: number[] };
let X: Float32Array;

beforeAll(async () => {
  card = loadModelCard(CARD);
  ref = JSON.parse(readFileSync(join(dirname(CARD), `${card.name}.reference.json`), 'utf8')) as typeof ref;
  X = Float32Array.from(ref.rows.flat());
  const parts = [];
  for (const f of card.trainingData.files) {
    const file = join(ROOT, f);
    parts.push(await trainingRows(await readEventFile(file), loadLabels(sidecarOf(file))));
  }
  const rows = concatRows(parts);
  model = fitTailSum(rows.matrix, rows.rows, paramsFromCard(card.params));
  onnx = await loadAnomalyScorer(CARD);
}, 120_000);

afterAll(async () => {
  await onnx?.close();
});

describe('tail-sum fit in TypeScript vs the committed model', () => {
  it('the committed model is of the tail-sum family the fit implements', () => {
    expect(card.family).toBe('tail_sum');
    expect(ref.rows.length).toBeGreaterThan(100);
    expect(ref.rows[0]!.length).toBe(FEATURE_COUNT);
  });

  it('fits on as many rows as the card and builds as many thresholds', () => {
    expect(model.rows).toBe(card.trainingData.rows);
    expect(model.bounds.reduce((n, b) => n + b.length, 0)).toBe(card.params['thresholds']);
  });

  it("reproduces the reference rows' raw scores (train.py's own) within 1e-6 relative", () => {
    const raw = rawScores(model, X, ref.rows.length);
    let worst = 0;
    for (let i = 0; i < raw.length; i++) worst = Math.max(worst, Math.abs(raw[i]! - ref.raw[i]!) / Math.max(Math.abs(ref.raw[i]!), 1e-12));
    expect(worst).toBeLessThanOrEqual(1e-6);
    // Not vacuous: the rows span ordinary and far-out scores.
    expect(Math.max(...ref.raw)).toBeGreaterThan(card.calibration.scores[card.calibration.scores.length - 1]!);
  });

  it("reproduces the card's calibration and feature statistics", () => {
    expect(model.calibration.probabilities).toEqual(card.calibration.probabilities);
    model.calibration.scores.forEach((s, i) => expect(s).toBeCloseTo(card.calibration.scores[i]!, 9));
    card.features.forEach((f, j) => {
      const c = card.featureStats[f]!;
      for (const k of ['p50', 'p90', 'p99', 'max'] as const) expect(model.stats[j]![k], `${f} ${k}`).toBeCloseTo(c[k], 6);
    });
  });

  it("gives the ONNX scorer's calibrated anomalies on the reference rows within 1e-4", async () => {
    const ts = await tailSumScorer(model).score(X, ref.rows.length);
    const ox = await onnx.score(X, ref.rows.length);
    let worst = 0;
    for (let i = 0; i < ts.length; i++) worst = Math.max(worst, Math.abs(ts[i]! - ox[i]!));
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(new Set(Array.from(ox, (v) => v.toFixed(2))).size).toBeGreaterThan(10);
  });
});
