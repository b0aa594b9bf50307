/**
 * Operator control and human-in-the-loop escalation — pure steps over an agent's state.
 *
 * Guarantees:
 * - Pure: a function of (agent state, control tail, record, event time, settings). No clock,
 *   no I/O; the same inputs give the same state and the same effect, so a replayed stream
 *   reproduces every control and escalation exactly.
 * - Idempotent per agent: a control record whose `issuedAt` is not after the last applied one
 *   is a `duplicate` and changes nothing (the relay re-publishes at least once).
 * - Bounded: the control tail is {@link CONTROL_TAIL_BYTES} bytes, stored after the encoded
 *   agent state and only for agents that ever had a control record or an escalation.
 */
import type { AgentControl, Band, CircuitState, Reason, Sensitivity } from '../contract/schemas.ts';
import { B, D, F, type AgentState } from './agent-state.ts';
import { CIRCUIT_CODES, applyCircuitCommand, bandOf, cooldownUntil, type Policy } from './judge.ts';

/** Control and escalation fields kept beside an agent's state. */
export type ControlTail = {
  /** `issuedAt` of the last applied control record; 0 = none. */
  lastControlAt: number;
  /** Event time when the pending escalation expires; 0 = no pending escalation. */
  escExpiresAt: number;
  /** `seq` of the escalated event while one is pending. */
  escSeq: number;
};

/** Size of the control tail: float64 lastControlAt, float64 escExpiresAt, uint32 escSeq. */
export const CONTROL_TAIL_BYTES = 20;

export function emptyTail(): ControlTail {
  return { lastControlAt: 0, escExpiresAt: 0, escSeq: 0 };
}

/**
 * Splits a stored record into the encoded agent state (`stateBytes` long) and its control
 * tail. A record without a tail (or with a tail of another size) has an empty tail.
 */
export function splitStored(bytes: Uint8Array, stateBytes: number): { state: Uint8Array; tail: ControlTail } {
  if (bytes.byteLength !== stateBytes + CONTROL_TAIL_BYTES) return { state: bytes, tail: emptyTail() };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    state: bytes.subarray(0, stateBytes),
    tail: { lastControlAt: b.readDoubleLE(stateBytes), escExpiresAt: b.readDoubleLE(stateBytes + 8), escSeq: b.readUInt32LE(stateBytes + 16) },
  };
}

/** The stored record: the encoded state, followed by the tail unless it is empty. */
export function joinStored(state: Buffer, tail: ControlTail): Buffer {
  if (tail.lastControlAt === 0 && tail.escExpiresAt === 0 && tail.escSeq === 0) return state;
  const out = Buffer.alloc(state.length + CONTROL_TAIL_BYTES);
  state.copy(out, 0);
  out.writeDoubleLE(tail.lastControlAt, state.length);
  out.writeDoubleLE(tail.escExpiresAt, state.length + 8);
  out.writeUInt32LE(tail.escSeq >>> 0, state.length + 16);
  return out;
}

/** Escalation settings (config `escalation`). */
export type EscalationSettings = {
  rules: readonly {
    minAmount?: number | undefined;
    sensitivities?: readonly Sensitivity[] | undefined;
    actions?: readonly string[] | undefined;
    bands: readonly Band[];
  }[];
  ttlMs: number;
  approveCredit: number;
  denyPenalty: number;
};

export const DEFAULT_ESCALATION: EscalationSettings = {
  rules: [
    { minAmount: 1000, bands: ['watch', 'restrict', 'block'] },
    { sensitivities: ['critical'], bands: ['watch', 'restrict', 'block'] },
  ],
  ttlMs: 900_000,
  approveCredit: 0.05,
  denyPenalty: 0.3,
};

/** No escalation rules: what control records are applied with when escalations are off. */
export const NO_ESCALATION: EscalationSettings = { rules: [], ttlMs: 900_000, approveCredit: 0.05, denyPenalty: 0.3 };

/** The deterministic id of an escalation: `<agent key>:<seq>` (agent key = agentId, or tenant/agentId outside the default tenant). */
export function escalationIdOf(tenant: string, agentId: string, seq: number): string {
  return `${tenant === 'default' ? agentId : `${tenant}/${agentId}`}:${seq}`;
}

/** Why an action is escalated (the first matching rule's conditions), or null when no rule matches. */
export function escalationReasons(
  action: { name?: string; amount?: number; sensitivity?: Sensitivity } | undefined,
  band: Band,
  settings: EscalationSettings,
): Reason[] | null {
  if (!action) return null;
  for (const rule of settings.rules) {
    if (!rule.bands.includes(band)) continue;
    if (rule.minAmount === undefined && rule.sensitivities === undefined && rule.actions === undefined) continue;
    if (rule.minAmount !== undefined && !(action.amount !== undefined && action.amount >= rule.minAmount)) continue;
    if (rule.sensitivities !== undefined && !(action.sensitivity !== undefined && rule.sensitivities.includes(action.sensitivity))) continue;
    if (rule.actions !== undefined && !(action.name !== undefined && rule.actions.includes(action.name))) continue;
    const out: Reason[] = [];
    if (rule.minAmount !== undefined) out.push({ code: 'amount_at_or_above', value: action.amount!, baseline: rule.minAmount });
    if (rule.sensitivities !== undefined) out.push({ code: `sensitivity_${action.sensitivity!}` });
    if (rule.actions !== undefined) out.push({ code: 'escalated_action' });
    out.push({ code: `band_${band}` });
    return out;
  }
  return null;
}

/** An escalation is pending (and not expired) at event time `ts`. */
export function hasPendingEscalation(tail: ControlTail, ts: number): boolean {
  return tail.escExpiresAt > 0 && ts < tail.escExpiresAt;
}

/** Opens a pending escalation for the event with `seq` at `ts`; returns its expiry. */
export function openEscalation(tail: ControlTail, seq: number, ts: number, settings: EscalationSettings): number {
  tail.escSeq = seq;
  tail.escExpiresAt = ts + settings.ttlMs;
  return tail.escExpiresAt;
}

export type CircuitChange = { previous: CircuitState; state: CircuitState; until?: number; probeBudget?: number };

/** What applying one control record did. */
export type ControlEffect = {
  /** `applied`: state changed; `ignored`: authentic but without effect (see `detail`). */
  outcome: 'applied' | 'ignored';
  detail?: string;
  /** The circuit change to announce (also for an unchanged state: an operator action is always announced). */
  circuitChange: CircuitChange | null;
  offences: number;
  /** Set for an applied escalation decision. */
  decision?: { escalationId: string; seq: number; expiresAt: number; status: 'approved' | 'denied' };
};

/**
 * Allowlist expiry, checked before an event is judged: an allowlisted agent (forced closed with
 * an `until`) whose event is at or after `until` returns to closed. Returns true when it did.
 */
export function expireAllowlist(s: AgentState, ts: number): boolean {
  if (CIRCUIT_CODES[s.b[B.circuit]!] !== 'forced_closed' || !(s.d[D.circuitUntil]! > 0) || ts < s.d[D.circuitUntil]!) return false;
  s.b[B.circuit] = CIRCUIT_CODES.indexOf('closed');
  s.d[D.circuitUntil] = 0;
  return true;
}

/**
 * Apply one authentic control record, already admitted in the agent's order (`admitControl` in
 * src/core/step.ts: duplicates never get here), at event time `ts` (= max(issuedAt, the agent's
 * last event time)).
 */
export function applyControl(s: AgentState, tail: ControlTail, c: AgentControl, ts: number, p: Policy, esc: EscalationSettings): ControlEffect {
  const offencesNow = (): number => s.b[B.offences]!;
  switch (c.action) {
    case 'force_open':
    case 'force_close':
    case 'reset': {
      const ch = applyCircuitCommand(s, c.action);
      s.d[D.circuitUntil] = 0;
      return { outcome: 'applied', circuitChange: ch, offences: offencesNow() };
    }
    case 'allowlist': {
      const until = c.until!;
      if (until <= ts) return { outcome: 'ignored', detail: 'allowlist until is not after the control time', circuitChange: null, offences: offencesNow() };
      const ch = applyCircuitCommand(s, 'force_close');
      s.d[D.circuitUntil] = until;
      return { outcome: 'applied', circuitChange: { ...ch, until }, offences: offencesNow() };
    }
    case 'escalation_decision': {
      const tenant = c.tenant ?? 'default';
      if (tail.escExpiresAt === 0 || c.escalationId !== escalationIdOf(tenant, c.agentId, tail.escSeq)) {
        return { outcome: 'ignored', detail: 'no such pending escalation', circuitChange: null, offences: offencesNow() };
      }
      if (ts >= tail.escExpiresAt) {
        tail.escExpiresAt = 0;
        tail.escSeq = 0;
        return { outcome: 'ignored', detail: 'escalation expired', circuitChange: null, offences: offencesNow() };
      }
      const decided = { escalationId: c.escalationId, seq: tail.escSeq, expiresAt: tail.escExpiresAt };
      tail.escExpiresAt = 0;
      tail.escSeq = 0;
      const f = s.f;
      if (c.decision === 'approve') {
        // A human vouched for the action: a small credit, and half the accumulated anomaly evidence forgiven.
        f[F.trust] = Math.min(1, f[F.trust]! + esc.approveCredit);
        f[F.evidence] = f[F.evidence]! * 0.5;
        return { outcome: 'applied', circuitChange: null, offences: offencesNow(), decision: { ...decided, status: 'approved' } };
      }
      // Denied: a penalty, more evidence, and the circuit opens unless an operator forced it.
      f[F.trust] = Math.max(0, f[F.trust]! - esc.denyPenalty);
      f[F.evidence] = Math.min(p.evidence.max, f[F.evidence]! + 5);
      const previous = CIRCUIT_CODES[s.b[B.circuit]!]!;
      let circuitChange: CircuitChange | null = null;
      if (previous === 'closed' || previous === 'half_open' || previous === 'open') {
        const offences = Math.min(s.b[B.offences]! + 1, 255);
        s.b[B.offences] = offences;
        s.b[B.circuit] = CIRCUIT_CODES.indexOf('open');
        s.d[D.circuitUntil] = cooldownUntil(ts, offences, p);
        circuitChange = { previous, state: 'open', until: s.d[D.circuitUntil]! };
      }
      return { outcome: 'applied', circuitChange, offences: offencesNow(), decision: { ...decided, status: 'denied' } };
    }
  }
}

/** Band of the agent's current trust (for records caused by a control). */
export function currentBand(s: AgentState, p: Policy): Band {
  return bandOf(s.f[F.trust]!, p);
}
