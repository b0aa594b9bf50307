/**
 * Local wall-clock time in an IANA time zone, fast enough for `decide()`.
 *
 * `Intl.DateTimeFormat` (the engine's tz database, no dependency) gives the UTC offset of a
 * zone at an instant, but costs microseconds per call. A zone's offset only changes at its
 * transitions (DST, rule changes), and no zone has two transitions within one hour, so the
 * offset is computed once per zone and UTC hour: at both ends of the hour; when they differ
 * the transition instant inside it is found by bisection to the second. Every later instant
 * in that hour is answered with arithmetic. See docs/enforcers.md ("Context policy").
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Local calendar position of an instant in a zone. */
export type LocalTime = {
  /** Day of week, 0 = Sunday … 6 = Saturday. */
  dow: number;
  /** Minutes since local midnight, 0 … 1439. */
  minute: number;
};

export type ZoneClock = {
  readonly timeZone: string;
  /** UTC offset of the zone at `t`, ms (local = UTC + offset). */
  offsetAt(t: number): number;
  /** Day of week and minute of day at `t`, written into `out` (no allocation). */
  localTime(t: number, out: LocalTime): LocalTime;
};

/** Throws a RangeError naming the zone when the engine does not know it. */
export function assertTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-US', { timeZone });
}

/** A clock for one zone. The formatter and the per-hour cache are built once per zone. */
export function createZoneClock(timeZone: string): ZoneClock {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  /** Offset by Intl at an instant (whole seconds; the tz database has no finer offsets since 1972). */
  function exactOffset(t: number): number {
    const at = Math.floor(t / 1000) * 1000;
    let y = 0,
      mo = 0,
      d = 0,
      h = 0,
      mi = 0,
      s = 0;
    for (const p of fmt.formatToParts(at)) {
      switch (p.type) {
        case 'year':
          y = Number(p.value);
          break;
        case 'month':
          mo = Number(p.value);
          break;
        case 'day':
          d = Number(p.value);
          break;
        case 'hour':
          h = Number(p.value);
          break;
        case 'minute':
          mi = Number(p.value);
          break;
        case 'second':
          s = Number(p.value);
          break;
        default:
          break;
      }
    }
    return Date.UTC(y, mo - 1, d, h, mi, s) - at;
  }
  // Cache of the UTC hour [hourStart, hourStart + 1 h): offset before `switchAt`, and from it on.
  let hourStart = Number.NaN;
  let before = 0;
  let after = 0;
  let switchAt = 0;
  function fill(t: number): void {
    hourStart = Math.floor(t / HOUR_MS) * HOUR_MS;
    before = exactOffset(hourStart);
    after = exactOffset(hourStart + HOUR_MS);
    if (before === after) {
      switchAt = hourStart + HOUR_MS;
      return;
    }
    // One transition inside the hour: bisect to the second (12 steps).
    let lo = hourStart; // offset `before`
    let hi = hourStart + HOUR_MS; // offset `after`
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (exactOffset(mid) === before) lo = mid;
      else hi = mid;
    }
    switchAt = hi;
  }
  function offsetAt(t: number): number {
    if (!(t >= hourStart && t < hourStart + HOUR_MS)) fill(t);
    return t < switchAt ? before : after;
  }
  return {
    timeZone,
    offsetAt,
    localTime(t: number, out: LocalTime): LocalTime {
      const local = t + offsetAt(t);
      const day = Math.floor(local / DAY_MS);
      out.dow = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
      out.minute = Math.floor((local - day * DAY_MS) / 60_000);
      return out;
    },
  };
}
