/**
 * Calibration: raw model score → anomaly in [0, 1], from the model's own training data.
 *
 * The model card stores raw-score quantiles of the training rows (`scores[i]` is the
 * `probabilities[i]` quantile). At serving time the raw score is mapped to its position `p` in
 * that empirical distribution, then to "how many nines": anomaly = clamp(-log10(1 - p) / 4, 0, 1),
 * so p = 0.9 → 0.25, 0.99 → 0.5, 0.999 → 0.75, ≥ 0.9999 → 1. Pure, no I/O.
 */

/** The `calibration` block of the model card (method `empirical_tail`). */
export type Calibration = {
  readonly method: 'empirical_tail';
  /** Number of training rows the quantiles were computed on (N). */
  readonly rows: number;
  /** Strictly increasing, first 0 (training minimum), last 1 (training maximum). */
  readonly probabilities: readonly number[];
  /** Raw-score quantiles at `probabilities`, non-decreasing. */
  readonly scores: readonly number[];
};

/** Decades of tail probability mapped onto [0, 1]: anomaly 1 ⇔ p ≥ 1 - 10^-4. */
export const ANOMALY_DECADES = 4;

/**
 * Problems with a calibration block, empty when valid. Shared by the model-card schema and
 * {@link calibrate}, so an invalid block never reaches the arithmetic.
 */
export function calibrationProblems(c: Calibration): string[] {
  const out: string[] = [];
  const { probabilities: p, scores: s } = c;
  if (c.method !== 'empirical_tail') out.push(`method must be "empirical_tail", got ${JSON.stringify(c.method)}`);
  if (!Number.isInteger(c.rows) || c.rows < 1) out.push(`rows must be a positive integer, got ${c.rows}`);
  if (p.length < 2) out.push(`needs at least 2 probabilities, got ${p.length}`);
  if (p.length !== s.length) out.push(`probabilities (${p.length}) and scores (${s.length}) differ in length`);
  if (p.length > 0 && p[0] !== 0) out.push(`probabilities must start at 0, got ${p[0]}`);
  if (p.length > 0 && p[p.length - 1] !== 1) out.push(`probabilities must end at 1, got ${p[p.length - 1]}`);
  for (let i = 0; i < p.length; i++) {
    if (!Number.isFinite(p[i]) || p[i]! < 0 || p[i]! > 1) out.push(`probabilities[${i}] must be in [0, 1], got ${p[i]}`);
    else if (i > 0 && !(p[i]! > p[i - 1]!)) out.push(`probabilities must be strictly increasing (index ${i})`);
  }
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i])) out.push(`scores[${i}] must be finite, got ${s[i]}`);
    else if (i > 0 && !(s[i]! >= s[i - 1]!)) out.push(`scores must be non-decreasing (index ${i})`);
  }
  return out;
}

/** Knots ready for evaluation: scores, capped probabilities, and the tail slope. */
type Prepared = {
  s: Float64Array;
  q: Float64Array;
  /** -log10(1 - q) at the last knot (the training maximum). */
  lastLevel: number;
  /** d(-log10(1 - p)) / d(raw) beyond the training maximum; +∞ when undeterminable. */
  tailSlope: number;
};

const prepared = new WeakMap<Calibration, Prepared>();

function level(p: number): number {
  return -Math.log10(1 - p);
}

function prepare(c: Calibration): Prepared {
  const hit = prepared.get(c);
  if (hit) return hit;
  const problems = calibrationProblems(c);
  if (problems.length > 0) throw new RangeError(`invalid calibration: ${problems.join('; ')}`);
  const k = c.scores.length;
  const cap = c.rows / (c.rows + 1);
  const s = Float64Array.from(c.scores);
  const q = Float64Array.from(c.probabilities, (p) => Math.min(p, cap));
  const last = k - 1;
  const lastLevel = level(q[last]!);
  let tailSlope = Number.POSITIVE_INFINITY;
  for (let a = last - 1; a >= 0; a--) {
    if (s[a]! < s[last]! && q[a]! < q[last]!) {
      tailSlope = (lastLevel - level(q[a]!)) / (s[last]! - s[a]!);
      break;
    }
  }
  const p: Prepared = { s, q, lastLevel, tailSlope };
  prepared.set(c, p);
  return p;
}

/**
 * Calibrated anomaly in [0, 1] for one raw score (higher raw = more anomalous).
 *
 * Exact rule, with knots (sᵢ, qᵢ) = (`scores[i]`, min(`probabilities[i]`, N/(N+1))), N = `rows`:
 *
 * 1. raw < s₀ (below the training minimum): p = 0.
 * 2. s₀ ≤ raw < s_last: take the last knot j with sⱼ ≤ raw; p = qⱼ + (qⱼ₊₁ − qⱼ)·(raw − sⱼ)/(sⱼ₊₁ − sⱼ)
 *    (linear interpolation of the empirical CDF; right-continuous where knots tie).
 * 3. raw ≥ s_last (at or beyond the training maximum): the tail level L = −log10(1 − p) continues
 *    linearly from the last knot, L = L_last + m·(raw − s_last), where m is the slope of L between
 *    the last knot and the nearest earlier knot with a smaller score and probability (an exponential
 *    tail: each step of 1/m in raw score makes the event ten times rarer). If no such knot exists,
 *    m = +∞ and every raw score above s_last maps to 1.
 * 4. anomaly = clamp(L / 4, 0, 1) with L = −log10(1 − p).
 *
 * The cap N/(N+1) is the empirical CDF's resolution: the training maximum is "1 in N+1", not
 * "impossible", so with N < 10⁴ training rows it maps below 1 and step 3 extrapolates to 1
 * continuously. The result is continuous on [s₀, ∞) and monotone non-decreasing in raw.
 * NaN maps to 1 (fail closed).
 *
 * @throws RangeError when the calibration block is invalid (see {@link calibrationProblems}).
 */
export function calibrate(raw: number, calibration: Calibration): number {
  return evaluate(prepare(calibration), raw);
}

function evaluate(c: Prepared, raw: number): number {
  const { s, q, lastLevel, tailSlope } = c;
  if (Number.isNaN(raw)) return 1;
  const last = s.length - 1;
  let L: number;
  if (raw < s[0]!) {
    return 0;
  } else if (raw >= s[last]!) {
    const dx = raw - s[last]!;
    L = dx === 0 ? lastLevel : lastLevel + tailSlope * dx;
  } else {
    // Last j with s[j] <= raw; s[last] > raw, so j < last and s[j + 1] > s[j].
    let lo = 0;
    let hi = last;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= raw) lo = mid;
      else hi = mid;
    }
    const p = q[lo]! + ((q[lo + 1]! - q[lo]!) * (raw - s[lo]!)) / (s[lo + 1]! - s[lo]!);
    // min(): rounding in q[lo] + (q[lo+1] - q[lo]) must not overshoot the next knot (monotonicity).
    L = level(Math.min(p, q[lo + 1]!));
  }
  const a = L / ANOMALY_DECADES;
  return a <= 0 ? 0 : a >= 1 ? 1 : a;
}

/**
 * Calibrates a whole batch: `out[i] = calibrate(raw[i])`. Writes into `out` when given
 * (same length as `raw`), else into a new array.
 */
export function calibrateAll(raw: ArrayLike<number>, calibration: Calibration, out: Float32Array = new Float32Array(raw.length)): Float32Array {
  if (out.length !== raw.length) throw new RangeError(`output length ${out.length} ≠ input length ${raw.length}`);
  const c = prepare(calibration);
  for (let i = 0; i < raw.length; i++) out[i] = evaluate(c, raw[i]!);
  return out;
}
