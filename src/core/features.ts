/**
 * Feature extraction and baseline update — one pure step per event.
 *
 * `observe(state, event, ts, out, offset, ctx)` writes the event's feature vector (computed against
 * the agent's baseline BEFORE this event) into `out[offset … offset + FEATURE_COUNT)`, then
 * folds the event into the baseline (and, at the agent's reporting events, its profile into its
 * peer group's record, `ctx.peer`). It is the only feature code path: training exports
 * (`trustline features`), replay and the Kafka processor all call it (through src/core/step.ts).
 *
 * Features are relative to the agent's own baseline wherever that is meaningful (recent vs
 * long-run shares and rates, above its own maxima, off its home network and client family), so
 * the model learns what is unusual for an agent, not what is unusual for a route or a product —
 * and that baseline is shrunk toward the agent's PEER GROUP (peers.ts: empirical Bayes, Beta for
 * shares, Gamma–Poisson for the rate) while the agent has little evidence of its own, so a new
 * agent, or one abnormal from its first request, is judged against its peers. Three features
 * compare the agent with its peers directly. Drift and velocity are significances (standard
 * deviations of the window's sampling noise or of the agent's own past swings), not raw
 * differences. The design and its reasons: docs/detection.md.
 *
 * Cold start: the usual rate, error share and privileged share are posteriors shrunk toward the
 * peers; other running statistics use weight max(1/n, α), so a young agent's baseline is its own
 * running mean and its own "recent vs usual" drifts are 0 (both windows are updated before they
 * are compared); refusal ratios start from a prior of none; "above own maximum" features are
 * damped by n/(n+10); the home network and client are whatever the agent first used.
 * Deterministic: event time only, no randomness.
 *
 * Cost: no allocation per event beyond the returned Signals (hashes are computed over the
 * strings in place; ids are parsed without regexes); ~1.5 µs per event (`npm run eval -- perf`).
 */
import type { AgentRequestEvent } from '../contract/schemas.ts';
import { B, D, F, H, R, getShare, setShare, type AgentState } from './agent-state.ts';
import { Q, Q_COUNT, RATE_PRIOR_MINUTES, betaStrength, newPrior, priorOf, report, reportsAt, shareZ, shrinkShare, type PeerState } from './peers.ts';
import { DEFAULT_COMPILED_RULES, type CompiledRouteRules } from './routes.ts';

/** Bump when any feature's meaning changes; the model card must carry the same version. */
export const FEATURE_VERSION = 3;

/**
 * What an event is judged against besides the agent's own state: the route rules and the
 * agent's peer-group record (null: the fleet prior alone). `observe` folds the agent's profile
 * into `peer` at its reporting events (see peers.ts).
 */
export type ObserveContext = { rules: CompiledRouteRules; peer: PeerState | null };
const NO_CONTEXT: ObserveContext = { rules: DEFAULT_COMPILED_RULES, peer: null };

/**
 * How a feature relates to risk, for reasons: +1 high is risky, 0 context only. `family` groups
 * features by the kind of behaviour they describe (used by explanations and documented in
 * docs/evaluation.md).
 */
type FeatureSpec = { name: string; risk: 0 | 1; reason: string; family: FeatureFamily };
export type FeatureFamily =
  | 'rate'
  | 'rhythm'
  | 'routes'
  | 'errors'
  | 'auth'
  | 'authorization'
  | 'sensitivity'
  | 'drift'
  | 'amount'
  | 'bytes'
  | 'client'
  | 'identity'
  | 'purpose'
  | 'time'
  | 'peers';

/** Feature names in vector order (the model's input order). */
export const FEATURES: readonly FeatureSpec[] = [
  { name: 'rate_shift', risk: 1, reason: 'rate_above_baseline', family: 'rate' },
  { name: 'rate_level', risk: 0, reason: 'rate_level', family: 'rate' },
  { name: 'burstiness', risk: 1, reason: 'burst', family: 'rhythm' },
  { name: 'route_novelty', risk: 1, reason: 'new_routes', family: 'routes' },
  { name: 'route_novelty_shift', risk: 1, reason: 'route_mix_changed', family: 'routes' },
  { name: 'sequential_ids', risk: 1, reason: 'sequential_id_enumeration', family: 'routes' },
  { name: 'error_ratio', risk: 1, reason: 'error_ratio', family: 'errors' },
  { name: 'error_shift', risk: 1, reason: 'errors_above_baseline', family: 'errors' },
  { name: 'auth_failure_ratio', risk: 1, reason: 'auth_failures', family: 'auth' },
  { name: 'forbidden_ratio', risk: 1, reason: 'forbidden_responses', family: 'authorization' },
  { name: 'scope_violation', risk: 1, reason: 'scope_violation', family: 'authorization' },
  { name: 'sensitivity_above_usual', risk: 1, reason: 'sensitivity_above_usual', family: 'sensitivity' },
  { name: 'sensitive_rate_shift', risk: 1, reason: 'sensitive_action_velocity', family: 'sensitivity' },
  { name: 'sensitive_share_drift', risk: 1, reason: 'sensitive_share_drift', family: 'drift' },
  { name: 'amount_z', risk: 1, reason: 'amount_unusual', family: 'amount' },
  { name: 'bytes_out_z', risk: 1, reason: 'bytes_out_above_baseline', family: 'bytes' },
  { name: 'bytes_out_excess', risk: 1, reason: 'bytes_out_above_max', family: 'bytes' },
  { name: 'bytes_out_drift', risk: 1, reason: 'bytes_out_drift', family: 'bytes' },
  { name: 'network_change', risk: 1, reason: 'network_changed', family: 'client' },
  { name: 'user_agent_change', risk: 1, reason: 'user_agent_changed', family: 'client' },
  { name: 'client_change', risk: 1, reason: 'network_and_user_agent_changed', family: 'client' },
  { name: 'identity_strength', risk: 0, reason: 'identity_strength', family: 'identity' },
  { name: 'token_age', risk: 1, reason: 'token_age', family: 'identity' },
  { name: 'purpose_mismatch', risk: 1, reason: 'purpose_mismatch', family: 'purpose' },
  { name: 'off_hours', risk: 1, reason: 'off_hours', family: 'time' },
  { name: 'agent_age', risk: 0, reason: 'agent_age', family: 'time' },
  { name: 'rate_vs_peers', risk: 1, reason: 'rate_above_peers', family: 'peers' },
  { name: 'error_vs_peers', risk: 1, reason: 'errors_above_peers', family: 'peers' },
  { name: 'privileged_vs_peers', risk: 1, reason: 'privileged_above_peers', family: 'peers' },
];
export const FEATURE_NAMES: readonly string[] = FEATURES.map((f) => f.name);
export const FEATURE_COUNT = FEATURES.length;
const I = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, i])) as Record<string, number>;

/** Hard signals of the event itself, used by trust and the breaker beside the model score. */
export type Signals = {
  /** The action needs a scope the agent was not granted. */
  scopeViolation: boolean;
  /** A strong credential (signature, mTLS) was presented and failed to verify. */
  failedSignature: boolean;
  /** The request was refused for authentication (401) or the credential did not verify. */
  authFailure: boolean;
  /** Identity strength of this request, 0..1. */
  identity: number;
  /** The request touched a privileged surface (credentials, payouts, admin…). */
  privileged: boolean;
  /** Index of the route rule that made it privileged (routes.ts), -1 or absent when none (or when only its sensitivity did). */
  privilegedRule?: number;
  /** The declared purpose differs from the one the agent first declared. */
  purposeChanged?: boolean;
  /**
   * The comparisons behind the peer features, for explanations (absent from signals not built by
   * `observe`): the agent's usual rate (requests/min) and its long-run error and privileged
   * shares, each with the peer group's value.
   */
  peers?: { usualRate: number; peerRate: number; errShare: number; peerErrShare: number; privShare: number; peerPrivShare: number };
  /** Recent shares (including this event) of auth failures, scope violations and 403s — as of this event, not of later ones in the batch. */
  authFailRatio: number;
  scopeViolRatio: number;
  forbidRatio: number;
};

const IDENTITY_STRENGTH: Record<string, number> = { http_signature: 1, mtls: 0.85, oauth2: 0.65, api_key: 0.4, none: 0.1 };
const SENSITIVITY_LEVEL: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 };

const MIN = 60_000;
const HOUR = 3_600_000;
const A_FAST = 0.2;
const A_SLOW = 0.01;
/** Weight of the "mid" drift windows (~20 events) and of their long references (~330 events). */
const A_MID = 0.05;
const A_LONG = 0.003;
const PRIOR = { gapVar: 0.25, amountVar: 0.25, bytesVar: 0.25, errSlow: 0.03, novelSlow: 0.2 };
/** The sensitivity high-water mark: learnt fully over the first requests, then follows half of a rise, and decays one level per 500 requests. */
const SENS_HIGH_LEARN = 20;
const SENS_HIGH_FOLLOW = 0.5;
const SENS_HIGH_DECAY = 0.002;
/** Heavy-hitter counter cap of the home network / user agent / country: a lasting move takes over after at most this many requests. */
const HOME_CAP = 8;
/** bytesMax decays by this many decades per request, so an old one-off peak does not hide new ones forever. */
const BYTES_MAX_DECAY = 0.0005;
/** bytesMax takes a new peak fully during the first BYTES_MAX_LEARN responses, then BYTES_MAX_FOLLOW of the excess. */
const BYTES_MAX_LEARN = 20;
const BYTES_MAX_FOLLOW = 0.25;
/** Numeric ids are compared modulo 2^24 (exact in float32); strides are signed in (-2^23, 2^23]. */
const ID_MOD = 16_777_216;
/** Effective sample sizes of the EW windows (about (2 − α)/α events, fewer while the agent is younger). */
/** The sensitive-share drift window: ~100 requests (α 0.02), long enough that a sustained shift is significant while a chance swing over a few sessions is not. */
const A_SENS_MID = 0.02;
const N_SENS_MID = 99;
const N_SLOW = 199;
const N_LONG = 665;
/** The agent's own rate-ratio statistics: ~200 events, prior variance (0.2 decades)² worth 20 events. */
const A_RATE_SHIFT = 0.005;
const RATE_SHIFT_PRIOR_VAR = 0.04;
const RATE_SHIFT_PRIOR_N = 20;
/** Weight of the EW variance of the agent's own sensitive-share drift (~200 events, the same memory as the rate significances). */
const A_DRIFT_VAR = 0.005;

// Scratch buffers (no allocation per event; observe is synchronous).
const PRIOR_SCRATCH = newPrior();
const PROFILE_SCRATCH = new Float64Array(Q_COUNT);

/** FNV-1a folded to 16 bits, never 0 (0 marks an empty slot). */
export function hash16(s: string): number {
  return fold16(fnv(0x811c9dc5, s));
}

function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

function fold16(h: number): number {
  const v = ((h >>> 16) ^ h) & 0xffff;
  return v === 0 ? 1 : v;
}

/** hash16(`${a} ${b}`) without building the string. */
function hashPair(a: string, b: string): number {
  return fold16(fnv(Math.imul(fnv(0x811c9dc5, a) ^ 32, 0x01000193), b));
}

/** Position of `v` in the recency set, or -1; then moves/inserts it to the front (LRU eviction). */
function touch(set: Uint16Array, start: number, len: number, v: number): number {
  let pos = -1;
  for (let i = 0; i < len; i++) {
    if (set[start + i] === v) {
      pos = i;
      break;
    }
  }
  const from = pos === -1 ? len - 1 : pos;
  for (let i = from; i > 0; i--) set[start + i] = set[start + i - 1]!;
  set[start] = v;
  return pos;
}

/**
 * Heavy hitter of one slot (Misra–Gries with k = 1): returns whether `v` is the current home
 * value, then counts it for (up to HOME_CAP) or against the home; an empty or exhausted home is
 * replaced by `v`. A lasting change takes over within HOME_CAP requests; alternating between two
 * values keeps the more frequent one home.
 */
function home(s: AgentState, slot: number, count: number, v: number): boolean {
  const h = s.h;
  const b = s.b;
  if (h[slot] === v) {
    if (b[count]! < HOME_CAP) b[count] = b[count]! + 1;
    return true;
  }
  if (b[count]! <= 1) {
    h[slot] = v;
    b[count] = 1;
  } else b[count] = b[count]! - 1;
  return false;
}

function ew(old: number, x: number, a: number): number {
  return old + a * (x - old);
}

/** Updates a share field with weight `a` and returns its new (stored-precision) value. */
function ewShare(s: AgentState, r: number, x: number, a: number): number {
  setShare(s, r, ew(getShare(s, r), x, a));
  return getShare(s, r);
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** z-score against an EW mean/variance with a prior variance that fades as n grows. */
function zscore(x: number, mean: number, variance: number, n: number, priorVar: number): number {
  if (n < 1) return 0;
  return clamp((x - mean) / Math.sqrt(variance + priorVar / (1 + n) + 0.01), -8, 8);
}

/**
 * A log ratio as a significance against the agent's own past ratios: (x − own mean) / own sd, the
 * variance starting from RATE_SHIFT_PRIOR_VAR worth RATE_SHIFT_PRIOR_N events; then the mean and
 * variance learn x robustly (a deviation beyond 3 sd counts as 3 sd), weight max(1/n, A_RATE_SHIFT).
 */
function selfSignificance(s: AgentState, meanF: number, varF: number, x: number, n: number): number {
  const f = s.f;
  const mean = f[meanF]!;
  const v = (n * f[varF]! + RATE_SHIFT_PRIOR_N * RATE_SHIFT_PRIOR_VAR) / (n + RATE_SHIFT_PRIOR_N);
  const sd = Math.sqrt(v);
  const z = (x - (n > 1 ? mean : 0)) / sd;
  const a = Math.max(1 / n, A_RATE_SHIFT);
  const d = clamp(x - mean, -3 * sd, 3 * sd);
  f[meanF] = mean + a * d;
  f[varF] = (1 - a) * (f[varF]! + a * d * d);
  return z;
}

/** EW mean/variance update (West's weighted Welford), weight max(1/n, α). */
function welford(s: AgentState, meanF: number, varF: number, x: number, n: number): void {
  const a = Math.max(1 / n, A_SLOW * 3);
  const d = x - s.f[meanF]!;
  s.f[meanF] = s.f[meanF]! + a * d;
  s.f[varF] = (1 - a) * (s.f[varF]! + a * d * d);
}

/**
 * Hash of a user agent's family: the string without its digits, so a version bump
 * ("AcmeBot/4.0.1" → "AcmeBot/4.1.0") is the same client and another product is not.
 */
function uaFamilyHash(ua: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ua.length; i++) {
    const c = ua.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    h ^= c;
    h = Math.imul(h, 0x01000193);
  }
  return fold16(h);
}

/**
 * Hash of the request's network: the ASN when given, else the /24 of an IPv4 address or the
 * first three groups of an IPv6 address; 0 when unknown. No allocation.
 */
function networkHash(ev: AgentRequestEvent): number {
  const r = ev.request;
  if (r.asn !== undefined) return fold16(Math.imul(0x811c9dc5 ^ (r.asn | 0), 0x01000193) ^ Math.floor(r.asn / 4_294_967_296));
  const ip = r.ip;
  if (!ip) return 0;
  const v6 = ip.includes(':');
  const sep = v6 ? 58 : 46; // ':' or '.'
  let seen = 0;
  let end = ip.length;
  for (let i = 0; i < ip.length; i++) {
    if (ip.charCodeAt(i) === sep && ++seen === 3) {
      end = i;
      break;
    }
  }
  let h = 0x811c9dc5 ^ (v6 ? 6 : 4);
  for (let i = 0; i < end; i++) {
    h ^= ip.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fold16(h);
}

/**
 * The last numeric path segment (1–15 digits between `/` and `/`, `?`, `#` or the end) modulo
 * 2^24, or -1 when there is none. No regex, no allocation.
 */
function lastNumericId(path: string | undefined): number {
  if (!path) return -1;
  let last = -1;
  const n = path.length;
  let i = 0;
  while (i < n) {
    const c = path.charCodeAt(i);
    if (c === 63 || c === 35) break; // '?' or '#': the path ends
    if (c === 47) {
      // '/': read the digits after it
      let j = i + 1;
      let v = 0;
      while (j < n) {
        const d = path.charCodeAt(j) - 48;
        if (d < 0 || d > 9) break;
        v = (v * 10 + d) % ID_MOD;
        j++;
      }
      const digits = j - i - 1;
      if (digits >= 1 && digits <= 15) {
        const e = j < n ? path.charCodeAt(j) : 47;
        if (e === 47 || e === 63 || e === 35) last = v;
      }
      i = j;
    } else i++;
  }
  return last;
}

/**
 * Compute the feature vector of `ev` against the baseline in `s`, write it to `out` at
 * `offset`, then update the baseline. `ts` is the event time already clamped forward
 * (never before the agent's last event).
 */
export function observe(s: AgentState, ev: AgentRequestEvent, ts: number, out: Float32Array, offset: number, ctx: ObserveContext = NO_CONTEXT): Signals {
  const f = s.f;
  const prior = priorOf(ctx.peer, PRIOR_SCRATCH);
  const first = (s.b[B.flags]! & 1) === 0;
  const n = s.d[D.seq]! + 1; // events including this one
  if (first) {
    s.d[D.firstTs] = ts;
    s.d[D.lastTs] = ts;
    f[F.lastId] = -1;
    setShare(s, R.errSlow, PRIOR.errSlow);
    setShare(s, R.novelSlow, PRIOR.novelSlow);
    s.b[B.flags] = s.b[B.flags]! | 1;
  }
  const req = ev.request;
  const action = ev.action;
  const auth = ev.agent.auth;
  const dt = ts - s.d[D.lastTs]!;

  // Rates: decayed counts over event time.
  const rateFast = f[F.rateFast]! * Math.exp(-dt / MIN) + 1;
  const rateSlow = f[F.rateSlow]! * Math.exp(-dt / HOUR) + 1;
  const ageMs = Math.min(Math.max(ts - s.d[D.firstTs]!, MIN), HOUR);
  const perMinFast = rateFast; // events in the last ~minute
  // The usual rate, Gamma–Poisson: the last hour's count over its exposure, with the peers'
  // typical rate as a prior worth RATE_PRIOR_MINUTES of exposure — a new agent is compared with
  // its peers, an old one with itself.
  const peerRate = 10 ** prior.mean[Q.logRate]! - 1;
  const exposureMin = Math.min(ts - s.d[D.firstTs]!, HOUR) / MIN;
  const usualRate = (rateSlow + peerRate * RATE_PRIOR_MINUTES) / (exposureMin + RATE_PRIOR_MINUTES);
  f[F.rateFast] = rateFast;
  f[F.rateSlow] = rateSlow;
  // Rate shift as a significance: the log ratio of the last minute's rate to the usual one,
  // against the agent's own past ratios (mean and variance, learnt robustly), so an agent that
  // works in bursts — a nightly sync, a crawler's sessions — does not flag on a burst like the ones
  // it has always made, while a steady agent's sudden burst stands out. The variance starts from
  // RATE_SHIFT_PRIOR_VAR worth RATE_SHIFT_PRIOR_N events.
  const rateShift = selfSignificance(s, F.rateShiftMean, F.rateShiftVar, Math.log10((perMinFast + 1) / (usualRate + 1)), n);

  // Inter-arrival (log10 seconds) against the agent's usual rhythm.
  const gapN = n - 1;
  const logGap = Math.log10(Math.max(dt, 1) / 1000 + 0.001);
  const burst = gapN >= 2 ? -zscore(logGap, f[F.gapMean]!, f[F.gapVar]!, gapN - 1, PRIOR.gapVar) : 0; // gapN - 1 gaps seen before this one
  if (!first) welford(s, F.gapMean, F.gapVar, logGap, gapN);

  // Route novelty and id enumeration (steps of 1–3, or the same step as last time).
  const routeHash = hashPair(req.method, req.route);
  const routePos = touch(s.h, H.routes, H.routesLen, routeHash);
  const aFast = Math.max(1 / n, A_FAST);
  const aSlow = Math.max(1 / n, A_SLOW);
  const aLong = Math.max(1 / n, A_LONG);
  const novel = routePos === -1 ? 1 : 0;
  const novelFast = ewShare(s, R.novelFast, novel, aFast);
  const novelShift = novelFast - ewShare(s, R.novelSlow, novel, aSlow);
  const id = lastNumericId(req.path);
  const prevId = f[F.lastId]!;
  let stride = 0;
  if (id >= 0 && prevId >= 0 && s.h[H.lastRoute] === routeHash) {
    stride = (id - prevId + ID_MOD) % ID_MOD;
    if (stride > ID_MOD / 2) stride -= ID_MOD;
  }
  const sequential = stride !== 0 && ((stride >= -3 && stride <= 3) || (stride === f[F.lastStride] && stride >= -1000 && stride <= 1000)) ? 1 : 0;
  const seqIds = ewShare(s, R.seqIdFast, sequential, A_FAST);
  if (id >= 0) {
    f[F.lastId] = id;
    f[F.lastStride] = stride;
  }
  s.h[H.lastRoute] = routeHash;

  // Response classes. Throttling, timeouts and server errors (429, 408, 5xx) are transient: a
  // legitimate client meets them in outages and retries them, so they are not client errors and
  // their retries are not counted as new sensitive actions.
  const status = req.status;
  const transient = status === 429 || status === 408 || status >= 500;
  const authFailure = status === 401 || (!auth.verified && auth.method !== 'none');
  const forbidden = status === 403;
  // A miss on a path clients fetch on their own (favicon, touch icon, robots.txt: routes.ts) is not an error.
  const error =
    !authFailure && !forbidden && !transient && status >= 400 && !(status === 404 || status === 410 ? ctx.rules.benignMiss(req.path ?? req.route) : false)
      ? 1
      : 0;
  const errFast = ewShare(s, R.errFast, error, aFast);
  const errSlow = ewShare(s, R.errSlow, error, aSlow);
  // Against the usual error share shrunk toward the peers' (Beta prior): a new agent's errors are judged against its peers'.
  const mErr = betaStrength(prior.mean[Q.errShare]!, prior.variance[Q.errShare]!);
  const errPost = shrinkShare(errSlow, Math.min(n, N_SLOW), prior.mean[Q.errShare]!, mErr);
  const errShift = errFast - errPost;
  // Refusals start from a prior of none (fixed weight, no 1/n): a new agent's first 401 or 403 is
  // one refusal in five, not "all of its requests refused".
  const authFailRatio = ewShare(s, R.authFailFast, authFailure ? 1 : 0, A_FAST);
  const forbidRatio = ewShare(s, R.forbidFast, forbidden ? 1 : 0, A_FAST);

  // Authorization: scopes and sensitivity.
  const required = action?.requiredScope;
  // Judged only when the gateway reports a credential's grants: an unauthenticated request (method
  // none) has no scopes to violate — a public endpoint that lists a scope is not an intrusion.
  const scopeViolation = required !== undefined && auth.method !== 'none' && !(auth.scopes !== undefined && auth.scopes.includes(required));
  const scopeViolRatio = ewShare(s, R.scopeViolFast, scopeViolation ? 1 : 0, A_FAST);
  const level = action?.sensitivity !== undefined ? SENSITIVITY_LEVEL[action.sensitivity]! : 0;
  // Above the most sensitive level the agent uses (a slowly decaying high-water mark, learnt fully
  // while young): an occasional payment by an agent that pays is its repertoire, not an escalation.
  const sensGap = level - f[F.sensHigh]!;
  const sensAbove = sensGap > 0 ? (sensGap * (n - 1)) / (n + 9) : 0;
  f[F.sensHigh] = sensGap > 0 ? f[F.sensHigh]! + (n <= SENS_HIGH_LEARN ? sensGap : SENS_HIGH_FOLLOW * sensGap) : Math.max(0, f[F.sensHigh]! - SENS_HIGH_DECAY);
  const sensitive = level >= 2 && !transient ? 1 : 0;
  const sensFast = f[F.sensRateFast]! * Math.exp(-dt / MIN) + sensitive;
  const sensSlow = f[F.sensRateSlow]! * Math.exp(-dt / HOUR) + sensitive;
  // +1: one sensitive action is not a velocity; as a significance against the agent's own past (see rate_shift).
  const sensShift = selfSignificance(s, F.sensShiftMean, F.sensShiftVar, Math.log10((sensFast + 1) / ((sensSlow / ageMs) * MIN + 1)), n);
  f[F.sensRateFast] = sensFast;
  f[F.sensRateSlow] = sensSlow;
  // Drift: the recent (~20 requests) share of high/critical actions against the long-run share,
  // as a significance — the drift over its standard deviation, the larger of the binomial
  // sampling deviation of the recent window around the long-run share (shrunk toward the peers')
  // and the agent's own past swings — so a swing of the size the agent has shown before does not
  // stand out. Both windows include this event, so while the agent is young (weights 1/n) they
  // agree and the drift is 0.
  f[F.sensShareMid] = ew(f[F.sensShareMid]!, sensitive, Math.max(1 / n, A_SENS_MID));
  f[F.sensShareLong] = ew(f[F.sensShareLong]!, sensitive, aLong);
  const drift = f[F.sensShareMid]! - f[F.sensShareLong]!;
  const mSens = betaStrength(prior.mean[Q.sensShare]!, prior.variance[Q.sensShare]!);
  const pLong = shrinkShare(f[F.sensShareLong]!, Math.min(n, N_LONG), prior.mean[Q.sensShare]!, mSens);
  const driftVar = Math.max((pLong * (1 - pLong)) / Math.min(n, N_SENS_MID), f[F.sensDriftVar]!);
  const sensDrift = drift / Math.sqrt(driftVar + 1e-4);
  // The agent's own swings, learnt slowly and robustly: a drift beyond 3 standard deviations counts
  // as 3, so a sustained shift (low and slow) cannot quickly redefine what a usual swing is.
  f[F.sensDriftVar] = ew(f[F.sensDriftVar]!, Math.min(drift * drift, 9 * driftVar), Math.max(1 / n, A_DRIFT_VAR));

  // Amount and bytes out against the agent's own distribution.
  let amountZ = 0;
  if (action?.amount !== undefined) {
    const x = Math.log10(1 + action.amount);
    const an = f[F.amountN]! + 1;
    amountZ = Math.abs(zscore(x, f[F.amountMean]!, f[F.amountVar]!, an - 1, PRIOR.amountVar));
    f[F.amountN] = Math.min(an, 1e6);
    welford(s, F.amountMean, F.amountVar, x, an);
  }
  let bytesZ = 0;
  let bytesExcess = 0;
  let bytesDrift = 0;
  if (req.bytesOut !== undefined) {
    const x = Math.log10(1 + req.bytesOut);
    const bn = f[F.bytesN]! + 1;
    bytesZ = zscore(x, f[F.bytesMean]!, f[F.bytesVar]!, bn - 1, PRIOR.bytesVar);
    // Above the agent's own (slowly decaying) maximum, in decades, trusted as the count grows.
    // The maximum follows a new peak fully while the agent is young, then only by a quarter per
    // request, so repeated outsized responses keep standing out instead of raising the bar at once.
    const excess = bn > 1 ? x - f[F.bytesMax]! : 0;
    if (excess > 0) bytesExcess = (excess * (bn - 1)) / (bn + 9);
    f[F.bytesMax] =
      bn === 1 ? x : excess > 0 ? f[F.bytesMax]! + (bn <= BYTES_MAX_LEARN ? excess : BYTES_MAX_FOLLOW * excess) : f[F.bytesMax]! - BYTES_MAX_DECAY;
    f[F.bytesN] = Math.min(bn, 1e6);
    welford(s, F.bytesMean, F.bytesVar, x, bn);
    // Drift of the egress VOLUME: recent (~20 responses) mean bytes against the long-run mean, in decades.
    const b = req.bytesOut;
    f[F.volMid] = ew(f[F.volMid]!, b, Math.max(1 / bn, A_MID));
    f[F.volLong] = ew(f[F.volLong]!, b, Math.max(1 / bn, A_LONG));
    bytesDrift = Math.log10((f[F.volMid]! + 1000) / (f[F.volLong]! + 1000));
  }

  // Network, country and user agent against the agent's home ones (heavy hitters).
  let netOff = 0;
  const net = networkHash(ev);
  if (net !== 0) {
    const atHome = home(s, H.homeNet, B.homeNetCount, net);
    const countryHome = req.country ? home(s, H.homeCountry, B.homeCountryCount, hash16(req.country)) : true;
    netOff = first || atHome ? 0 : countryHome ? 0.5 : 1;
    ewShare(s, R.netOffSlow, netOff, aSlow);
  }
  const netOffFast = ewShare(s, R.netOffFast, netOff, A_FAST);
  let uaOff = 0;
  if (ev.agent.userAgent !== undefined) {
    uaOff = home(s, H.homeUa, B.homeUaCount, uaFamilyHash(ev.agent.userAgent)) || first ? 0 : 1;
  }
  const uaOffFast = ewShare(s, R.uaOffFast, uaOff, A_FAST);
  const networkChange = netOffFast * clamp(1 - 2 * getShare(s, R.netOffSlow), 0, 1);

  // Identity.
  const identity = auth.verified ? (IDENTITY_STRENGTH[auth.method] ?? 0) : 0;
  const failedSignature = !auth.verified && (auth.method === 'http_signature' || auth.method === 'mtls');

  // Purpose: privileged surfaces (route rules, routes.ts) the agent does not normally touch — its
  // usual privileged share shrunk toward its peers', so an agent that goes for the admin pages from
  // its first request is not its own normal — or a changed declared purpose.
  const privilegedRule = ctx.rules.privileged(req.route, action?.name);
  const privileged = level === 3 || privilegedRule >= 0;
  const privFast = ew(getShare(s, R.privFast), privileged ? 1 : 0, aFast);
  const mPriv = betaStrength(prior.mean[Q.privShare]!, prior.variance[Q.privShare]!);
  const privUsual = shrinkShare(getShare(s, R.privSlow), Math.min(n - 1, N_SLOW), prior.mean[Q.privShare]!, mPriv);
  let purposeMismatch = privileged ? clamp(1 - 3 * privUsual, 0, 1) * privFast : 0;
  let purposeChanged = false;
  if (ev.agent.purpose !== undefined) {
    const p = hash16(ev.agent.purpose);
    if (s.h[H.purpose] === 0) s.h[H.purpose] = p;
    else if (s.h[H.purpose] !== p) {
      purposeMismatch = 1;
      purposeChanged = true;
    }
  }
  setShare(s, R.privFast, privFast);
  const privSlow = ewShare(s, R.privSlow, privileged ? 1 : 0, aSlow);

  // Hour-of-day profile (UTC): relative activity per hour, halved when a bucket saturates.
  const hour = Math.floor((ts % 86_400_000) / HOUR);
  const hours = s.b;
  let maxHour = 0;
  for (let i = 0; i < 24; i++) if (hours[B.hours + i]! > maxHour) maxHour = hours[B.hours + i]!;
  const offHours = n > 50 && maxHour > 0 ? 1 - hours[B.hours + hour]! / maxHour : 0;
  if (hours[B.hours + hour]! > 247) for (let i = 0; i < 24; i++) hours[B.hours + i] = hours[B.hours + i]! >> 1;
  hours[B.hours + hour] = hours[B.hours + hour]! + 8;

  const tokenAge = auth.tokenAgeS !== undefined ? clamp(Math.log10(1 + auth.tokenAgeS) / 6, 0, 1) : 0;

  // Against the peers: the agent's usual rate and its long-run error and privileged shares
  // (posterior means, so a young agent's few requests move them only as far as they are
  // evidence), in standard deviations of the peer group's distribution, weighted by how much
  // the group has seen (peers.ts).
  const c = prior.confidence;
  const rateVsPeers = (c * (Math.log10(1 + usualRate) - prior.mean[Q.logRate]!)) / Math.sqrt(prior.variance[Q.logRate]! + 0.01);
  const errVsPeers = c * shareZ(errPost, prior.mean[Q.errShare]!, mErr);
  const privPost = shrinkShare(privSlow, Math.min(n, N_SLOW), prior.mean[Q.privShare]!, mPriv);
  const privVsPeers = c * shareZ(privPost, prior.mean[Q.privShare]!, mPriv);
  if (ctx.peer !== null && reportsAt(n)) {
    const pr = PROFILE_SCRATCH;
    pr[Q.logRate] = Math.log10(1 + usualRate); // the agent's usual rate, as rate_vs_peers compares it
    pr[Q.errShare] = errSlow;
    pr[Q.privShare] = privSlow;
    pr[Q.sensShare] = f[F.sensShareLong]!;
    report(ctx.peer, pr);
  }

  out[offset + I.rate_shift!] = rateShift;
  out[offset + I.rate_level!] = Math.log10(1 + perMinFast);
  out[offset + I.burstiness!] = burst;
  out[offset + I.route_novelty!] = novelFast;
  out[offset + I.route_novelty_shift!] = novelShift;
  out[offset + I.sequential_ids!] = seqIds;
  out[offset + I.error_ratio!] = errFast;
  out[offset + I.error_shift!] = errShift;
  out[offset + I.auth_failure_ratio!] = authFailRatio;
  out[offset + I.forbidden_ratio!] = forbidRatio;
  out[offset + I.scope_violation!] = scopeViolRatio;
  out[offset + I.sensitivity_above_usual!] = sensAbove;
  out[offset + I.sensitive_rate_shift!] = sensShift;
  out[offset + I.sensitive_share_drift!] = sensDrift;
  out[offset + I.amount_z!] = amountZ;
  out[offset + I.bytes_out_z!] = bytesZ;
  out[offset + I.bytes_out_excess!] = bytesExcess;
  out[offset + I.bytes_out_drift!] = bytesDrift;
  out[offset + I.network_change!] = networkChange;
  out[offset + I.user_agent_change!] = uaOffFast;
  out[offset + I.client_change!] = Math.sqrt(networkChange * uaOffFast);
  out[offset + I.identity_strength!] = identity;
  out[offset + I.token_age!] = tokenAge;
  out[offset + I.purpose_mismatch!] = purposeMismatch;
  out[offset + I.off_hours!] = offHours;
  out[offset + I.agent_age!] = clamp(Math.log10(1 + n) / 3, 0, 1);
  out[offset + I.rate_vs_peers!] = rateVsPeers;
  out[offset + I.error_vs_peers!] = errVsPeers;
  out[offset + I.privileged_vs_peers!] = privVsPeers;

  s.d[D.lastTs] = ts;
  s.d[D.seq] = n;
  return {
    scopeViolation,
    failedSignature,
    authFailure,
    identity,
    privileged,
    privilegedRule,
    purposeChanged,
    peers: { usualRate, peerRate, errShare: errPost, peerErrShare: prior.mean[Q.errShare]!, privShare: privPost, peerPrivShare: prior.mean[Q.privShare]! },
    authFailRatio,
    scopeViolRatio,
    forbidRatio,
  };
}
