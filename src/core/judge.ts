/**
 * Trust and circuit breaker — one pure step per event, after the event has been scored.
 *
 * Trust = base × intent, capped by hard signals. The base (0.55–1) is what an agent that behaves
 * as usual earns from its identity strength and its authorization record (scope violations,
 * 403s); intent multiplies it down as anomaly evidence accumulates, so how much evidence puts an
 * agent into restrict or block hardly depends on how it authenticates. Intent falls with the
 * agent's accumulated anomaly EVIDENCE: each event adds how far its calibrated rarity exceeds a
 * reference (a one-sided CUSUM in "nines" of rarity, see {@link Policy.evidence}).
 *
 * Recovery is bounded by evidence (docs/detection.md): the evidence decays per EVENT (each
 * ordinary request the agent makes is evidence that it behaves again), and only slowly over
 * idle event time, so an attacker that pauses between bursts does not come back trusted a few
 * minutes later. Every time trust falls into restrict or block counts as a trust offence, and
 * each offence halves the speed of that decay (the trust counterpart of the breaker's doubling
 * cooldown). Trust falls at once and climbs back toward its target by a fixed fraction per
 * event.
 *
 * The breaker opens at once on `block`, or on k-of-n anomalous events (hard signals — failed
 * signature, scope violation — count as anomalous) CORROBORATED by trust: trust is in restrict
 * or block (hard signals cap it there), or the accumulated evidence has reached the level at
 * which it alone takes a fully trusted agent out of `watch` ({@link corroboratingEvidence}). A short run of odd events that trust has
 * weighed and discounted therefore never cuts an agent off, while a run that is rare enough to
 * matter does, within the same events. The circuit stays open for a cooldown that doubles with
 * each offence, then lets a probe budget through half-open before closing. Forced states change
 * only by operator control. DEFAULT_POLICY: docs/detection.md explains where each value comes from.
 */
import type { Band, CircuitState, Reason } from '../contract/schemas.ts';
import { B, D, F, anomalyBits, setAnomalyBits, type AgentState } from './agent-state.ts';
import type { Signals } from './features.ts';

export type Policy = {
  /** How much a weak identity and a poor authorization record (each 0..1) lower the base: base = 1 − identity·(1 − id) − authorization·(1 − authz). */
  weights: { identity: number; authorization: number };
  /** Lower bounds of the bands, trust ≥ value. */
  bands: { trusted: number; watch: number; restrict: number };
  /**
   * Anomaly evidence E, in decades of rarity ("nines"): with L = 4 · anomaly (the event's
   * calibrated rarity, −log10 of its tail probability among benign training events, capped at 4)
   * and o the agent's trust offences,
   * E ← min(max, E · (perEvent · exp(−dt / tauMs))^(1 / 2^o) + max(0, L − ref)); intent = exp(−E / scale).
   * `perEvent` is the decay per request (recovery by evidence), `tauMs` the much slower forgetting
   * over idle event time.
   */
  evidence: { ref: number; perEvent: number; tauMs: number; max: number; scale: number };
  /** Trust climbs back toward its target by 1/`recoverEvents` of the gap per event (falls at once). */
  recoverEvents: number;
  /** An event counts as anomalous for the breaker at or above this calibrated anomaly. */
  anomalousAt: number;
  /**
   * k-of-n anomalous events open the circuit only when trust is below `bands.watch` or the evidence
   * is at least `corroborate` (see {@link corroboratingEvidence}); `block` opens it regardless.
   */
  breaker: { k: number; n: number; corroborate: number; baseCooldownMs: number; maxCooldownMs: number; probeBudget: number };
  caps: { failedSignature: number; scopeViolation: number };
  emit: { delta: number; heartbeatMs: number };
};

export const DEFAULT_POLICY: Policy = {
  weights: { identity: 0.15, authorization: 0.3 },
  bands: { trusted: 0.7, watch: 0.5, restrict: 0.3 },
  evidence: { ref: 2.5, perEvent: 0.95, tauMs: 3_600_000, max: 30, scale: 8 },
  recoverEvents: 5,
  anomalousAt: 0.85,
  breaker: { k: 4, n: 10, corroborate: 8 * Math.LN2, baseCooldownMs: 60_000, maxCooldownMs: 3_600_000, probeBudget: 5 },
  caps: { failedSignature: 0.25, scopeViolation: 0.45 },
  emit: { delta: 0.05, heartbeatMs: 60_000 },
};

export const CIRCUIT_CODES: readonly CircuitState[] = ['closed', 'open', 'half_open', 'forced_open', 'forced_closed'];
export const BAND_CODES: readonly Band[] = ['trusted', 'watch', 'restrict', 'block'];

export type Judgement = {
  trust: number;
  band: Band;
  components: { identity: number; intent: number; authorization: number };
  circuit: CircuitState;
  /** Set when the circuit changed on this event. */
  circuitChange: { previous: CircuitState; state: CircuitState; until?: number; probeBudget?: number } | null;
  /** A TrustUpdate is due (band or circuit changed, trust moved by more than the delta, heartbeat, first event). */
  emitTrust: boolean;
  offences: number;
};

export function bandOf(trust: number, p: Policy): Band {
  if (trust >= p.bands.trusted) return 'trusted';
  if (trust >= p.bands.watch) return 'watch';
  if (trust >= p.bands.restrict) return 'restrict';
  return 'block';
}

function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}

/**
 * The evidence at which intent alone takes a fully trusted agent (base 1) out of `watch`:
 * scale · ln(1 / bands.watch) — 8 · ln 2 ≈ 5.5 with the default policy, the level every attack
 * of the evaluation reaches within its first events. Use it as `breaker.corroborate`.
 */
export function corroboratingEvidence(p: Pick<Policy, 'evidence' | 'bands'>): number {
  return p.evidence.scale * Math.log(1 / p.bands.watch);
}

/** Round for output: stable text, no float noise. */
export function r4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** When an open circuit may turn half-open: the cooldown doubles with each offence, up to the maximum. */
export function cooldownUntil(ts: number, offences: number, p: Policy): number {
  return ts + Math.min(p.breaker.baseCooldownMs * 2 ** (offences - 1), p.breaker.maxCooldownMs);
}

/**
 * Apply one scored event to the agent's trust and breaker state. `dt` is the event-time gap
 * since the agent's previous event (0 for the first).
 */
export function judge(s: AgentState, signals: Signals, anomaly: number, ts: number, dt: number, first: boolean, p: Policy): Judgement {
  const f = s.f;
  // Intent: anomaly evidence accumulates (one-sided CUSUM over rarity) and decays per event and,
  // slowly, over idle event time; each trust offence halves the speed of that decay.
  const ev = p.evidence;
  const trustOffences = s.b[B.trustOffences]!;
  const decay = (ev.perEvent * Math.exp(-dt / ev.tauMs)) ** (1 / 2 ** Math.min(trustOffences, 16));
  const prevE = first ? 0 : f[F.evidence]!;
  f[F.evidence] = Math.min(ev.max, prevE * decay + Math.max(0, 4 * anomaly - ev.ref));
  const E = f[F.evidence]!;
  const intent = Math.exp(-E / ev.scale);
  const identity = signals.identity * (1 - signals.authFailRatio);
  const authorization = Math.max(0, 1 - 1.2 * Math.max(signals.scopeViolRatio, signals.forbidRatio));
  let target = (1 - p.weights.identity * (1 - identity) - p.weights.authorization * (1 - authorization)) * intent;
  if (signals.failedSignature) target = Math.min(target, p.caps.failedSignature);
  if (signals.scopeViolation) target = Math.min(target, p.caps.scopeViolation);
  const prevTrust = f[F.trust]!;
  f[F.trust] = first || target <= prevTrust ? target : prevTrust + (target - prevTrust) / p.recoverEvents;
  const trust = f[F.trust]!;
  const band = bandOf(trust, p);
  // A trust offence: falling into restrict or block from above.
  if (trust < p.bands.watch && (first || prevTrust >= p.bands.watch)) s.b[B.trustOffences] = Math.min(trustOffences + 1, 255);

  // Breaker.
  const flagged = anomaly >= p.anomalousAt || signals.failedSignature || signals.scopeViolation;
  const bits = ((anomalyBits(s) << 1) | (flagged ? 1 : 0)) & 0xffff;
  setAnomalyBits(s, bits);
  const previous = CIRCUIT_CODES[s.b[B.circuit]!]!;
  let state = previous;
  let offences = s.b[B.offences]!;
  let opened = false;
  const open = (): void => {
    offences = Math.min(offences + 1, 255);
    state = 'open';
    opened = true;
    s.d[D.circuitUntil] = cooldownUntil(ts, offences, p);
  };
  const bad = flagged || band === 'block';
  if (previous === 'closed') {
    const run = popcount(bits & ((1 << p.breaker.n) - 1)) >= p.breaker.k;
    const corroborated = trust < p.bands.watch || E >= p.breaker.corroborate;
    if (band === 'block' || (run && corroborated)) open();
  } else if (previous === 'open') {
    // The first event after the cooldown decides: a bad one re-opens with a longer cooldown,
    // a clean one turns the circuit half-open with the full probe budget still to come.
    if (ts >= s.d[D.circuitUntil]!) {
      if (bad) open();
      else {
        state = 'half_open';
        s.b[B.probes] = p.breaker.probeBudget;
      }
    }
  } else if (previous === 'half_open') {
    if (bad) open();
    else {
      s.b[B.probes] = Math.max(0, s.b[B.probes]! - 1);
      if (s.b[B.probes] === 0) {
        state = 'closed';
        setAnomalyBits(s, 0);
      }
    }
  }
  s.b[B.circuit] = CIRCUIT_CODES.indexOf(state);
  s.b[B.offences] = offences;
  // A re-opening (open → open with a later `until`) is a change enforcers must hear about.
  const circuitChange =
    state === previous && !opened
      ? null
      : {
          previous,
          state,
          ...(state === 'open' ? { until: s.d[D.circuitUntil]! } : {}),
          ...(state === 'half_open' ? { probeBudget: s.b[B.probes]! } : {}),
        };

  // Emission of a TrustUpdate.
  const bandCode = BAND_CODES.indexOf(band) + 1;
  const emitTrust =
    s.b[B.lastEmitBand] === 0 ||
    s.b[B.lastEmitBand] !== bandCode ||
    s.b[B.lastEmitCircuit] !== s.b[B.circuit] ||
    Math.abs(trust - f[F.lastEmitTrust]!) > p.emit.delta ||
    ts - s.d[D.lastEmitTs]! >= p.emit.heartbeatMs;
  if (emitTrust) {
    s.b[B.lastEmitBand] = bandCode;
    s.b[B.lastEmitCircuit] = s.b[B.circuit]!;
    f[F.lastEmitTrust] = trust;
    s.d[D.lastEmitTs] = ts;
  }
  return { trust, band, components: { identity, intent, authorization }, circuit: state, circuitChange, emitTrust, offences };
}

/** Operator actions on the breaker (applied from `agent.control`). */
export type CircuitCommand = 'force_open' | 'force_close' | 'reset';

export function applyCircuitCommand(s: AgentState, cmd: CircuitCommand): { previous: CircuitState; state: CircuitState } {
  const previous = CIRCUIT_CODES[s.b[B.circuit]!]!;
  const state: CircuitState = cmd === 'force_open' ? 'forced_open' : cmd === 'force_close' ? 'forced_closed' : 'closed';
  s.b[B.circuit] = CIRCUIT_CODES.indexOf(state);
  if (cmd === 'reset') {
    s.b[B.offences] = 0;
    s.b[B.trustOffences] = 0;
    setAnomalyBits(s, 0);
    s.f[F.evidence] = 0;
  }
  return { previous, state };
}

/** Reasons for a judgement: hard signals first, then the features furthest above the fleet's p99. */
export function hardSignalReasons(signals: Signals): Reason[] {
  const out: Reason[] = [];
  if (signals.failedSignature) out.push({ code: 'signature_failed' });
  if (signals.scopeViolation) out.push({ code: 'scope_violation' });
  if (signals.authFailure && !signals.failedSignature) out.push({ code: 'auth_failure' });
  return out;
}
