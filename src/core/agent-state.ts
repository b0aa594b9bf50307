/**
 * Per-agent state: the behavioural baseline, the trust state and the circuit breaker, in one
 * fixed-size binary record.
 *
 * Guarantees:
 * - Bounded: {@link STATE_BYTES} bytes whatever the agent does (sets are fixed-size hashes).
 * - The in-memory form IS the stored form: every field lives in a typed-array view over one
 *   buffer, so values are rounded to their stored precision at every step. Saving and loading
 *   are byte copies, and a restart between any two events cannot change any later output.
 */

/** 64-bit fields (times and counters that need integer precision). */
export const D = {
  /** Last applied source position (Kafka offset or file line); -1 = none. First on purpose: the CAS script reads it at byte 2. */
  watermark: 0,
  firstTs: 1,
  lastTs: 2,
  lastEmitTs: 3,
  circuitUntil: 4,
  seq: 5,
} as const;
const D_COUNT = 6;

/** 32-bit float fields. */
export const F = {
  rateFast: 0, // decayed event count, tau = 1 min
  rateSlow: 1, // decayed event count, tau = 1 h
  gapMean: 2, // EW mean of log10 inter-arrival seconds
  gapVar: 3,
  amountMean: 4, // EW mean of log10(1 + amount)
  amountVar: 5,
  amountN: 6,
  bytesMean: 7, // EW mean of log10(1 + bytesOut), alpha >= 0.03
  bytesVar: 8,
  bytesN: 9,
  volMid: 10, // EW mean of bytesOut (volume, not log), alpha >= 0.05
  volLong: 11, // EW mean of bytesOut, alpha >= 0.003 (drift reference)
  bytesMax: 12, // slowly decaying maximum of log10(1 + bytesOut)
  lastId: 13, // last numeric path id modulo 2^24 (exact in float32); -1 = none
  lastStride: 14, // id step between the last two requests to the same route (mod 2^24, signed)
  sensHigh: 15, // decaying high-water mark of the sensitivity level 0..3 the agent uses
  sensShareMid: 16, // EW share of high/critical actions, alpha >= 0.02
  sensShareLong: 17, // EW share of high/critical actions, alpha >= 0.003 (drift reference)
  sensRateFast: 18, // decayed count of high/critical actions, tau = 1 min
  sensRateSlow: 19, // tau = 1 h
  trust: 20,
  lastEmitTrust: 21,
  evidence: 22, // accumulated anomaly evidence in decades of rarity (a one-sided CUSUM, see judge.ts); intent falls as it grows
  sensDriftVar: 23, // EW variance of the agent's own sensitive-share drift (mid − long): how much it usually swings
  rateShiftMean: 24, // EW mean and variance of the agent's own log rate ratio (last minute vs usual): its usual swings
  rateShiftVar: 25,
  sensShiftMean: 26, // the same for the velocity of high/critical actions (sensitive_rate_shift)
  sensShiftVar: 27,
} as const;
const F_COUNT = 28;

/** 16-bit fields: hashes (0 = empty) and hash sets (recency ordered, most recent first). */
export const H = {
  routes: 0,
  routesLen: 10,
  homeNet: 10, // the agent's dominant network (heavy hitter, see `B.homeNetCount`)
  homeUa: 11,
  homeCountry: 12,
  purpose: 13,
  lastRoute: 14,
} as const;
const H_HASHES = 15;

/**
 * 16-bit shares in [0, 1], stored as round(x · 65535) in the same 16-bit region after the
 * hashes; read and written only through {@link getShare} / {@link setShare}.
 */
export const R = {
  errFast: 0, // EW share of error responses (4xx other than 401/403, 5xx), fast
  errSlow: 1,
  authFailFast: 2, // 401 or a credential that did not verify
  forbidFast: 3, // 403
  novelFast: 4, // share of requests to routes not in the route set
  novelSlow: 5,
  seqIdFast: 6, // share of requests whose numeric id continues the previous one's progression
  scopeViolFast: 7,
  privFast: 8, // share of requests to privileged surfaces (admin, credentials, payouts…)
  privSlow: 9,
  netOffFast: 10, // share of recent requests off the home network (country change counts double)
  netOffSlow: 11, // how often this agent is normally off its home network
  uaOffFast: 12, // share of recent requests whose user-agent family (digits ignored) is not the home one
} as const;
const R_COUNT = 13;
const H_COUNT = H_HASHES + R_COUNT;
const R_SCALE = 65_535;

/** 8-bit fields. */
export const B = {
  hours: 0, // 24 hour-of-day buckets, relative activity 0..255
  circuit: 24, // CircuitCode
  offences: 25,
  probes: 26, // remaining half-open probe budget
  lastEmitBand: 27, // BandCode + 1, 0 = never emitted
  lastEmitCircuit: 28,
  anomalyBits: 29, // u16 split over two bytes: last 16 events anomalous (bit 0 = most recent)
  anomalyBitsHi: 30,
  flags: 31, // bit 0: agent initialised
  homeNetCount: 32, // heavy-hitter counters of H.homeNet, H.homeUa, H.homeCountry
  homeUaCount: 33,
  homeCountryCount: 34,
  trustOffences: 35, // times trust fell into restrict or block (saturates at 255); slows the evidence's decay (judge.ts)
} as const;
const B_COUNT = 36;

const D_BYTES = D_COUNT * 8;
const F_BYTES = F_COUNT * 4;
const H_BYTES = H_COUNT * 2;
/** Size of one encoded agent state (the stored record adds one layout-version byte). */
export const STATE_BYTES = D_BYTES + F_BYTES + H_BYTES + B_COUNT;
/** Layout version, stored first in every saved record; bump on any layout change. */
export const STATE_LAYOUT_VERSION = 3;

/** A share field (see {@link R}) as a number in [0, 1]. */
export function getShare(s: AgentState, r: number): number {
  return s.h[H_HASHES + r]! / R_SCALE;
}

/** Stores a share rounded to its 16-bit precision (1/65535); values outside [0, 1] are clamped. */
export function setShare(s: AgentState, r: number, x: number): void {
  s.h[H_HASHES + r] = Math.round((x < 0 ? 0 : x > 1 ? 1 : x) * R_SCALE);
}

export type AgentState = {
  readonly buf: Uint8Array;
  readonly d: Float64Array;
  readonly f: Float32Array;
  readonly h: Uint16Array;
  readonly b: Uint8Array;
};

function views(buf: Uint8Array): AgentState {
  const ab = buf.buffer;
  const o = buf.byteOffset;
  return {
    buf,
    d: new Float64Array(ab, o, D_COUNT),
    f: new Float32Array(ab, o + D_BYTES, F_COUNT),
    h: new Uint16Array(ab, o + D_BYTES + F_BYTES, H_COUNT),
    b: new Uint8Array(ab, o + D_BYTES + F_BYTES + H_BYTES, B_COUNT),
  };
}

/** A fresh state for an agent never seen before (all zeros; `flags` bit 0 unset). */
export function newAgentState(): AgentState {
  const s = views(new Uint8Array(STATE_BYTES));
  s.d[D.watermark] = -1;
  return s;
}

/** Serialise: 1 layout-version byte + the record, as a fresh buffer. */
export function encodeState(s: AgentState): Buffer {
  const out = Buffer.allocUnsafe(STATE_BYTES + 1);
  out[0] = STATE_LAYOUT_VERSION;
  out.set(s.buf, 1);
  return out;
}

/** Deserialise a record written by {@link encodeState}; returns null for an unknown layout or size. */
export function decodeState(bytes: Uint8Array): AgentState | null {
  if (bytes.byteLength !== STATE_BYTES + 1 || bytes[0] !== STATE_LAYOUT_VERSION) return null;
  const copy = new Uint8Array(STATE_BYTES); // aligned copy: typed views need 8-byte alignment
  copy.set(bytes.subarray(1));
  return views(copy);
}

export function isInitialised(s: AgentState): boolean {
  return (s.b[B.flags]! & 1) === 1;
}

export function anomalyBits(s: AgentState): number {
  return s.b[B.anomalyBits]! | (s.b[B.anomalyBitsHi]! << 8);
}

export function setAnomalyBits(s: AgentState, bits: number): void {
  s.b[B.anomalyBits] = bits & 0xff;
  s.b[B.anomalyBitsHi] = (bits >> 8) & 0xff;
}
