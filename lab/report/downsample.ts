/**
 * Downsampling of a time series for charts. Pure.
 */

/**
 * At most `maxPoints` points of the series (`ts[i]`, `ys[i]`), in input order: the series is
 * cut into `maxPoints / 2` buckets of consecutive points and each bucket keeps its lowest and
 * its highest point, so dips and spikes (a trust drop lasting one event) survive. The first
 * and the last points are always kept. A series that already fits is returned unchanged.
 */
export function downsampleMinMax(ts: readonly number[], ys: readonly number[], maxPoints: number): { ts: number[]; ys: number[] } {
  const n = Math.min(ts.length, ys.length);
  const limit = Math.max(4, Math.floor(maxPoints));
  if (n <= limit) return { ts: ts.slice(0, n), ys: ys.slice(0, n) };
  const buckets = Math.floor((limit - 2) / 2);
  const keep: number[] = [0];
  for (let b = 0; b < buckets; b++) {
    const lo = 1 + Math.floor((b * (n - 2)) / buckets);
    const hi = 1 + Math.floor(((b + 1) * (n - 2)) / buckets);
    if (hi <= lo) continue;
    let iMin = lo;
    let iMax = lo;
    for (let i = lo + 1; i < hi; i++) {
      if (ys[i]! < ys[iMin]!) iMin = i;
      if (ys[i]! > ys[iMax]!) iMax = i;
    }
    if (iMin === iMax) keep.push(iMin);
    else keep.push(Math.min(iMin, iMax), Math.max(iMin, iMax));
  }
  keep.push(n - 1);
  return { ts: keep.map((i) => ts[i]!), ys: keep.map((i) => ys[i]!) };
}
