/**
 * Hour-of-day intensity shapes. Each shape is normalised to a mean of 1 over 24 hours, so
 * `perDay × shape(h) / 24` is the hourly rate at local hour `h`.
 */

/** Named daily rhythms. */
export type DiurnalShape = 'consumer' | 'business' | 'personal' | 'flat' | 'ops';

function bump(h: number, centre: number, width: number): number {
  let dist = Math.abs(h - centre) % 24;
  if (dist > 12) dist = 24 - dist;
  return Math.exp(-(dist * dist) / (2 * width * width));
}

function raw(shape: DiurnalShape, h: number): number {
  switch (shape) {
    case 'consumer':
      return 0.12 + 0.3 * bump(h, 8.5, 1.5) + 0.55 * bump(h, 13, 2.5) + 1.0 * bump(h, 20.5, 2.2);
    case 'business':
      return 0.06 + 1.0 * bump(h, 10.5, 1.8) + 0.9 * bump(h, 15, 2.2);
    case 'personal':
      return 0.02 + 0.8 * bump(h, 8, 1.1) + 0.45 * bump(h, 12.5, 1.3) + 0.9 * bump(h, 20, 1.8);
    case 'flat':
      return 0.85 + 0.15 * bump(h, 14, 5);
    case 'ops':
      return 0.25 + 0.8 * bump(h, 11, 3) + 0.5 * bump(h, 2.5, 1);
  }
}

const SHAPES: readonly DiurnalShape[] = ['consumer', 'business', 'personal', 'flat', 'ops'];
const MEAN = new Map<DiurnalShape, number>();
const MAX = new Map<DiurnalShape, number>();
for (const s of SHAPES) {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < 288; i++) {
    const v = raw(s, i / 12);
    sum += v;
    if (v > max) max = v;
  }
  MEAN.set(s, sum / 288);
  MAX.set(s, max);
}

/** Relative intensity (mean 1 over a day) at a local hour in [0, 24). */
export function intensity(shape: DiurnalShape, localHour: number): number {
  return raw(shape, localHour) / MEAN.get(shape)!;
}

/** Maximum of {@link intensity} over the day. */
export function maxIntensity(shape: DiurnalShape): number {
  return MAX.get(shape)! / MEAN.get(shape)!;
}

/** Local hour in [0, 24) of an epoch-ms timestamp for a UTC offset in hours. */
export function localHour(ts: number, tzHours: number): number {
  const h = (ts / 3_600_000 + tzHours) % 24;
  return h < 0 ? h + 24 : h;
}
