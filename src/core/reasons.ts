/**
 * Reasons: why an agent's trust is where it is. Hard signals first, then every feature above
 * the fleet's p99, furthest first (distance from the training p50 in units of p50 → p99), each
 * with its value and the fleet p99 as baseline, up to five reasons in all. Listing every
 * feature beyond p99 (not only the top one or two) keeps the cause visible when several kinds
 * of evidence stand out at once — an enumeration's 404s next to its sequential ids.
 */
import type { Reason } from '../contract/schemas.ts';
import { FEATURES, type Signals } from './features.ts';
import { hardSignalReasons } from './judge.ts';

export type FeatureStats = readonly { p50: number; p99: number }[];

/** Only events at or above this calibrated anomaly carry feature reasons. */
const EXPLAIN_FROM = 0.25;
const MAX_REASONS = 5;

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function explain(signals: Signals, features: Float32Array, offset: number, anomaly: number, stats: FeatureStats): Reason[] {
  const reasons = hardSignalReasons(signals);
  if (anomaly >= EXPLAIN_FROM) {
    const scored: { i: number; score: number }[] = [];
    for (let i = 0; i < FEATURES.length; i++) {
      const spec = FEATURES[i]!;
      const st = stats[i];
      if (spec.risk === 0 || !st) continue;
      const v = features[offset + i]!;
      const score = (v - st.p50) / Math.max(st.p99 - st.p50, 1e-3);
      if (score > 1) scored.push({ i, score });
    }
    scored.sort((a, b) => b.score - a.score || a.i - b.i);
    for (const { i } of scored) {
      if (reasons.length >= MAX_REASONS) break;
      const spec = FEATURES[i]!;
      if (reasons.some((r) => r.code === spec.reason)) continue;
      reasons.push({ code: spec.reason, feature: spec.name, value: round3(features[offset + i]!), baseline: round3(stats[i]!.p99) });
    }
  }
  return reasons.slice(0, MAX_REASONS);
}
