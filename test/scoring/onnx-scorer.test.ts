import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../../src/core/features.ts';
import { calibrate } from '../../src/scoring/calibration.ts';
import { loadModelCard, parseModelCard } from '../../src/scoring/model-card.ts';
import { describeFeatureMismatch, loadScorer } from '../../src/scoring/onnx-scorer.ts';
import { loadAnomalyScorer } from '../../src/scoring/pipeline-scorer.ts';
import { TrustlineError, type ErrorCode } from '../../src/shared/errors.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Test fixture trained by models/train.py on synthetic data (see test/fixtures/model-tiny/README.md). */
const TINY_DIR = join(ROOT, 'test/fixtures/model-tiny');
const TINY_CARD = join(TINY_DIR, 'tiny-iforest.json');
/** The committed production model, once trained on real fixtures. */
const REAL_CARD = join(ROOT, 'models/trustline-tailsum.json');
const REAL_ONNX = join(ROOT, 'models/trustline-tailsum.onnx');
const REAL_REFERENCE = join(ROOT, 'models/trustline-tailsum.reference.json');

type Reference = { model: string; onnxSha256: string; features: string[]; tolerance: { relative: number }; source: string[]; rows: number[][]; raw: number[] };

type CardJson = Record<string, unknown> & { features: string[]; calibration: { scores: number[] }; featureStats: Record<string, unknown> };
const tinyJson = JSON.parse(readFileSync(TINY_CARD, 'utf8')) as CardJson;
const TINY_FEATURES: readonly string[] = tinyJson.features;

const tmp = mkdtempSync(join(tmpdir(), 'trustline-scoring-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes a modified copy of the tiny card (next to a copy of its ONNX file) and returns its path. */
function tinyVariant(name: string, patch: (card: Record<string, unknown>) => void): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  const card: Record<string, unknown> = structuredClone(tinyJson);
  patch(card);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(TINY_DIR, 'tiny-iforest.onnx'), join(dir, 'tiny-iforest.onnx'));
  const path = join(dir, 'card.json');
  writeFileSync(path, JSON.stringify(card));
  return path;
}

async function rejection(p: Promise<unknown>): Promise<TrustlineError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TrustlineError);
    return err as TrustlineError;
  }
  throw new Error('expected a rejection');
}

async function expectCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<TrustlineError> {
  const err = await rejection(p);
  expect(err.code).toBe(code);
  expect(err.retriable).toBe(false);
  if (message) expect(err.message).toMatch(message);
  return err;
}

function matrixOf(rows: readonly (readonly number[])[]): Float32Array {
  return Float32Array.from(rows.flat());
}

function expectParity(got: Float32Array, ref: Reference): void {
  expect(got.length).toBe(ref.raw.length);
  const bad: string[] = [];
  for (let i = 0; i < ref.raw.length; i++) {
    const want = ref.raw[i]!;
    const relErr = Math.abs(got[i]! - want) / Math.max(Math.abs(want), 1e-12);
    if (!(relErr <= ref.tolerance.relative)) bad.push(`row ${i} (${ref.source[i]}): onnx ${got[i]} vs sklearn ${want} (rel ${relErr.toExponential(2)})`);
  }
  expect(bad, bad.slice(0, 5).join('\n')).toEqual([]);
}

describe('model card', () => {
  it('loads and validates the fixture card', () => {
    const card = loadModelCard(TINY_CARD);
    expect(card.features).toEqual(TINY_FEATURES);
    expect(card.input).toBe('features');
    expect(card.output).toBe('anomaly_raw');
    expect(card.calibration.method).toBe('empirical_tail');
    expect(card.trainingData.synthetic).toBe(true);
  });

  it('rejects a missing file, bad JSON and invalid fields with MODEL_INVALID naming the field', () => {
    const err = (f: () => unknown): TrustlineError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(TrustlineError);
        return e as TrustlineError;
      }
      throw new Error('expected a throw');
    };
    expect(err(() => loadModelCard(join(tmp, 'nope.json'))).message).toMatch(/model card not found: .*nope\.json/);
    const badJson = join(tmp, 'bad.json');
    writeFileSync(badJson, '{ "name": ');
    expect(err(() => loadModelCard(badJson)).code).toBe('MODEL_INVALID');

    const withScores = structuredClone(tinyJson);
    withScores.calibration.scores[3] = -1;
    const e1 = err(() => parseModelCard(withScores, 'x.json'));
    expect(e1.code).toBe('MODEL_INVALID');
    expect(e1.message).toMatch(/x\.json.*calibration.*non-decreasing/);

    const noInput = structuredClone(tinyJson);
    delete noInput.input;
    expect(err(() => parseModelCard(noInput, 'y.json')).message).toMatch(/y\.json: input:/);

    const dupe = structuredClone(tinyJson);
    dupe.features = [TINY_FEATURES[0]!, TINY_FEATURES[0]!, TINY_FEATURES[2]!];
    expect(err(() => parseModelCard(dupe, 'z.json')).message).toMatch(/duplicate feature name/);

    const noStats = structuredClone(tinyJson);
    delete noStats.featureStats[TINY_FEATURES[1]!];
    expect(err(() => parseModelCard(noStats, 'w.json')).message).toMatch(/missing stats for feature/);
  });
});

describe('loadScorer refuses a model trained on other features', () => {
  const [a, b, c] = TINY_FEATURES as [string, string, string];

  it('describes the first differing position, missing and extra names', () => {
    expect(describeFeatureMismatch([a, b, c], [a, b, c])).toBeNull();
    expect(describeFeatureMismatch([a, c, b], [a, b, c])).toBe(
      `first difference at position 1: model has "${b}", code expects "${c}"; missing from model: none; extra in model: none; ` +
        'same names in a different order; model has 3 features, code has 3',
    );
    expect(describeFeatureMismatch([a, b, c, 'new_feature'], [a, b, c])).toMatch(
      /^first difference at position 3: model has \(none\), code expects "new_feature"; missing from model: "new_feature"; extra in model: none;/,
    );
    expect(describeFeatureMismatch([a, c], [a, b, c])).toMatch(
      new RegExp(`position 1: model has "${b}", code expects "${c}"; missing from model: none; extra in model: "${b}"`),
    );
  });

  it('reordered features → MODEL_FEATURE_MISMATCH', async () => {
    const err = await expectCode(loadScorer({ cardPath: TINY_CARD, expectedFeatures: [b, a, c] }), 'MODEL_FEATURE_MISMATCH');
    expect(err.message).toContain('tiny-iforest@1');
    expect(err.message).toContain(`first difference at position 0: model has "${a}", code expects "${b}"`);
    expect(err.message).toContain('same names in a different order');
    expect(err.message).toContain('npm run train');
  });

  it('a feature missing from the model → MODEL_FEATURE_MISMATCH', async () => {
    await expectCode(
      loadScorer({ cardPath: TINY_CARD, expectedFeatures: [a, b, c, 'extra_in_code'] }),
      'MODEL_FEATURE_MISMATCH',
      /missing from model: "extra_in_code"; extra in model: none/,
    );
  });

  it('an extra feature in the model → MODEL_FEATURE_MISMATCH', async () => {
    await expectCode(
      loadScorer({ cardPath: TINY_CARD, expectedFeatures: [a, c] }),
      'MODEL_FEATURE_MISMATCH',
      new RegExp(`missing from model: none; extra in model: "${b}"`),
    );
  });

  it('a different feature version → MODEL_FEATURE_MISMATCH', async () => {
    await expectCode(
      loadScorer({ cardPath: TINY_CARD, expectedFeatures: TINY_FEATURES, expectedFeatureVersion: 2 }),
      'MODEL_FEATURE_MISMATCH',
      /feature version test-1, this build computes version 2/,
    );
    const ok = await loadScorer({ cardPath: TINY_CARD, expectedFeatures: TINY_FEATURES, expectedFeatureVersion: 'test-1' });
    await ok.close();
  });

  it("the pipeline scorer checks against this build's feature vector", async () => {
    expect(FEATURE_NAMES.length).toBeGreaterThan(0);
    await expectCode(loadAnomalyScorer(TINY_CARD), 'MODEL_FEATURE_MISMATCH', /first difference at position 0/);
  });
});

describe('loadScorer refuses an ONNX file that does not match its card', () => {
  it('missing ONNX file → MODEL_INVALID', async () => {
    const p = tinyVariant('missing-onnx', (c) => (c.onnx = 'nope.onnx'));
    await expectCode(loadScorer({ cardPath: p, expectedFeatures: TINY_FEATURES }), 'MODEL_INVALID', /ONNX file of model tiny-iforest@1 not found.*nope\.onnx/);
  });

  it('missing card → MODEL_INVALID', async () => {
    await expectCode(loadScorer({ cardPath: join(tmp, 'absent.json'), expectedFeatures: TINY_FEATURES }), 'MODEL_INVALID', /model card not found/);
  });

  it('altered ONNX bytes (sha256) → MODEL_INVALID', async () => {
    const p = tinyVariant('sha', (c) => (c.onnxSha256 = '0'.repeat(64)));
    await expectCode(loadScorer({ cardPath: p, expectedFeatures: TINY_FEATURES }), 'MODEL_INVALID', /does not match its card/);
  });

  it('input name not in the graph → MODEL_INVALID', async () => {
    const p = tinyVariant('input', (c) => (c.input = 'x'));
    await expectCode(loadScorer({ cardPath: p, expectedFeatures: TINY_FEATURES }), 'MODEL_INVALID', /graph inputs are \[features\], card expects exactly "x"/);
  });

  it('output name not in the graph → MODEL_INVALID', async () => {
    const p = tinyVariant('output', (c) => (c.output = 'scores'));
    await expectCode(loadScorer({ cardPath: p, expectedFeatures: TINY_FEATURES }), 'MODEL_INVALID', /graph outputs are \[anomaly_raw\], card expects "scores"/);
  });

  it('input width differing from the card → MODEL_INVALID', async () => {
    const extra = 'fourth_feature';
    const p = tinyVariant('width', (c) => {
      c.features = [...TINY_FEATURES, extra];
      (c.featureStats as Record<string, unknown>)[extra] = { p50: 0, p90: 0, p99: 0, max: 0 };
    });
    await expectCode(loadScorer({ cardPath: p, expectedFeatures: [...TINY_FEATURES, extra] }), 'MODEL_INVALID', /has shape \[rows, 3\], expected \[rows, 4\]/);
  });

  it('a file that is not ONNX → MODEL_INVALID', async () => {
    const p = tinyVariant('garbage', (c) => (c.onnxSha256 = '0'.repeat(64)));
    const garbage = Buffer.from('not an onnx model');
    writeFileSync(join(dirname(p), 'tiny-iforest.onnx'), garbage);
    const { createHash } = await import('node:crypto');
    const card = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
    card.onnxSha256 = createHash('sha256').update(garbage).digest('hex');
    writeFileSync(p, JSON.stringify(card));
    await expectCode(loadScorer({ cardPath: p, expectedFeatures: TINY_FEATURES }), 'MODEL_INVALID', /onnxruntime cannot load/);
  });
});

describe('scorer on the tiny fixture model', () => {
  const reference = JSON.parse(readFileSync(join(TINY_DIR, 'tiny-iforest.reference.json'), 'utf8')) as Reference;

  it('raw scores match scikit-learn (reference rows, incl. synthetic extremes) within 1e-4 relative', async () => {
    expect(reference.rows.length).toBe(220);
    expect(reference.source.filter((s) => s === 'synthetic_extreme').length).toBe(20);
    const scorer = await loadScorer({ cardPath: TINY_CARD, expectedFeatures: TINY_FEATURES });
    try {
      expect(scorer.modelId).toBe('tiny-iforest@1');
      expect(reference.onnxSha256).toBe(scorer.card.onnxSha256);
      expectParity(await scorer.scoreRaw(matrixOf(reference.rows), reference.rows.length), reference);
    } finally {
      await scorer.close();
    }
  });

  it('scores a subarray view at an offset, calibrates, and is deterministic', async () => {
    const scorer = await loadScorer({ cardPath: TINY_CARD, expectedFeatures: TINY_FEATURES });
    try {
      const n = TINY_FEATURES.length;
      const rows = reference.rows.length;
      const big = new Float32Array((rows + 7) * n).fill(1e6);
      big.set(matrixOf(reference.rows), 7 * n);
      const view = big.subarray(7 * n);
      const raw = await scorer.scoreRaw(view, rows);
      expectParity(raw, reference);
      expect(Array.from(await scorer.scoreRaw(view, rows))).toEqual(Array.from(raw));
      const anomaly = await scorer.score(view, rows);
      for (let i = 0; i < rows; i++) {
        expect(anomaly[i]).toBe(Math.fround(calibrate(raw[i]!, scorer.card.calibration)));
        expect(anomaly[i]).toBeGreaterThanOrEqual(0);
        expect(anomaly[i]).toBeLessThanOrEqual(1);
      }
      // The first synthetic extreme has every feature far above the training maximum.
      const firstExtreme = reference.source.indexOf('synthetic_extreme');
      expect(anomaly[firstExtreme]).toBe(1);
      const training = Array.from(anomaly).filter((_, i) => reference.source[i] === 'train');
      expect(training.filter((x) => x >= 0.75).length).toBeLessThanOrEqual(2);
      expect((await scorer.score(new Float32Array(0), 0)).length).toBe(0);
    } finally {
      await scorer.close();
    }
  });

  it('rejects a matrix of the wrong size, and use after close; close is idempotent', async () => {
    const scorer = await loadScorer({ cardPath: TINY_CARD, expectedFeatures: TINY_FEATURES, intraOpThreads: 2 });
    await expectCode(scorer.scoreRaw(new Float32Array(7), 2), 'INTERNAL', /7 values, expected rows \(2\) × features \(3\)/);
    await scorer.close();
    await scorer.close();
    await expectCode(scorer.scoreRaw(new Float32Array(3), 1), 'INTERNAL', /closed/);
  });

  it('rejects a non-positive thread count as CONFIG_INVALID', async () => {
    await expectCode(loadScorer({ cardPath: TINY_CARD, expectedFeatures: TINY_FEATURES, intraOpThreads: 0 }), 'CONFIG_INVALID');
  });
});

describe('committed model models/trustline-tailsum', () => {
  it('has its card, ONNX file and reference file together', () => {
    // Fails (never skips) when any of the three is committed without the others.
    expect([REAL_CARD, REAL_ONNX, REAL_REFERENCE].filter((p) => !existsSync(p)).map((p) => p.slice(ROOT.length + 1))).toEqual([]);
  });

  it('matches the scikit-learn reference scores within the reference tolerance', async () => {
    const reference = JSON.parse(readFileSync(REAL_REFERENCE, 'utf8')) as Reference;
    const card = loadModelCard(REAL_CARD);
    expect(reference.features).toEqual(card.features);
    expect(reference.onnxSha256).toBe(card.onnxSha256);
    expect(reference.tolerance.relative).toBeLessThanOrEqual(1e-4);
    expect(reference.rows.length).toBeGreaterThan(0);
    const scorer = await loadScorer({ cardPath: REAL_CARD, expectedFeatures: card.features });
    try {
      expectParity(await scorer.scoreRaw(matrixOf(reference.rows), reference.rows.length), reference);
    } finally {
      await scorer.close();
    }
  });

  it("was trained on this build's feature vector and feature version", async () => {
    const scorer = await loadAnomalyScorer(REAL_CARD);
    try {
      expect(scorer.featureStats.length).toBe(FEATURE_NAMES.length);
      expect(scorer.scorer.card.trainingData.synthetic).not.toBe(true);
    } finally {
      await scorer.close();
    }
  });
});
