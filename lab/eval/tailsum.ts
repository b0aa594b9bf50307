/**
 * The tail-sum (ECOD-style) model family of models/train.py, fitted in TypeScript, so the
 * robustness evaluation (leave-one-kind-out folds, lab/eval/robustness.ts) can retrain per fold
 * without Python. Same math as `TailSumModel` in models/train.py (the reference; see
 * models/README.md and docs/evaluation.md):
 *
 *  - per risk feature j, thresholds at the empirical quantiles (numpy method "lower") of tail
 *    probability 10^(−k/steps), k = 0 … ⌊log10(n+1)·steps⌋, plus the training maximum; the
 *    region (b[i−1], b[i]] scores −log10((#{X > b[i−1]} + 1)/(n + 1));
 *  - beyond the maximum, the slope of the tail between the p99 and the maximum continues in
 *    half-decade steps up to `cap` decades (or one step straight to `cap` when there is no slope);
 *  - thresholds rounded down to float32, merged when rounding makes them equal; each region's
 *    score minus `floor` decades, floored at 0, stored as float32;
 *  - raw(x) = Σ over risk features of the region score (`aggregate: "sum"`; the per-family
 *    maximum for `"family_max"`);
 *  - calibration: the raw-score quantiles of the training rows at train.py's probabilities
 *    (numpy "linear"), mapped by src/scoring/calibration.ts exactly as the served model is.
 *
 * test/lab/eval/tailsum.int.test.ts checks that a fit on the committed model's training data
 * reproduces its reference rows' raw scores and its calibration block.
 */
import type { Calibration } from '../../src/scoring/calibration.ts';
import { calibrateAll } from '../../src/scoring/calibration.ts';
import type { FeatureStats } from '../../src/core/reasons.ts';
import type { AnomalyScorer } from '../../src/pipeline/ports.ts';

/** train.py's CALIBRATION_PROBABILITIES. */
export const CALIBRATION_PROBABILITIES = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 1.0] as const;

export type TailSumParams = {
  /** 1 = high is risky (scored), 0 = context (contributes 0). */
  risk: readonly number[];
  stepsPerDecade: number;
  capDecades: number;
  floorDecades: number;
  aggregate: 'sum' | 'family_max';
  /** Family of each feature (used by `family_max`). */
  groups?: readonly string[];
};

export type TailSumModel = {
  params: TailSumParams;
  /** Per feature: float32 thresholds, increasing. */
  bounds: Float32Array[];
  /** Per feature: bounds.length + 1 region scores (float32 values). */
  values: Float64Array[];
  calibration: Calibration;
  /** p50/p90/p99/max per feature over the training rows (the card's featureStats). */
  stats: { p50: number; p90: number; p99: number; max: number }[];
  rows: number;
};

const f32 = new Float32Array(1);
const toF32 = (x: number): number => {
  f32[0] = x;
  return f32[0]!;
};

/** Largest float32 ≤ t (train.py's float32_at_or_below). */
export function float32AtOrBelow(t: number): number {
  const r = toF32(t);
  if (r > t) return nextFloat32(r, -1);
  return r;
}

/** The next float32 after the float32 `x` towards +∞ (dir 1) or −∞ (dir −1). */
export function nextFloat32(x: number, dir: 1 | -1): number {
  const buf = new DataView(new ArrayBuffer(4));
  if (x === 0) {
    buf.setUint32(0, 1);
    const tiny = buf.getFloat32(0);
    return dir > 0 ? tiny : -tiny;
  }
  buf.setFloat32(0, x);
  let bits = buf.getUint32(0);
  const positive = x > 0;
  bits = positive === dir > 0 ? bits + 1 : bits - 1;
  buf.setUint32(0, bits >>> 0);
  return buf.getFloat32(0);
}

/** numpy quantile, method "lower", of a sorted float64 array. */
function quantileLower(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  const i = Math.floor((n - 1) * p);
  return sorted[Math.min(Math.max(i, 0), n - 1)]!;
}

/** numpy quantile, method "linear" (numpy's default, with its lerp), of a sorted float64 array. */
export function quantileLinear(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const t = h - lo;
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  const diff = b - a;
  // numpy._lerp: a + diff·t, and b − diff·(1 − t) when t ≥ 0.5.
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Count of sorted values ≤ x (numpy searchsorted side="right"). */
function searchRight(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Count of sorted values < x (numpy searchsorted side="left"). */
function searchLeft(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function fitFeature(col: Float64Array, p: TailSumParams): { bounds: Float32Array; values: Float64Array } {
  const n = col.length;
  const top = Math.log10(n + 1);
  const K = Math.floor(top * p.stepsPerDecade);
  const candSet: number[] = [];
  for (let k = 0; k <= K; k++) {
    const level = k / p.stepsPerDecade;
    const prob = Math.min(Math.max(1 - 10 ** -level, 0), 1);
    candSet.push(quantileLower(col, prob));
  }
  candSet.push(col[n - 1]!);
  const cand = [...new Set(candSet)].sort((a, b) => a - b);
  const scores = cand.map((c) => -Math.log10((n - searchRight(col, c) + 1) / (n + 1)));
  const mx = col[n - 1]!;
  const q99 = quantileLower(col, 0.99);
  const sMax = scores[scores.length - 1]!;
  const sQ99 = -Math.log10((n - searchRight(col, q99) + 1) / (n + 1));
  const bounds = [...cand];
  const vals = [0, ...scores];
  if (mx > q99 && sMax > sQ99) {
    const slope = (sMax - sQ99) / (mx - q99);
    for (let k = 1; sMax + 0.5 * k <= p.capDecades; k++) {
      bounds.push(mx + (0.5 * k) / slope);
      vals.push(sMax + 0.5 * k);
    }
  } else {
    bounds.push(nextFloat32(toF32(mx), 1));
    vals.push(p.capDecades);
  }
  const b32 = bounds.map(float32AtOrBelow);
  const keptB: number[] = [];
  const keptV: number[] = [vals[0]!];
  for (let i = 0; i < b32.length; i++) {
    if (i === 0 || b32[i]! > b32[i - 1]!) {
      keptB.push(b32[i]!);
      keptV.push(vals[i + 1]!);
    }
  }
  const values = Float64Array.from(keptV, (v) => toF32(Math.max(0, v - p.floorDecades)));
  return { bounds: Float32Array.from(keptB), values };
}

/** Raw scores (higher = more anomalous) of a row-major [rows × d] matrix. */
export function rawScores(m: Pick<TailSumModel, 'bounds' | 'values' | 'params'>, matrix: Float32Array, rows: number): Float64Array {
  const d = m.bounds.length;
  const out = new Float64Array(rows);
  const family = m.params.aggregate === 'family_max';
  const groups = m.params.groups ?? [];
  const contrib = family ? new Float64Array(d) : null;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < d; j++) {
      const b = m.bounds[j]!;
      if (b.length === 0) {
        if (contrib) contrib[j] = 0;
        continue;
      }
      const v = m.values[j]![searchLeft(b, matrix[r * d + j]!)]!;
      if (contrib) contrib[j] = v;
      else sum += v;
    }
    if (contrib) {
      const best = new Map<string, number>();
      for (let j = 0; j < d; j++) {
        if (!m.params.risk[j]) continue;
        const g = groups[j] ?? `f${j}`;
        best.set(g, Math.max(best.get(g) ?? 0, contrib[j]!));
      }
      for (const v of best.values()) sum += v;
    }
    out[r] = sum;
  }
  return out;
}

/**
 * Fits the model on a row-major [rows × d] float32 matrix of benign training rows.
 *
 * @throws RangeError with fewer than 2 rows or a risk vector of the wrong length
 */
export function fitTailSum(matrix: Float32Array, rows: number, params: TailSumParams): TailSumModel {
  const d = params.risk.length;
  if (rows < 2) throw new RangeError(`tail-sum fit needs at least 2 rows, got ${rows}`);
  if (matrix.length < rows * d) throw new RangeError(`matrix has ${matrix.length} values, expected ${rows} × ${d}`);
  const bounds: Float32Array[] = [];
  const values: Float64Array[] = [];
  const stats: TailSumModel['stats'] = [];
  const col = new Float64Array(rows);
  for (let j = 0; j < d; j++) {
    for (let r = 0; r < rows; r++) col[r] = matrix[r * d + j]!;
    col.sort();
    stats.push({ p50: quantileLinear(col, 0.5), p90: quantileLinear(col, 0.9), p99: quantileLinear(col, 0.99), max: col[rows - 1]! });
    if (!params.risk[j]) {
      bounds.push(new Float32Array(0));
      values.push(new Float64Array([0]));
      continue;
    }
    const f = fitFeature(col, params);
    bounds.push(f.bounds);
    values.push(f.values);
  }
  const partial = { params, bounds, values };
  const raw = rawScores(partial, matrix, rows).sort();
  const calibration: Calibration = {
    method: 'empirical_tail',
    rows,
    probabilities: [...CALIBRATION_PROBABILITIES],
    scores: CALIBRATION_PROBABILITIES.map((p) => quantileLinear(raw, p)),
  };
  return { ...partial, calibration, stats, rows };
}

/**
 * The fitted model as the pipeline's scorer: raw score, then the card calibration
 * (src/scoring/calibration.ts), exactly as the ONNX scorer does.
 */
export function tailSumScorer(model: TailSumModel, modelId = 'tail-sum-fold@ts'): AnomalyScorer {
  const featureStats: FeatureStats = model.stats.map((s) => ({ p50: s.p50, p99: s.p99 }));
  return {
    modelId,
    featureStats,
    score(matrix, rows) {
      const raw = rawScores(model, matrix, rows);
      return Promise.resolve(calibrateAll(raw, model.calibration));
    },
  };
}

/** The tail-sum parameters a model card records (`params`), for refitting the same family. */
export function paramsFromCard(params: Record<string, unknown>): TailSumParams {
  const risk = params['risk'];
  if (!Array.isArray(risk)) throw new RangeError('model card params have no "risk" vector: not a tail_sum model');
  return {
    risk: risk.map(Number),
    stepsPerDecade: Number(params['steps_per_decade'] ?? 8),
    capDecades: Number(params['cap_decades'] ?? 8),
    floorDecades: Number(params['floor_decades'] ?? 0),
    aggregate: params['aggregate'] === 'family_max' ? 'family_max' : 'sum',
    ...(Array.isArray(params['groups']) ? { groups: (params['groups'] as unknown[]).map(String) } : {}),
  };
}
