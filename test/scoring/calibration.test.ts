import { describe, expect, it } from 'vitest';
import { ANOMALY_DECADES, calibrate, calibrateAll, calibrationProblems, type Calibration } from '../../src/scoring/calibration.ts';
import { rng as prng } from '../support/prng.ts';

/** Knots chosen so the reference probabilities sit on round raw scores. */
const REF: Calibration = {
  method: 'empirical_tail',
  rows: 1_000_000,
  probabilities: [0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1],
  scores: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
};

/** A random valid calibration: increasing probabilities in (0,1), non-decreasing scores with ties. */
function randomCalibration(rand: () => number): Calibration {
  const k = 2 + Math.floor(rand() * 14);
  const inner = Array.from({ length: k - 2 }, () => rand()).sort((a, b) => a - b);
  const probabilities = [0, ...inner.filter((p, i) => p > 0 && p < 1 && (i === 0 || p > inner[i - 1]!)), 1];
  const scores: number[] = [];
  let s = rand();
  for (let i = 0; i < probabilities.length; i++) {
    if (i > 0 && rand() > 0.15) s += rand() * 0.1; // ~15% ties
    scores.push(s);
  }
  const rows = [1, 10, 999, 5000, 50_000, 10_000_000][Math.floor(rand() * 6)]!;
  return { method: 'empirical_tail', rows, probabilities, scores };
}

describe('calibrate', () => {
  it('maps the reference tail probabilities to 0.25 / 0.5 / 0.75 / 1', () => {
    expect(calibrate(0.5, REF)).toBeCloseTo(0.25, 12); // p = .9
    expect(calibrate(0.6, REF)).toBeCloseTo(0.5, 12); // p = .99
    expect(calibrate(0.7, REF)).toBeCloseTo(0.75, 12); // p = .999
    expect(calibrate(0.8, REF)).toBe(1); // p = .9999
    expect(calibrate(0.85, REF)).toBe(1);
    expect(calibrate(0.9, REF)).toBe(1);
    expect(ANOMALY_DECADES).toBe(4);
  });

  it('is 0 at and below the training minimum, and -log10(1 - p)/4 in between', () => {
    expect(calibrate(0.3, REF)).toBe(0);
    expect(calibrate(0.1, REF)).toBe(0);
    expect(calibrate(-5, REF)).toBe(0);
    expect(calibrate(0.4, REF)).toBeCloseTo(-Math.log10(0.5) / 4, 12);
    // Linear in p between knots: halfway between .9 and .99 is p = .945.
    expect(calibrate(0.55, REF)).toBeCloseTo(-Math.log10(1 - 0.945) / 4, 12);
  });

  it('fails closed on NaN and saturates at +Infinity', () => {
    expect(calibrate(Number.NaN, REF)).toBe(1);
    expect(calibrate(Number.POSITIVE_INFINITY, REF)).toBe(1);
    expect(calibrate(Number.NEGATIVE_INFINITY, REF)).toBe(0);
  });

  it('caps the empirical CDF at N/(N+1) and extrapolates smoothly to 1 beyond the training maximum', () => {
    // 999 training rows: the maximum is "1 in 1000", i.e. anomaly 0.75, not 1.
    const small: Calibration = { method: 'empirical_tail', rows: 999, probabilities: [0, 0.5, 0.9, 0.99, 1], scores: [0.3, 0.4, 0.5, 0.6, 0.7] };
    expect(calibrate(0.7, small)).toBeCloseTo(Math.log10(1000) / 4, 12);
    // Continuous at the maximum…
    expect(Math.abs(calibrate(0.7 + 1e-12, small) - calibrate(0.7, small))).toBeLessThan(1e-9);
    expect(Math.abs(calibrate(0.7 - 1e-12, small) - calibrate(0.7, small))).toBeLessThan(1e-9);
    // …then linear in -log10(1 - p) with the last segment's slope (0.99 → 999/1000 over 0.1 raw):
    const slope = (Math.log10(1000) - 2) / 0.1;
    expect(calibrate(0.75, small)).toBeCloseTo((Math.log10(1000) + slope * 0.05) / 4, 12);
    // …reaching 1 where L = 4.
    const at1 = 0.7 + (4 - Math.log10(1000)) / slope;
    expect(calibrate(at1 - 1e-6, small)).toBeLessThan(1);
    expect(calibrate(at1 + 1e-9, small)).toBe(1);
  });

  it('jumps to 1 above the maximum when no tail slope can be determined', () => {
    const flat: Calibration = { method: 'empirical_tail', rows: 10, probabilities: [0, 1], scores: [0.5, 0.5] };
    expect(calibrate(0.4, flat)).toBe(0);
    expect(calibrate(0.5, flat)).toBeCloseTo(Math.log10(11) / 4, 12);
    expect(calibrate(0.5000001, flat)).toBe(1);
  });

  it('is monotone non-decreasing in raw and stays in [0, 1] (seeded random calibrations)', () => {
    const rand = prng(42);
    for (let c = 0; c < 300; c++) {
      const cal = randomCalibration(rand);
      const lo = cal.scores[0]! - 0.2;
      const hi = cal.scores[cal.scores.length - 1]! + 0.5;
      const raws = [...cal.scores, ...cal.scores.map((s) => s - 1e-12), ...cal.scores.map((s) => s + 1e-12)];
      for (let i = 0; i < 200; i++) raws.push(lo + rand() * (hi - lo));
      raws.sort((a, b) => a - b);
      let prev = -1;
      for (const r of raws) {
        const a = calibrate(r, cal);
        if (!(a >= 0 && a <= 1)) throw new Error(`out of bounds: calibrate(${r}) = ${a} for ${JSON.stringify(cal)}`);
        if (a < prev) throw new Error(`not monotone: calibrate(${r}) = ${a} < ${prev} for ${JSON.stringify(cal)}`);
        prev = a;
      }
    }
  });

  it('calibrateAll applies calibrate element-wise, in place when asked', () => {
    const raw = Float32Array.from([0.2, 0.5, 0.6, 0.95]);
    const out = calibrateAll(raw, REF);
    expect(Array.from(out)).toEqual(Array.from(raw, (r) => Math.fround(calibrate(r, REF))));
    const same = calibrateAll(raw, REF, raw);
    expect(same).toBe(raw);
    expect(() => calibrateAll(raw, REF, new Float32Array(1))).toThrow(RangeError);
  });

  it('rejects invalid calibration blocks with the reason', () => {
    const bad: Calibration[] = [
      { ...REF, probabilities: [0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1] },
      { ...REF, probabilities: [0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999] },
      { ...REF, probabilities: [0, 0.9, 0.5, 0.99, 0.999, 0.9999, 1] },
      { ...REF, scores: [0.3, 0.4, 0.5, 0.45, 0.7, 0.8, 0.9] },
      { ...REF, scores: [0.3, 0.4] },
      { ...REF, rows: 0 },
      { ...REF, scores: [0.3, 0.4, 0.5, Number.NaN, 0.7, 0.8, 0.9] },
    ];
    for (const c of bad) {
      expect(calibrationProblems(c).length).toBeGreaterThan(0);
      expect(() => calibrate(0.5, c)).toThrow(/invalid calibration/);
    }
    expect(calibrationProblems(REF)).toEqual([]);
  });
});
