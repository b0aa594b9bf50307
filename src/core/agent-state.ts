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
  lastId: 5,
  seq: 6,
} as const;
const D_COUNT = 7;

/** 32-bit float fields. */
export const F = {
  rateFast: 0, // decayed event count, tau = 1 min
  rateSlow: 1, // decayed event count, tau = 1 h
  gapMean: 2, // EW mean of log10 inter-arrival seconds
  gapVar: 3,
  amountMean: 4, // EW mean of log10(1 + amount)
  amountVar: 5,
  amountN: 6,
  bytesMean: 7, // EW mean of log10(1 + bytesOut)
  bytesVar: 8,
  bytesN: 9,
  errFast: 10, // EW share of error responses (4xx other than 401/403, 5xx), fast
  errSlow: 11,
  authFailFast: 12, // 401 or unverified credential
  authFailSlow: 13,
  forbidFast: 14, // 403
  forbidSlow: 15,
  novelFast: 16, // share of requests to routes not in the route set
  novelSlow: 17,
  seqIdFast: 18, // share of requests whose numeric id follows the previous one
  scopeViolFast: 19,
  sensMean: 20, // EW mean of sensitivity level 0..3
  privFast: 21, // share of requests to privileged surfaces (admin, credentials, payouts…)
  privSlow: 22,
  sensRateFast: 23, // decayed count of high/critical actions, tau = 1 min
  sensRateSlow: 24, // tau = 1 h
  netNovelSlow: 25, // how often this agent normally changes network
  netChangeFast: 26, // share of recent requests from a network other than the last one
  uaChangeFast: 27, // share of recent requests with a user agent other than the last one
  trust: 28,
  lastEmitTrust: 29,
  anomalyFast: 30, // fast-rising, slowly decaying anomaly level; intent = 1 - anomalyFast
} as const;
const F_COUNT = 31;

/** 16-bit hash sets (recency ordered, most recent first; 0 = empty slot). */
export const H = {
  routes: 0,
  routesLen: 10,
  nets: 10,
  netsLen: 3,
  uas: 13,
  uasLen: 2,
  countries: 15,
  countriesLen: 2,
  purpose: 17,
  lastRoute: 18,
} as const;
const H_COUNT = 19;

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
} as const;
const B_COUNT = 32;

const D_BYTES = D_COUNT * 8;
const F_BYTES = F_COUNT * 4;
const H_BYTES = H_COUNT * 2;
/** Size of one encoded agent state. */
export const STATE_BYTES = D_BYTES + F_BYTES + H_BYTES + B_COUNT;
/** Layout version, stored first in every saved record; bump on any layout change. */
export const STATE_LAYOUT_VERSION = 1;

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
