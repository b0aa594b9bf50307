/**
 * Ranking and summary statistics for the detection evaluation (docs/evaluation.md). Pure, no I/O.
 *
 * Conventions: a higher score means "more likely an attack"; `positive[i]` marks the rows that
 * are attacks. Ties are handled exactly (average ranks for ROC-AUC, one threshold per distinct
 * score for PR-AUC), so the results do not depend on the input order.
 */

/** Indices of `scores` sorted by score descending (stable). */
function byScoreDesc(scores: ArrayLike<number>): Uint32Array {
  const idx = new Uint32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  // Sort a plain array: typed-array sort with a comparator is not guaranteed stable on every engine.
  const order = Array.from(idx).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return Uint32Array.from(order);
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative, ties counting one half (Mann–Whitney U / (P·N)). NaN when either class is empty.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = scores.length;
  if (positive.length !== n) throw new RangeError(`scores (${n}) and labels (${positive.length}) differ in length`);
  const order = byScoreDesc(scores);
  let pos = 0;
  let neg = 0;
  // Walk from the highest score down; for each group of tied scores, every positive in it beats
  // every negative seen later, and ties with the negatives of its own group count one half.
  let above = 0; // positives strictly above the current group
  let u = 0; // pairs (positive, negative) with positive > negative, + ½ for ties
  let i = 0;
  while (i < n) {
    let j = i;
    let gp = 0;
    let gn = 0;
    const s = scores[order[i]!]!;
    while (j < n && scores[order[j]!]! === s) {
      if (positive[order[j]!]) gp++;
      else gn++;
      j++;
    }
    u += gn * above + 0.5 * gn * gp;
    above += gp;
    pos += gp;
    neg += gn;
    i = j;
  }
  return pos === 0 || neg === 0 ? Number.NaN : u / (pos * neg);
}

/**
 * Area under the precision–recall curve as average precision: Σ (Rₖ − Rₖ₋₁) · Pₖ over the
 * distinct score thresholds k from the highest down (as scikit-learn's `average_precision_score`).
 * NaN without positives.
 */
export function prAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = scores.length;
  if (positive.length !== n) throw new RangeError(`scores (${n}) and labels (${positive.length}) differ in length`);
  let totalPos = 0;
  for (let i = 0; i < n; i++) if (positive[i]) totalPos++;
  if (totalPos === 0) return Number.NaN;
  const order = byScoreDesc(scores);
  let tp = 0;
  let seen = 0;
  let ap = 0;
  let i = 0;
  while (i < n) {
    const s = scores[order[i]!]!;
    let gp = 0;
    while (i < n && scores[order[i]!]! === s) {
      if (positive[order[i]!]) gp++;
      seen++;
      i++;
    }
    if (gp > 0) {
      tp += gp;
      ap += (gp / totalPos) * (tp / seen);
    }
  }
  return ap;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) with linear interpolation between order statistics (numpy's
 * default "linear" method); NaN for an empty input.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const v = [...values].sort((a, b) => a - b);
  const h = (v.length - 1) * Math.min(Math.max(q, 0), 1);
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return v[lo]! + (h - lo) * (v[hi]! - v[lo]!);
}

/** `x / total`, or NaN when there is nothing to divide (rendered as null in JSON). */
export function rate(x: number, total: number): number {
  return total > 0 ? x / total : Number.NaN;
}

/** Rounds for reports; NaN/±∞ become null so JSON stays valid. */
export function round(x: number, digits = 4): number | null {
  if (!Number.isFinite(x)) return null;
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}
