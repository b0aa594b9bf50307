/**
 * Feature extraction and baseline update — one pure step per event.
 *
 * `observe(state, event, ts, out, offset)` writes the event's feature vector (computed against
 * the agent's baseline BEFORE this event) into `out[offset … offset + FEATURE_COUNT)`, then
 * folds the event into the baseline. It is the only feature code path: training exports
 * (`trustline features`), replay and the Kafka processor all call it.
 *
 * Cold start: every running statistic uses weight max(1/n, α), so a young agent's baseline is
 * its own running mean and "fast vs slow" shifts stay near zero; slow statistics start from
 * fleet priors. Deterministic: event time only, no randomness.
 */
import type { AgentRequestEvent } from '../contract/schemas.ts';
import { B, D, F, H, type AgentState } from './agent-state.ts';

/** Bump when any feature's meaning changes; the model card must carry the same version. */
export const FEATURE_VERSION = 1;

/** How a feature relates to risk, for reasons: +1 high is risky, 0 context only. */
type FeatureSpec = { name: string; risk: 0 | 1; reason: string };

/** Feature names in vector order (the model's input order). */
export const FEATURES: readonly FeatureSpec[] = [
  { name: 'rate_shift', risk: 1, reason: 'rate_above_baseline' },
  { name: 'rate_level', risk: 0, reason: 'rate_level' },
  { name: 'burstiness', risk: 1, reason: 'burst' },
  { name: 'route_novelty', risk: 1, reason: 'new_routes' },
  { name: 'route_novelty_shift', risk: 1, reason: 'route_mix_changed' },
  { name: 'sequential_ids', risk: 1, reason: 'sequential_id_enumeration' },
  { name: 'error_ratio', risk: 1, reason: 'error_ratio' },
  { name: 'error_shift', risk: 1, reason: 'errors_above_baseline' },
  { name: 'auth_failure_ratio', risk: 1, reason: 'auth_failures' },
  { name: 'forbidden_ratio', risk: 1, reason: 'forbidden_responses' },
  { name: 'scope_violation', risk: 1, reason: 'scope_violation' },
  { name: 'sensitivity_above_usual', risk: 1, reason: 'sensitivity_above_usual' },
  { name: 'sensitive_rate_shift', risk: 1, reason: 'sensitive_action_velocity' },
  { name: 'amount_z', risk: 1, reason: 'amount_unusual' },
  { name: 'bytes_out_z', risk: 1, reason: 'bytes_out_above_baseline' },
  { name: 'network_change', risk: 1, reason: 'network_changed' },
  { name: 'user_agent_change', risk: 1, reason: 'user_agent_changed' },
  { name: 'identity_strength', risk: 0, reason: 'identity_strength' },
  { name: 'token_age', risk: 1, reason: 'token_age' },
  { name: 'purpose_mismatch', risk: 1, reason: 'purpose_mismatch' },
  { name: 'off_hours', risk: 1, reason: 'off_hours' },
  { name: 'agent_age', risk: 0, reason: 'agent_age' },
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
  /** Recent shares (including this event) of auth failures, scope violations and 403s — as of this event, not of later ones in the batch. */
  authFailRatio: number;
  scopeViolRatio: number;
  forbidRatio: number;
};

const IDENTITY_STRENGTH: Record<string, number> = { http_signature: 1, mtls: 0.85, oauth2: 0.65, api_key: 0.4, none: 0.1 };
const SENSITIVITY_LEVEL: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 };
/** Privileged surfaces, by words in the route or action name — generic, not per purpose. */
const PRIVILEGED = /admin|passw|credential|secret|payout|withdraw|bank|iban|role|permission|privilege|api[-_]?key|token|mfa|2fa|sudo|impersonat|security|owner|delete[-_]?account/i;

const MIN = 60_000;
const HOUR = 3_600_000;
const A_FAST = 0.2;
const A_SLOW = 0.01;
const PRIOR = { gapVar: 0.25, amountVar: 0.25, bytesVar: 0.25, errSlow: 0.03, novelSlow: 0.2, sensMean: 0.5 };

/** FNV-1a folded to 16 bits, never 0 (0 marks an empty slot). */
export function hash16(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  const v = ((h >>> 16) ^ h) & 0xffff;
  return v === 0 ? 1 : v;
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

function ew(old: number, x: number, a: number): number {
  return old + a * (x - old);
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** z-score against an EW mean/variance with a prior variance that fades as n grows. */
function zscore(x: number, mean: number, variance: number, n: number, priorVar: number): number {
  if (n < 1) return 0;
  return clamp((x - mean) / Math.sqrt(variance + priorVar / (1 + n) + 0.01), -8, 8);
}

/** EW mean/variance update (West's weighted Welford), weight max(1/n, α). */
function welford(s: AgentState, meanF: number, varF: number, x: number, n: number): void {
  const a = Math.max(1 / n, A_SLOW * 3);
  const d = x - s.f[meanF]!;
  s.f[meanF] = s.f[meanF]! + a * d;
  s.f[varF] = (1 - a) * (s.f[varF]! + a * d * d);
}

function networkOf(ev: AgentRequestEvent): string | null {
  const r = ev.request;
  if (r.asn !== undefined) return `as${r.asn}`;
  if (!r.ip) return null;
  if (r.ip.includes(':')) return r.ip.split(':').slice(0, 3).join(':');
  return r.ip.split('.').slice(0, 3).join('.');
}

const NUMERIC_SEGMENT = /\/(\d{1,15})(?:[/?#]|$)/g;
function lastNumericId(path: string | undefined): number {
  if (!path) return -1;
  let last = -1;
  for (const m of path.matchAll(NUMERIC_SEGMENT)) last = Number(m[1]);
  return last;
}

/**
 * Compute the feature vector of `ev` against the baseline in `s`, write it to `out` at
 * `offset`, then update the baseline. `ts` is the event time already clamped forward
 * (never before the agent's last event).
 */
export function observe(s: AgentState, ev: AgentRequestEvent, ts: number, out: Float32Array, offset: number): Signals {
  const f = s.f;
  const first = (s.b[B.flags]! & 1) === 0;
  const n = s.d[D.seq]! + 1; // events including this one
  if (first) {
    s.d[D.firstTs] = ts;
    s.d[D.lastTs] = ts;
    s.d[D.lastId] = -1;
    f[F.errSlow] = PRIOR.errSlow;
    f[F.novelSlow] = PRIOR.novelSlow;
    f[F.sensMean] = PRIOR.sensMean;
    s.b[B.flags] = s.b[B.flags]! | 1;
  }
  const req = ev.request;
  const action = ev.action;
  const auth = ev.agent.auth;
  const dt = ts - s.d[D.lastTs]!;

  // Rates: decayed counts over event time.
  const rateFast = f[F.rateFast]! * Math.exp(-dt / MIN) + 1;
  const rateSlow = f[F.rateSlow]! * Math.exp(-dt / HOUR) + 1;
  const ageMs = Math.max(ts - s.d[D.firstTs]!, MIN);
  const perMinFast = rateFast; // events in the last ~minute
  const perMinSlow = (rateSlow / Math.min(ageMs, HOUR)) * MIN; // average events per minute over the last ~hour
  f[F.rateFast] = rateFast;
  f[F.rateSlow] = rateSlow;

  // Inter-arrival (log10 seconds) against the agent's usual rhythm.
  const gapN = n - 1;
  const logGap = Math.log10(Math.max(dt, 1) / 1000 + 0.001);
  const burst = gapN >= 2 ? -zscore(logGap, f[F.gapMean]!, f[F.gapVar]!, gapN - 1, PRIOR.gapVar) : 0; // gapN - 1 gaps seen before this one
  if (!first) welford(s, F.gapMean, F.gapVar, logGap, gapN);

  // Route novelty and sequential ids.
  const routeKey = `${req.method} ${req.route}`;
  const routeHash = hash16(routeKey);
  const routePos = touch(s.h, H.routes, H.routesLen, routeHash);
  const aFast = Math.max(1 / n, A_FAST);
  const aSlow = Math.max(1 / n, A_SLOW);
  const novel = routePos === -1 ? 1 : 0;
  const novelFast = ew(f[F.novelFast]!, novel, aFast);
  f[F.novelFast] = novelFast;
  f[F.novelSlow] = ew(f[F.novelSlow]!, novel, aSlow);
  const novelShift = novelFast - f[F.novelSlow]!;
  const id = lastNumericId(req.path);
  const prevId = s.d[D.lastId]!;
  const stepsFromLast = id >= 0 && prevId >= 0 ? Math.abs(id - prevId) : 0;
  const sequential = id >= 0 && prevId >= 0 && stepsFromLast >= 1 && stepsFromLast <= 3 && s.h[H.lastRoute] === routeHash ? 1 : 0;
  f[F.seqIdFast] = ew(f[F.seqIdFast]!, sequential, A_FAST);
  if (id >= 0) s.d[D.lastId] = id;
  s.h[H.lastRoute] = routeHash;

  // Response classes.
  const status = req.status;
  const authFailure = status === 401 || (!auth.verified && auth.method !== 'none');
  const forbidden = status === 403;
  const error = !authFailure && !forbidden && status >= 400 ? 1 : 0;
  const errFast = ew(f[F.errFast]!, error, aFast);
  f[F.errFast] = errFast;
  f[F.errSlow] = ew(f[F.errSlow]!, error, aSlow);
  const errShift = errFast - f[F.errSlow]!;
  f[F.authFailFast] = ew(f[F.authFailFast]!, authFailure ? 1 : 0, aFast);
  f[F.authFailSlow] = ew(f[F.authFailSlow]!, authFailure ? 1 : 0, aSlow);
  f[F.forbidFast] = ew(f[F.forbidFast]!, forbidden ? 1 : 0, aFast);
  f[F.forbidSlow] = ew(f[F.forbidSlow]!, forbidden ? 1 : 0, aSlow);

  // Authorization: scopes and sensitivity.
  const required = action?.requiredScope;
  const scopeViolation = required !== undefined && !(auth.scopes ?? []).includes(required);
  f[F.scopeViolFast] = ew(f[F.scopeViolFast]!, scopeViolation ? 1 : 0, aFast);
  const level = action?.sensitivity !== undefined ? SENSITIVITY_LEVEL[action.sensitivity]! : 0;
  const sensAbove = Math.max(0, level - f[F.sensMean]!);
  f[F.sensMean] = ew(f[F.sensMean]!, level, aSlow);
  const sensitive = level >= 2 ? 1 : 0;
  const sensFast = f[F.sensRateFast]! * Math.exp(-dt / MIN) + sensitive;
  const sensSlow = f[F.sensRateSlow]! * Math.exp(-dt / HOUR) + sensitive;
  const sensShift = Math.log10((sensFast + 0.5) / ((sensSlow / Math.min(ageMs, HOUR)) * MIN + 0.5));
  f[F.sensRateFast] = sensFast;
  f[F.sensRateSlow] = sensSlow;

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
  if (req.bytesOut !== undefined) {
    const x = Math.log10(1 + req.bytesOut);
    const bn = f[F.bytesN]! + 1;
    bytesZ = zscore(x, f[F.bytesMean]!, f[F.bytesVar]!, bn - 1, PRIOR.bytesVar);
    f[F.bytesN] = Math.min(bn, 1e6);
    welford(s, F.bytesMean, F.bytesVar, x, bn);
  }

  // Network and user agent: new, or switching between known ones.
  let netChange = 0;
  const net = networkOf(ev);
  if (net !== null) {
    const pos = touch(s.h, H.nets, H.netsLen, hash16(net));
    const countryPos = req.country ? touch(s.h, H.countries, H.countriesLen, hash16(req.country)) : 0;
    netChange = first ? 0 : pos === -1 ? (countryPos === -1 ? 1 : 0.5) : pos > 0 ? 0.25 : 0;
    f[F.netNovelSlow] = ew(f[F.netNovelSlow]!, pos === -1 && !first ? 1 : 0, aSlow);
  }
  const netChangeFast = ew(f[F.netChangeFast]!, netChange, A_FAST);
  f[F.netChangeFast] = netChangeFast;
  let uaChange = 0;
  if (ev.agent.userAgent !== undefined) {
    const pos = touch(s.h, H.uas, H.uasLen, hash16(ev.agent.userAgent));
    uaChange = first ? 0 : pos === -1 ? 1 : pos > 0 ? 0.5 : 0;
  }
  const uaChangeFast = ew(f[F.uaChangeFast]!, uaChange, A_FAST);
  f[F.uaChangeFast] = uaChangeFast;

  // Identity.
  const identity = auth.verified ? (IDENTITY_STRENGTH[auth.method] ?? 0) : 0;
  const failedSignature = !auth.verified && (auth.method === 'http_signature' || auth.method === 'mtls');

  // Purpose: privileged surfaces the agent does not normally touch, or a changed declared purpose.
  const privileged = PRIVILEGED.test(req.route) || (action?.name !== undefined && PRIVILEGED.test(action.name)) || level === 3;
  const privFast = ew(f[F.privFast]!, privileged ? 1 : 0, aFast);
  let purposeMismatch = privileged ? clamp(1 - 3 * f[F.privSlow]!, 0, 1) * privFast : 0;
  if (ev.agent.purpose !== undefined) {
    const p = hash16(ev.agent.purpose);
    if (s.h[H.purpose] === 0) s.h[H.purpose] = p;
    else if (s.h[H.purpose] !== p) purposeMismatch = 1;
  }
  f[F.privFast] = privFast;
  f[F.privSlow] = ew(f[F.privSlow]!, privileged ? 1 : 0, aSlow);

  // Hour-of-day profile (UTC): relative activity per hour, halved when a bucket saturates.
  const hour = Math.floor((ts % 86_400_000) / HOUR);
  const hours = s.b;
  let maxHour = 0;
  for (let i = 0; i < 24; i++) if (hours[B.hours + i]! > maxHour) maxHour = hours[B.hours + i]!;
  const offHours = n > 50 && maxHour > 0 ? 1 - hours[B.hours + hour]! / maxHour : 0;
  if (hours[B.hours + hour]! > 247) for (let i = 0; i < 24; i++) hours[B.hours + i] = hours[B.hours + i]! >> 1;
  hours[B.hours + hour] = hours[B.hours + hour]! + 8;

  const tokenAge = auth.tokenAgeS !== undefined ? clamp(Math.log10(1 + auth.tokenAgeS) / 6, 0, 1) : 0;

  out[offset + I.rate_shift!] = Math.log10((perMinFast + 1) / (perMinSlow + 1));
  out[offset + I.rate_level!] = Math.log10(1 + perMinFast);
  out[offset + I.burstiness!] = burst;
  out[offset + I.route_novelty!] = novelFast;
  out[offset + I.route_novelty_shift!] = novelShift;
  out[offset + I.sequential_ids!] = f[F.seqIdFast]!;
  out[offset + I.error_ratio!] = errFast;
  out[offset + I.error_shift!] = errShift;
  out[offset + I.auth_failure_ratio!] = f[F.authFailFast]!;
  out[offset + I.forbidden_ratio!] = f[F.forbidFast]!;
  out[offset + I.scope_violation!] = f[F.scopeViolFast]!;
  out[offset + I.sensitivity_above_usual!] = sensAbove;
  out[offset + I.sensitive_rate_shift!] = sensShift;
  out[offset + I.amount_z!] = amountZ;
  out[offset + I.bytes_out_z!] = bytesZ;
  out[offset + I.network_change!] = netChangeFast * clamp(1 - 2 * f[F.netNovelSlow]!, 0, 1);
  out[offset + I.user_agent_change!] = uaChangeFast;
  out[offset + I.identity_strength!] = identity;
  out[offset + I.token_age!] = tokenAge;
  out[offset + I.purpose_mismatch!] = purposeMismatch;
  out[offset + I.off_hours!] = offHours;
  out[offset + I.agent_age!] = clamp(Math.log10(1 + n) / 3, 0, 1);

  s.d[D.lastTs] = ts;
  s.d[D.seq] = n;
  return {
    scopeViolation,
    failedSignature,
    authFailure,
    identity,
    privileged,
    authFailRatio: f[F.authFailFast]!,
    scopeViolRatio: f[F.scopeViolFast]!,
    forbidRatio: f[F.forbidFast]!,
  };
}
