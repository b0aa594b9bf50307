/**
 * The per-event step: every domain rule that turns (agent state, record) into (new state, what is
 * due), in one pure module that replay, `trustline run`, `trustline features` and the offline
 * evaluator all call (docs/architecture.md).
 *
 * An event goes through two halves, because scoring is one model call per batch in between:
 *
 *   observeEvent  event time (clamped forward within the agent) → features → baseline update
 *   (the pipeline scores the batch's feature rows)
 *   stepEvent     allowlist expiry → trust + breaker → reasons → escalation due?
 *
 * A control record (operator action, relayed into the agent's own stream) is admitted in order
 * with the agent's events (`admitControl`: duplicates take no seq) and applied in the second half
 * (`stepControl`). Pure: no clock, no I/O, no randomness; the same (state, record, anomaly)
 * always gives the same state and the same result. Building, signing and auditing the records
 * is the pipeline's job (src/outputs, src/audit); deciding which are due is this module's.
 */
import type { AgentControl, AgentRequestEvent, Reason } from '../contract/schemas.ts';
import { D, isInitialised, type AgentState } from './agent-state.ts';
import {
  NO_ESCALATION,
  applyControl,
  escalationReasons,
  expireAllowlist,
  hasPendingEscalation,
  openEscalation,
  type ControlEffect,
  type ControlTail,
  type EscalationSettings,
} from './control.ts';
import { observe, type ObserveContext, type Signals } from './features.ts';
import { hardSignalReasons, judge, r4, type Judgement, type Policy } from './judge.ts';
import { explain, type FeatureStats } from './reasons.ts';
import type { CompiledRouteRules } from './routes.ts';

/** What the second half of the step needs to know about the first. */
export type Observation = {
  /** Event time used for everything: the event's `ts`, clamped forward to the agent's last event time. */
  ts: number;
  /** Event-time gap since the agent's previous event (0 for its first). */
  dt: number;
  /** The agent's first event. */
  first: boolean;
  signals: Signals;
};

/**
 * First half: decides the event's time, writes its feature vector into `out` at `offset` (against
 * the baseline before this event) and folds the event into the baseline. Out-of-order time is
 * clamped forward, never backwards, so the agent's clock is monotonic.
 */
export function observeEvent(s: AgentState, e: AgentRequestEvent, out: Float32Array, offset: number, ctx?: ObserveContext): Observation {
  const first = !isInitialised(s);
  const last = s.d[D.lastTs]!;
  const ts = first ? e.ts : e.ts > last ? e.ts : last;
  const dt = first ? 0 : ts - last;
  const signals = observe(s, e, ts, out, offset, ctx);
  return { ts, dt, first, signals };
}

/** The pipeline's settings for the second half. */
export type StepSettings = {
  policy: Policy;
  /** Escalation rules; `null` escalates nothing. */
  escalation: EscalationSettings | null;
  /** Per-feature fleet statistics of the model, for reasons. */
  featureStats: FeatureStats;
  /** The route rules features were computed with, to name the matched rule in reasons (default: DEFAULT_ROUTE_RULES). */
  rules?: CompiledRouteRules;
};

/** What one event makes due. */
export type EventStep = {
  judgement: Judgement;
  /** The calibrated anomaly as every output carries it (4 decimals). */
  anomaly: number;
  reasons: Reason[];
  /** A pending escalation was opened for this event's action. */
  escalation: { reasons: Reason[]; expiresAt: number } | null;
};

/**
 * Second half: `rawAnomaly` is the model's calibrated anomaly of this event's feature row
 * (`features[offset …]`). Applies allowlist expiry, trust and the breaker, and opens an escalation
 * when the event's action meets a rule and none is pending. The offline evaluator passes no event
 * (nothing escalates) and may pass no features (reasons are then the hard signals only).
 */
export function stepEvent(
  s: AgentState,
  tail: ControlTail,
  e: AgentRequestEvent | null,
  o: Observation,
  rawAnomaly: number,
  features: Float32Array | null,
  offset: number,
  seq: number,
  settings: StepSettings,
): EventStep {
  const anomaly = r4(rawAnomaly);
  const allowlistEnded = expireAllowlist(s, o.ts);
  const judgement = judge(s, o.signals, anomaly, o.ts, o.dt, o.first, settings.policy);
  if (allowlistEnded)
    judgement.circuitChange = judgement.circuitChange
      ? { ...judgement.circuitChange, previous: 'forced_closed' }
      : { previous: 'forced_closed', state: 'closed' };
  const reasons = features ? explain(o.signals, features, offset, anomaly, settings.featureStats, settings.rules) : hardSignalReasons(o.signals);
  let escalation: EventStep['escalation'] = null;
  const rules = settings.escalation;
  if (rules && e?.action && !hasPendingEscalation(tail, o.ts)) {
    const why = escalationReasons(e.action, judgement.band, rules);
    if (why) escalation = { reasons: [...why, ...reasons].slice(0, 8), expiresAt: openEscalation(tail, seq, o.ts, rules) };
  }
  return { judgement, anomaly, reasons, escalation };
}

/**
 * Admits a control record in the agent's order: a record not issued after the last admitted one
 * is a duplicate (the relay delivers at least once) and returns null without touching the state
 * or taking a seq. Otherwise the record takes the agent's next seq and applies at event time
 * max(issuedAt, the agent's last event time); the baseline and its clock are untouched.
 */
export function admitControl(s: AgentState, tail: ControlTail, c: AgentControl): { ts: number; seq: number } | null {
  if (c.issuedAt <= tail.lastControlAt) return null;
  tail.lastControlAt = c.issuedAt;
  s.d[D.seq] = s.d[D.seq]! + 1;
  return { ts: Math.max(c.issuedAt, s.d[D.lastTs]!), seq: s.d[D.seq]! };
}

/** Second half for an admitted control record. */
export function stepControl(s: AgentState, tail: ControlTail, c: AgentControl, ts: number, settings: StepSettings): ControlEffect {
  return applyControl(s, tail, c, ts, settings.policy, settings.escalation ?? NO_ESCALATION);
}
