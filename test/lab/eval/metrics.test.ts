import { describe, expect, it } from 'vitest';
import { DetectionEvaluator, isFlagged, type EvalRow } from '../../../lab/eval/evaluator.ts';
import { parseLabels, sidecarOf, type Labels } from '../../../lab/eval/labels.ts';
import { prAuc, quantile, rocAuc, round } from '../../../lab/eval/metrics.ts';
import { evalRowsOf } from '../../../lab/eval/replay-eval.ts';
import type { BatchOutputs } from '../../../src/outputs/sink.ts';

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, ½ for constant scores', () => {
    expect(rocAuc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBe(0.5);
  });

  it('equals the share of (positive, negative) pairs ranked correctly, ties counting ½', () => {
    const s = [0.3, 0.7, 0.7, 0.1, 0.5, 0.7, 0.2];
    const y = [1, 1, 0, 0, 0, 1, 1];
    let pairs = 0;
    let good = 0;
    for (let i = 0; i < s.length; i++)
      for (let j = 0; j < s.length; j++)
        if (y[i] && !y[j]) {
          pairs++;
          good += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
        }
    expect(rocAuc(s, y)).toBeCloseTo(good / pairs, 12);
  });

  it('does not depend on input order, and is NaN with one class only', () => {
    const s = [0.3, 0.7, 0.7, 0.1, 0.5];
    const y = [1, 1, 0, 0, 0];
    expect(rocAuc([...s].reverse(), [...y].reverse())).toBe(rocAuc(s, y));
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => rocAuc([1], [1, 0])).toThrow(RangeError);
  });
});

describe('prAuc (average precision)', () => {
  it('is 1 for a perfect ranking and the positive share for constant scores', () => {
    expect(prAuc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])).toBe(1);
    expect(prAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0])).toBe(0.25);
  });

  it('matches scikit-learn average_precision_score on a small case', () => {
    // sklearn.metrics.average_precision_score([1,0,1,1,0], [0.9,0.8,0.7,0.4,0.3]) = 0.8055555…
    expect(prAuc([0.9, 0.8, 0.7, 0.4, 0.3], [1, 0, 1, 1, 0])).toBeCloseTo(0.8055555555555556, 12);
    // ties are one threshold: ([1,0,1], [0.5,0.5,0.2]) → 1/2·1/2 + 1/2·2/3
    expect(prAuc([0.5, 0.5, 0.2], [1, 0, 1])).toBeCloseTo(0.5 * 0.5 + 0.5 * (2 / 3), 12);
    expect(prAuc([0.5], [0])).toBeNaN();
  });
});

describe('quantile and round', () => {
  it('interpolates linearly like numpy', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBeCloseTo(9.1, 12);
    expect(quantile([], 0.5)).toBeNaN();
  });
  it('maps non-finite to null', () => {
    expect(round(Number.NaN)).toBeNull();
    expect(round(0.123456)).toBe(0.1235);
  });
});

const LABELS: Labels = parseLabels(
  {
    set: 't',
    agents: {
      good: { malicious: false, scenario: 'shopping', attackStartTs: null, profile: 'shopping' },
      noisy: { malicious: false, scenario: 'shopping', attackStartTs: null, profile: 'shopping' },
      bad: { malicious: true, scenario: 'enumeration', attackStartTs: 10_000, profile: 'shopping' },
      missed: { malicious: true, scenario: 'exfiltration', attackStartTs: 5_000 },
    },
  },
  'test',
);

function row(agentId: string, ts: number, over: Partial<EvalRow> = {}): EvalRow {
  return { agentId, ts, anomaly: 0.1, trust: 0.9, band: 'trusted', circuit: 'closed', opened: false, ...over };
}

describe('DetectionEvaluator', () => {
  it('flags restrict/block bands and open circuits only', () => {
    expect(isFlagged('restrict', 'closed')).toBe(true);
    expect(isFlagged('block', 'closed')).toBe(true);
    expect(isFlagged('watch', 'open')).toBe(true);
    expect(isFlagged('watch', 'forced_open')).toBe(true);
    expect(isFlagged('watch', 'half_open')).toBe(false);
    expect(isFlagged('trusted', 'closed')).toBe(false);
  });

  it('detects at or after the attack start, counts events and seconds from it, and false positives per benign agent', () => {
    const e = new DetectionEvaluator();
    e.beginStream('a', LABELS);
    // bad: flagged BEFORE its attack (does not count as detection), then attack events from ts 10 000.
    e.add(row('bad', 1_000, { band: 'restrict', trust: 0.4 }));
    e.add(row('bad', 9_999));
    e.add(row('bad', 10_000, { anomaly: 0.6 }));
    e.add(row('bad', 12_500, { anomaly: 0.9, band: 'watch', circuit: 'open', opened: true, trust: 0.55, reasons: [{ code: 'sequential_id_enumeration' }] }));
    e.add(row('bad', 13_000, { anomaly: 0.95, band: 'block', circuit: 'open', trust: 0.1 }));
    e.add(row('good', 1_000));
    e.add(row('good', 2_000, { band: 'watch', anomaly: 0.3 }));
    e.add(row('noisy', 1_000, { band: 'restrict', anomaly: 0.5 }));
    e.add(row('noisy', 2_000));
    e.add(row('missed', 6_000, { anomaly: 0.2 }));
    e.add(row('stranger', 1_000, { anomaly: 0.99 })); // not in the labels: ignored
    const s = e.summary();
    const bad = s.agents.find((a) => a.agentId === 'bad')!;
    expect(bad).toMatchObject({ detected: true, events: 5, attackEvents: 3, flaggedBeforeAttack: true, lowestTrust: 0.1, circuitOpenings: 1 });
    expect(bad.firstDetection).toEqual({
      eventIndex: 4,
      eventsAfterStart: 2,
      secondsAfterStart: 2.5,
      band: 'watch',
      circuit: 'open',
      trust: 0.55,
      anomaly: 0.9,
      reasons: [{ code: 'sequential_id_enumeration' }],
    });
    expect(s.agents.find((a) => a.agentId === 'missed')).toMatchObject({ detected: false, firstDetection: null, attackEvents: 1 });
    expect(s.overall).toMatchObject({
      agents: 2,
      detected: 1,
      detectionRate: 0.5,
      benignAgents: 2,
      benignAgentsFlagged: 1,
      falsePositiveRate: 0.5,
      benignEvents: 4,
      benignEventsFlagged: 1,
      benignEventFlagRate: 0.25,
    });
    expect(s.overall.timeToDetectEvents).toEqual({ median: 2, p90: 2 });
    expect(s.overall.timeToDetectSeconds).toEqual({ median: 2.5, p90: 2.5 });
    expect(s.perScenario.enumeration).toMatchObject({ agents: 1, detected: 1, detectionRate: 1, attackEvents: 3 });
    expect(s.perScenario.exfiltration).toMatchObject({ agents: 1, detected: 0, detectionRate: 0, timeToDetectEvents: { median: null, p90: null } });
    expect(s.perBenignProfile.shopping).toEqual({ agents: 2, flagged: 1, falsePositiveRate: 0.5 });
    expect(s.streams).toEqual([{ name: 'a', agents: 4, events: 11, unlabelledAgents: 1 }]);
    // Ranking: 4 attack events (0.6, 0.9, 0.95, 0.2) vs 6 negatives (benign + pre-attack: 0.1 ×4, 0.3, 0.5).
    expect(s.overall.negativeEvents).toBe(6);
    expect(s.overall.rocAuc).toBeCloseTo((6 + 6 + 6 + 4) / 24, 4);
    expect(s.perScenario.exfiltration!.rocAuc).toBeCloseTo(4 / 6, 4);
  });

  it('keeps agents of different streams apart', () => {
    const e = new DetectionEvaluator();
    e.beginStream('a', LABELS);
    e.add(row('good', 1_000, { band: 'block' }));
    e.beginStream('b', LABELS);
    e.add(row('good', 1_000));
    const s = e.summary();
    expect(s.overall.benignAgents).toBe(2);
    expect(s.overall.benignAgentsFlagged).toBe(1);
  });
});

describe('labels', () => {
  it('finds the sidecar of plain and gzipped files', () => {
    expect(sidecarOf('fixtures/validation/validation-a.jsonl.gz')).toBe('fixtures/validation/validation-a.labels.json');
    expect(sidecarOf('x/demo.jsonl')).toBe('x/demo.labels.json');
  });
  it('rejects a malicious agent without an attack start', () => {
    expect(() => parseLabels({ agents: { x: { malicious: true, scenario: 's', attackStartTs: null } } }, 'src')).toThrow(
      /src: not a valid labels file: agents.x/,
    );
  });
});

describe('evalRowsOf', () => {
  it('marks rows whose circuit (re-)opened on that event', () => {
    const score = { eventId: 'e', ts: 1, anomaly: 0.9, trust: 0.2, band: 'block' as const, reasons: [] };
    const outputs = {
      trust: [],
      dlq: [],
      scores: [
        { ...score, agentId: 'a', seq: 1, circuit: 'closed' as const },
        { ...score, agentId: 'a', seq: 2, circuit: 'open' as const },
        { ...score, agentId: 'b', seq: 2, circuit: 'closed' as const },
      ],
      circuit: [{ agentId: 'a', seq: 2, state: 'open' }],
    } as unknown as BatchOutputs;
    expect(evalRowsOf(outputs).map((r) => r.opened)).toEqual([false, true, false]);
  });
});
