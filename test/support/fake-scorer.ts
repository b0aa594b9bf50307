/**
 * A deterministic test double of the pipeline's {@link AnomalyScorer}, for unit tests of pure
 * code only (integration tests use the real ONNX model).
 *
 * The anomaly of a row is a pure function of that row's features — a saturating sum of how far
 * each risk feature stands above a fixed "usual" level — so it reacts to the same signals the
 * real model does and never depends on the batch the row arrived in.
 */
import { FEATURE_COUNT, FEATURE_NAMES, FEATURES } from '../../src/core/features.ts';
import type { FeatureStats } from '../../src/core/reasons.ts';
import type { AnomalyScorer } from '../../src/pipeline/batch-processor.ts';

/** Per-feature [usual level, weight per unit above it]; features not listed do not count. */
const WEIGHTS: Record<string, [number, number]> = {
  rate_shift: [0.3, 1.5],
  burstiness: [2.5, 0.3],
  route_novelty: [0.5, 1.5],
  route_novelty_shift: [0.3, 2],
  sequential_ids: [0.2, 3],
  error_ratio: [0.3, 1],
  error_shift: [0.3, 1.5],
  auth_failure_ratio: [0.2, 3],
  forbidden_ratio: [0.2, 2],
  scope_violation: [0.1, 4],
  sensitivity_above_usual: [1, 0.8],
  sensitive_rate_shift: [0.5, 1],
  amount_z: [3, 0.4],
  bytes_out_z: [3, 0.5],
  network_change: [0.15, 3],
  user_agent_change: [0.15, 3],
  token_age: [0.8, 1],
  purpose_mismatch: [0.3, 2],
  off_hours: [0.7, 1],
};

/** The fake "fleet" distribution used for reasons: p50 half the usual level, p99 the usual level. */
export const FAKE_FEATURE_STATS: FeatureStats = FEATURE_NAMES.map((name) => {
  const w = WEIGHTS[name];
  return w ? { p50: w[0] / 2, p99: w[0] } : { p50: 0, p99: 1 };
});

/** Calibrated anomaly of one feature row, in [0, 1). */
export function fakeAnomaly(row: ArrayLike<number>): number {
  let x = 0;
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const w = WEIGHTS[FEATURES[i]!.name];
    if (!w) continue;
    const v = row[i]!;
    if (v > w[0]) x += (v - w[0]) * w[1];
  }
  return 1 - Math.exp(-x);
}

export class FakeScorer implements AnomalyScorer {
  readonly modelId = 'fake@1';
  readonly featureStats = FAKE_FEATURE_STATS;
  /** Rows per `score` call, in call order. */
  readonly calls: number[] = [];
  /** Copies of every scored row, in order. */
  readonly rows: Float32Array[] = [];

  async score(matrix: Float32Array, rows: number): Promise<Float32Array> {
    if (matrix.length !== rows * FEATURE_COUNT) throw new Error(`matrix has ${matrix.length} values for ${rows} rows`);
    this.calls.push(rows);
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const row = matrix.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT);
      this.rows.push(row);
      out[r] = fakeAnomaly(row);
    }
    return out;
  }
}
