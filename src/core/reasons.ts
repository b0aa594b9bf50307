/**
 * Reasons: why an agent's trust is where it is. Hard signals first, then every feature above
 * the fleet's p99, furthest first (distance from the training p50 in units of p50 → p99), each
 * with its value and the fleet p99 as baseline, up to five reasons in all. Listing every
 * feature beyond p99 (not only the top one or two) keeps the cause visible when several kinds
 * of evidence stand out at once — an enumeration's 404s next to its sequential ids.
 *
 * Each feature reason also names the comparison that drove it (`basis`): the agent's own
 * baseline (`own`), its peer group (`peers`, see peers.ts), the fleet's usual values (`fleet`),
 * or a configured route rule (`rule`, with the rule's name in `rule`); and says it in words
 * (`text`), e.g. "usual rate 110/min, 39× its peers' 2.8/min" (docs/detection.md). Shares and
 * rates in peer texts are the agent's posterior estimates (shrunk toward the peers while it is
 * young), hence "~".
 */
import type { Reason } from '../contract/schemas.ts';
import { FEATURES, type Signals } from './features.ts';
import { hardSignalReasons } from './judge.ts';
import { DEFAULT_COMPILED_RULES, type CompiledRouteRules } from './routes.ts';

export type FeatureStats = readonly { p50: number; p99: number }[];

/** Only events at or above this calibrated anomaly carry feature reasons. */
const EXPLAIN_FROM = 0.25;
const MAX_REASONS = 5;

type Basis = NonNullable<Reason['basis']>;

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** A number for text: 2 significant digits below 100, whole numbers above. */
function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? String(Math.round(x)) : a >= 10 ? x.toFixed(0) : a >= 1 ? x.toFixed(1) : x.toPrecision(2).replace(/\.?0+$/, '');
}

function pct(x: number): string {
  return `${num(100 * x)} %`;
}

function times(a: number, b: number): string {
  return `${num(a / Math.max(b, 1e-9))}×`;
}

/** Basis and words of each feature reason (by feature name); `v` is the feature value. */
const DESCRIBE: Record<string, { basis: Basis; text: (v: number, s: Signals) => string }> = {
  rate_shift: { basis: 'own', text: (v) => `request rate ${num(10 ** v)}× its usual` },
  burstiness: { basis: 'own', text: (v) => `requests ${num(v)} standard deviations closer together than its usual rhythm` },
  route_novelty: { basis: 'own', text: (v) => `${pct(v)} of its recent requests to routes it had not used` },
  route_novelty_shift: { basis: 'own', text: (v) => `${pct(v)} more requests to new routes than usual` },
  sequential_ids: { basis: 'own', text: (v) => `${pct(v)} of its recent requests step through consecutive ids` },
  error_ratio: { basis: 'fleet', text: (v) => `${pct(v)} of its recent requests fail` },
  error_shift: { basis: 'own', text: (v) => `${pct(v)} more failing requests than its usual (shrunk toward its peers while young)` },
  auth_failure_ratio: { basis: 'fleet', text: (v) => `${pct(v)} of its recent requests failed authentication` },
  forbidden_ratio: { basis: 'fleet', text: (v) => `${pct(v)} of its recent requests were forbidden` },
  scope_violation: { basis: 'fleet', text: (v) => `${pct(v)} of its recent requests needed a scope it was not granted` },
  sensitivity_above_usual: { basis: 'own', text: () => 'an action more sensitive than any it usually takes' },
  sensitive_rate_shift: { basis: 'own', text: (v) => `high/critical actions ${num(10 ** v)}× its usual pace` },
  sensitive_share_drift: { basis: 'own', text: (v) => `share of high/critical actions ${num(v)} standard deviations above its long-run share` },
  amount_z: { basis: 'own', text: (v) => `amount ${num(v)} standard deviations from its usual amounts` },
  bytes_out_z: { basis: 'own', text: (v) => `response ${num(v)} standard deviations larger than its usual` },
  bytes_out_excess: { basis: 'own', text: (v) => `response ${num(10 ** v)}× the largest it usually gets` },
  bytes_out_drift: { basis: 'own', text: (v) => `egress volume ${num(10 ** v)}× its long-run volume` },
  network_change: { basis: 'own', text: (v) => `${pct(v)} of its recent requests off its home network` },
  user_agent_change: { basis: 'own', text: (v) => `${pct(v)} of its recent requests from another client` },
  client_change: { basis: 'own', text: () => 'another network and another client at once' },
  token_age: { basis: 'fleet', text: () => 'an unusually old token' },
  purpose_mismatch: {
    basis: 'rule',
    text: (_v, s) =>
      s.purposeChanged
        ? 'its declared purpose changed'
        : s.privilegedRule !== undefined && s.privilegedRule >= 0
          ? 'a privileged surface it does not normally use'
          : 'a critical action it does not normally take',
  },
  off_hours: { basis: 'own', text: () => 'active at an hour it usually is not' },
  rate_vs_peers: {
    basis: 'peers',
    text: (_v, s) =>
      s.peers
        ? `usual rate ${num(s.peers.usualRate)}/min, ${times(s.peers.usualRate, s.peers.peerRate)} its peers' ${num(s.peers.peerRate)}/min`
        : 'request rate far above its peers',
  },
  error_vs_peers: {
    basis: 'peers',
    text: (_v, s) =>
      s.peers
        ? `~${pct(s.peers.errShare)} of its requests fail, ${times(s.peers.errShare, s.peers.peerErrShare)} its peers' ${pct(s.peers.peerErrShare)}`
        : 'failing requests far above its peers',
  },
  privileged_vs_peers: {
    basis: 'peers',
    text: (_v, s) =>
      s.peers
        ? `~${pct(s.peers.privShare)} of its requests to privileged surfaces, ${times(s.peers.privShare, s.peers.peerPrivShare)} its peers' ${pct(s.peers.peerPrivShare)}`
        : 'privileged requests far above its peers',
  },
};

export function explain(
  signals: Signals,
  features: Float32Array,
  offset: number,
  anomaly: number,
  stats: FeatureStats,
  rules: CompiledRouteRules = DEFAULT_COMPILED_RULES,
): Reason[] {
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
      const v = features[offset + i]!;
      const r: Reason = { code: spec.reason, feature: spec.name, value: round3(v), baseline: round3(stats[i]!.p99) };
      const d = DESCRIBE[spec.name];
      if (d) {
        r.basis = d.basis;
        const named = (spec.name === 'purpose_mismatch' && !signals.purposeChanged) || spec.name === 'privileged_vs_peers';
        if (named && signals.privilegedRule !== undefined && signals.privilegedRule >= 0) r.rule = rules.ruleName(signals.privilegedRule);
        r.text = d.text(v, signals).slice(0, 200);
      }
      reasons.push(r);
    }
  }
  return reasons.slice(0, MAX_REASONS);
}
