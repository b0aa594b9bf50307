import { describe, expect, it } from 'vitest';
import { newAgentState } from '../../src/core/agent-state.ts';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURES, observe, type Signals } from '../../src/core/features.ts';
import { hardSignalReasons } from '../../src/core/judge.ts';
import { explain, type FeatureStats } from '../../src/core/reasons.ts';
import { T0, ev } from '../support/events.ts';

/** The signals of an ordinary, verified request. */
const CLEAN: Signals = observe(newAgentState(), ev(), T0, new Float32Array(FEATURE_COUNT), 0);
/** Fleet statistics: p50 0.1, p99 1 for every feature. */
const STATS: FeatureStats = FEATURE_NAMES.map(() => ({ p50: 0.1, p99: 1 }));
const i = (name: string): number => FEATURE_NAMES.indexOf(name);

/** A feature row with every feature at the fleet median, then the given values. */
function row(values: Record<string, number> = {}, offset = 0): Float32Array {
  const out = new Float32Array(offset + FEATURE_COUNT).fill(0.1);
  for (const [k, v] of Object.entries(values)) {
    if (i(k) < 0) throw new Error(k);
    out[offset + i(k)] = v;
  }
  return out;
}

describe('explain', () => {
  it('lists nothing for an ordinary event', () => {
    expect(explain(CLEAN, row(), 0, 0.9, STATS)).toEqual([]);
  });

  it('lists only features above the fleet p99, furthest first, with value and p99 as baseline', () => {
    const reasons = explain(CLEAN, row({ bytes_out_z: 6, sequential_ids: 0.99, route_novelty: 1.5, error_ratio: 1 }), 0, 0.9, STATS);
    expect(reasons).toEqual([
      {
        code: 'bytes_out_above_baseline',
        feature: 'bytes_out_z',
        value: 6,
        baseline: 1,
        basis: 'own',
        text: 'response 6.0 standard deviations larger than its usual',
      },
      { code: 'new_routes', feature: 'route_novelty', value: 1.5, baseline: 1, basis: 'own', text: '150 % of its recent requests to routes it had not used' },
    ]);
  });

  it('reads the row at the given offset of a batch matrix', () => {
    const m = row({ amount_z: 7 }, 3 * FEATURE_COUNT);
    m.fill(50, 0, 3 * FEATURE_COUNT); // rows before it are wildly anomalous
    expect(explain(CLEAN, m, 3 * FEATURE_COUNT, 0.9, STATS)).toEqual([
      { code: 'amount_unusual', feature: 'amount_z', value: 7, baseline: 1, basis: 'own', text: 'amount 7.0 standard deviations from its usual amounts' },
    ]);
  });

  it('never lists risk-0 (context) features, however high', () => {
    const context = FEATURES.filter((f) => f.risk === 0).map((f) => f.name);
    expect(context).toEqual(expect.arrayContaining(['identity_strength', 'agent_age', 'rate_level']));
    const values = Object.fromEntries(context.map((n) => [n, 100]));
    expect(explain(CLEAN, row(values), 0, 1, STATS)).toEqual([]);
  });

  it('puts hard signals first and lists at most 5 reasons', () => {
    const signals: Signals = { ...CLEAN, failedSignature: true, authFailure: true, scopeViolation: true, identity: 0 };
    const everything = Object.fromEntries(FEATURES.filter((f) => f.risk === 1).map((f, k) => [f.name, 10 + k]));
    const reasons = explain(signals, row(everything), 0, 1, STATS);
    expect(reasons.length).toBe(5);
    expect(reasons.slice(0, 2).map((r) => r.code)).toEqual(['signature_failed', 'scope_violation']);
    for (const r of reasons.slice(2)) expect(r.feature).toBeDefined();
    // The three features furthest above p99 (the last risk features got the highest values).
    const top = FEATURES.filter((f) => f.risk === 1)
      .slice(-3)
      .reverse()
      .map((f) => f.name);
    expect(reasons.slice(2).map((r) => r.feature)).toEqual(top);
    expect(new Set(reasons.map((r) => r.code)).size).toBe(reasons.length);
  });

  it('does not repeat a hard signal as a feature reason', () => {
    const reasons = explain({ ...CLEAN, scopeViolation: true }, row({ scope_violation: 5 }), 0, 0.9, STATS);
    expect(reasons).toEqual([{ code: 'scope_violation' }]);
  });

  it('names an auth failure only when it is not already a failed signature', () => {
    expect(hardSignalReasons({ ...CLEAN, authFailure: true })).toEqual([{ code: 'auth_failure' }]);
    expect(hardSignalReasons({ ...CLEAN, authFailure: true, failedSignature: true })).toEqual([{ code: 'signature_failed' }]);
  });

  it('gives feature reasons only from a meaningful anomaly on; hard signals always', () => {
    const r = row({ bytes_out_z: 6 });
    expect(explain(CLEAN, r, 0, 0.1, STATS)).toEqual([]);
    expect(explain(CLEAN, r, 0, 0.3, STATS).map((x) => x.code)).toEqual(['bytes_out_above_baseline']);
    expect(explain({ ...CLEAN, scopeViolation: true }, r, 0, 0, STATS)).toEqual([{ code: 'scope_violation' }]);
  });

  it('skips features without fleet statistics and rounds values to 3 decimals', () => {
    const partial: FeatureStats = STATS.slice(0, i('bytes_out_z')); // no stats from bytes_out_z on
    expect(explain(CLEAN, row({ bytes_out_z: 9, sequential_ids: 1.23456 }), 0, 0.9, partial)).toEqual([
      {
        code: 'sequential_id_enumeration',
        feature: 'sequential_ids',
        value: 1.235,
        baseline: 1,
        basis: 'own',
        text: '123 % of its recent requests step through consecutive ids',
      },
    ]);
  });

  it('is deterministic: ties are broken by feature order', () => {
    const r = row({ error_ratio: 3, forbidden_ratio: 3, rate_shift: 3, token_age: 3 });
    const reasons = explain(CLEAN, r, 0, 0.9, STATS);
    expect(reasons.map((x) => x.feature)).toEqual(['rate_shift', 'error_ratio', 'forbidden_ratio', 'token_age']);
    expect(explain(CLEAN, r, 0, 0.9, STATS)).toEqual(reasons);
  });
});

describe('explanations name the comparison', () => {
  it('a peer reason says how the agent compares with its peers, in their units', () => {
    const signals: Signals = {
      ...CLEAN,
      peers: { usualRate: 110, peerRate: 2.8, errShare: 0.02, peerErrShare: 0.03, privShare: 0.9, peerPrivShare: 0.01 },
      privilegedRule: 0,
    };
    const reasons = explain(signals, row({ rate_vs_peers: 9, privileged_vs_peers: 5 }), 0, 0.9, STATS);
    expect(reasons).toEqual([
      { code: 'rate_above_peers', feature: 'rate_vs_peers', value: 9, baseline: 1, basis: 'peers', text: "usual rate 110/min, 39× its peers' 2.8/min" },
      {
        code: 'privileged_above_peers',
        feature: 'privileged_vs_peers',
        value: 5,
        baseline: 1,
        basis: 'peers',
        rule: 'admin',
        text: "~90 % of its requests to privileged surfaces, 90× its peers' 1.0 %",
      },
    ]);
  });

  it('a purpose reason names the configured route rule that matched, or the changed purpose', () => {
    const admin = explain({ ...CLEAN, privilegedRule: 2 }, row({ purpose_mismatch: 3 }), 0, 0.9, STATS);
    expect(admin).toEqual([
      {
        code: 'purpose_mismatch',
        feature: 'purpose_mismatch',
        value: 3,
        baseline: 1,
        basis: 'rule',
        rule: 'payouts',
        text: 'a privileged surface it does not normally use',
      },
    ]);
    const changed = explain({ ...CLEAN, purposeChanged: true, privilegedRule: -1 }, row({ purpose_mismatch: 3 }), 0, 0.9, STATS);
    expect(changed[0]).toMatchObject({ basis: 'rule', text: 'its declared purpose changed' });
    expect(changed[0]!.rule).toBeUndefined();
  });

  it('every risk feature has a basis and a text within the contract limit', () => {
    const signals: Signals = { ...CLEAN, peers: { usualRate: 1e6, peerRate: 0, errShare: 1, peerErrShare: 0, privShare: 1, peerPrivShare: 0 } };
    for (const f of FEATURES.filter((x) => x.risk === 1)) {
      const [r] = explain(signals, row({ [f.name]: 1e6 }), 0, 1, STATS);
      expect(r, f.name).toMatchObject({ feature: f.name, basis: expect.stringMatching(/^(own|peers|fleet|rule)$/) });
      expect(r!.text!.length, f.name).toBeGreaterThan(0);
      expect(r!.text!.length, f.name).toBeLessThanOrEqual(200);
    }
  });
});
