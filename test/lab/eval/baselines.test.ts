import { describe, expect, it } from 'vitest';
import type { AgentRequestEvent } from '../../../src/contract/schemas.ts';
import { FEATURES } from '../../../src/core/features.ts';
import { DEFAULT_POLICY } from '../../../src/core/judge.ts';
import { fitRules, rawCsvRows, ruleBucketPeaks, runRules } from '../../../lab/eval/baselines.ts';
import { DetectionEvaluator, type EvalSummary } from '../../../lab/eval/evaluator.ts';
import { EXPECTED_REASONS, familyOfReason, namesExpectedCause } from '../../../lab/eval/explanations.ts';
import { parseLabels } from '../../../lab/eval/labels.ts';
import { judgeEvents, judgeScored, scoreEvents } from '../../../lab/eval/offline.ts';
import { RAW_COUNT, RAW_NAMES, rawFields } from '../../../lab/eval/raw-fields.ts';
import { gridPolicies, rankCandidates, type Candidate } from '../../../lab/eval/tune.ts';
import { T0, ev, ordinaryTraffic } from '../../support/events.ts';
import { FakeScorer } from '../../support/fake-scorer.ts';

/** `n` requests of one agent, `gapMs` apart, with the given status. */
function burst(agentId: string, n: number, gapMs: number, status = 200, start = T0): AgentRequestEvent[] {
  return Array.from({ length: n }, (_, i) => ev({ eventId: `${agentId}-${start}-${i}`, ts: start + i * gapMs, agent: { id: agentId }, request: { status } }));
}

describe('static rules baseline', () => {
  it('leaky buckets: peak levels follow the request rate and the 4xx count', () => {
    const slow = burst('slow', 30, 10_000); // 6 per minute
    const fast = burst('fast', 120, 250); // 240 per minute for 30 s
    const errs = burst('errs', 20, 1_000, 404);
    const peaks = ruleBucketPeaks([...slow, ...fast, ...errs], { ratePerMin: 60, errorsPer10Min: 10 });
    expect(peaks.get('slow')!.rate).toBeLessThan(2);
    expect(peaks.get('fast')!.rate).toBeGreaterThan(60);
    expect(peaks.get('slow')!.errors).toBe(0);
    expect(peaks.get('errs')!.errors).toBeGreaterThan(10);
  });

  it('fits the smallest limits no benign agent exceeds (budget 0) and flags an agent over them', () => {
    const benign = [...burst('b1', 60, 2_000), ...burst('b2', 60, 1_500), ...burst('b3', 10, 5_000, 404)];
    const params = fitRules([{ events: benign, benign: () => true }], 0);
    const peaks = ruleBucketPeaks(benign, params);
    for (const p of peaks.values()) {
      expect(p.rate).toBeLessThanOrEqual(params.ratePerMin);
      expect(p.errors).toBeLessThanOrEqual(params.errorsPer10Min);
    }
    const labels = parseLabels(
      { agents: { b1: { malicious: false, scenario: 'x', attackStartTs: null }, m: { malicious: true, scenario: 'enumeration', attackStartTs: T0 + 5_000 } } },
      't',
    );
    const e = new DetectionEvaluator('static rules');
    e.beginStream('s', labels);
    runRules([...burst('b1', 60, 2_000), ...burst('m', 400, 100, 404)], params, e);
    const s = e.summary();
    expect(s.overall.detected).toBe(1);
    expect(s.overall.benignAgentsFlagged).toBe(0);
    expect(s.agents.find((a) => a.agentId === 'm')!.firstDetection!.band).toMatch(/restrict|block/);
  });
});

describe('raw-field baseline', () => {
  it('writes one value per raw field and per-event signals without history', () => {
    const out = new Float32Array(RAW_COUNT + 2).fill(-9);
    const s = rawFields(
      ev({
        request: { status: 403, bytesOut: 999, path: '/orders/123' },
        action: { name: 'payout.create', sensitivity: 'critical', amount: 99, requiredScope: 'payouts:write' },
      }),
      out,
      1,
    );
    expect(out[0]).toBe(-9);
    expect(out[RAW_COUNT + 1]).toBe(-9);
    const v = Object.fromEntries(RAW_NAMES.map((n, i) => [n, out[1 + i]!]));
    expect(v.forbidden).toBe(1);
    expect(v.sensitivity).toBe(3);
    expect(v.scope_violation).toBe(1);
    expect(v.privileged).toBe(1);
    expect(v.numeric_id).toBe(1);
    expect(v.log_bytes_out).toBeCloseTo(3, 5);
    expect(s).toMatchObject({ scopeViolation: true, forbidRatio: 1, authFailRatio: 0 });
  });

  it('exports CSV rows of the included events only', () => {
    const events = ordinaryTraffic('a', 5);
    const rows = rawCsvRows(events, (e) => e.eventId !== 'a-2');
    expect(rows).toHaveLength(4);
    expect(rows[0]!.split(',')).toHaveLength(3 + RAW_COUNT);
  });
});

describe('policy tuning', () => {
  function cand(label: string, detected: number, flagged: number, ttd: number, margin: number, worst = 1): Candidate {
    const summary = {
      overall: { detectionRate: detected / 10, falsePositiveRate: flagged / 400, benignAgentsFlagged: flagged, timeToDetectEvents: { median: ttd, p90: ttd } },
      perScenario: { a: { detectionRate: worst }, b: { detectionRate: 1 } },
    } as unknown as EvalSummary;
    return { policy: DEFAULT_POLICY, label, summary, benignMargin: margin };
  }

  it('keeps only candidates within the false-positive budget and ranks worst type, detection, false positives, time to detect, margin', () => {
    const ranked = rankCandidates([
      cand('fp-too-high', 10, 3, 2, 0.6),
      cand('slow', 10, 0, 9, 0.6),
      cand('fast', 10, 0, 4, 0.55),
      cand('fast-wide-margin', 10, 0, 4, 0.7),
      cand('misses', 9, 0, 1, 0.9),
      cand('worst-type', 10, 0, 1, 0.9, 0.5),
    ]);
    expect(ranked.map((c) => c.label)).toEqual(['fast-wide-margin', 'fast', 'slow', 'misses', 'worst-type']);
  });

  it('the grid varies only the evidence and the anomalous level', () => {
    const g = gridPolicies();
    expect(g.length).toBeGreaterThan(100);
    for (const { policy } of g) {
      expect(policy.bands).toEqual(DEFAULT_POLICY.bands);
      expect(policy.breaker).toEqual(DEFAULT_POLICY.breaker);
      expect(policy.caps).toEqual(DEFAULT_POLICY.caps);
    }
  });
});

describe('offline evaluation', () => {
  it('judgeScored and judgeEvents agree, and scoring calls the model once per batch of 1000', async () => {
    const events = [...ordinaryTraffic('a', 1_200, { seed: 3 }), ...ordinaryTraffic('b', 300, { seed: 4 })].sort((x, y) => x.ts - y.ts);
    const scorer = new FakeScorer();
    const scored = await scoreEvents(events, scorer);
    expect(scorer.calls).toEqual([1_000, 500]);
    const labels = parseLabels(
      { agents: { a: { malicious: false, scenario: 'x', attackStartTs: null }, b: { malicious: true, scenario: 'y', attackStartTs: T0 } } },
      't',
    );
    const e = new DetectionEvaluator();
    e.beginStream('s', labels);
    judgeScored(scored, DEFAULT_POLICY, e);
    const rows = judgeEvents(scored, DEFAULT_POLICY);
    const s = e.summary();
    expect(s.streams[0]!.events).toBe(1_500);
    const lowest = Math.min(...rows.filter((r) => r.agentId === 'a').map((r) => r.trust));
    expect(s.agents.find((a) => a.agentId === 'a')!.lowestTrust).toBe(lowest);
  });
});

describe('expected explanations', () => {
  it('cover every attack type with feature families that exist, and match reasons by family or hard-signal code', () => {
    const families = new Set(FEATURES.map((f) => f.family));
    for (const e of Object.values(EXPECTED_REASONS)) for (const f of e.families) expect(families.has(f)).toBe(true);
    expect(familyOfReason('sequential_id_enumeration')).toBe('routes');
    expect(familyOfReason('scope_violation')).toBe('authorization');
    expect(namesExpectedCause('enumeration', [{ code: 'error_ratio' }, { code: 'sequential_id_enumeration' }])).toBe(true);
    expect(namesExpectedCause('enumeration', [{ code: 'error_ratio' }])).toBe(false);
    expect(namesExpectedCause('credential_stuffing', [{ code: 'auth_failure' }])).toBe(true);
    expect(namesExpectedCause('low_and_slow', [{ code: 'bytes_out_drift' }])).toBe(true);
    expect(namesExpectedCause('unknown', [])).toBeNull();
  });
});
