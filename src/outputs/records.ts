/**
 * Output records, built in the contract's field order and signed. Pure given the signer:
 * the same inputs give the same bytes.
 */
import type { CircuitSignal, CircuitState, Escalation, EscalationStatus, Mode, Reason, Sensitivity, TrustUpdate } from '../contract/schemas.ts';
import { r4, type Judgement } from '../core/judge.ts';
import type { Signer } from './sign.ts';

export type RecordContext = {
  tenant: string;
  agentId: string;
  seq: number;
  eventId: string;
  ts: number;
  model: string;
  mode: Mode;
};

/** Kafka record key of an agent's outputs: the agent id, prefixed by the tenant outside the default tenant. */
export function outputKey(tenant: string, agentId: string): string {
  return tenant === 'default' ? agentId : `${tenant}/${agentId}`;
}

export function buildTrustUpdate(ctx: RecordContext, j: Judgement, anomaly: number, reasons: Reason[], ttlMs: number, signer: Signer): TrustUpdate {
  const unsigned = {
    v: 1 as const,
    tenant: ctx.tenant,
    agentId: ctx.agentId,
    seq: ctx.seq,
    eventId: ctx.eventId,
    ts: ctx.ts,
    trust: r4(j.trust),
    band: j.band,
    components: { identity: r4(j.components.identity), intent: r4(j.components.intent), authorization: r4(j.components.authorization) },
    anomaly: r4(anomaly),
    reasons,
    circuit: j.circuit,
    model: ctx.model,
    mode: ctx.mode,
    ttlMs,
  };
  return { ...unsigned, sig: signer.sign(unsigned) };
}

export function buildCircuitSignal(
  ctx: RecordContext,
  change: { previous: CircuitState; state: CircuitState; until?: number; probeBudget?: number },
  offences: number,
  reasons: Reason[],
  signer: Signer,
): CircuitSignal {
  const unsigned = {
    v: 1 as const,
    tenant: ctx.tenant,
    agentId: ctx.agentId,
    seq: ctx.seq,
    state: change.state,
    previous: change.previous,
    reasons,
    offences,
    issuedAt: ctx.ts,
    ...(change.until !== undefined ? { until: change.until } : {}),
    ...(change.probeBudget !== undefined ? { probeBudget: change.probeBudget } : {}),
    mode: ctx.mode,
  };
  return { ...unsigned, sig: signer.sign(unsigned) };
}

/** What an Escalation record says, before signing. */
export type EscalationFields = {
  escalationId: string;
  tenant: string;
  agentId: string;
  seq: number;
  eventId: string;
  ts: number;
  action: { name?: string; amount?: number; currency?: string; sensitivity?: Sensitivity };
  reasons: Reason[];
  expiresAt: number;
  status: EscalationStatus;
  decidedBy?: string;
  decidedAt?: number;
  controlId?: string;
  mode: Mode;
};

/** An Escalation record in the contract's field order, signed. */
export function buildEscalation(e: EscalationFields, signer: Signer): Escalation {
  const action: Escalation['action'] = {};
  if (e.action.name !== undefined) action.name = e.action.name;
  if (e.action.amount !== undefined) action.amount = e.action.amount;
  if (e.action.currency !== undefined) action.currency = e.action.currency;
  if (e.action.sensitivity !== undefined) action.sensitivity = e.action.sensitivity;
  const unsigned = {
    v: 1 as const,
    escalationId: e.escalationId,
    tenant: e.tenant,
    agentId: e.agentId,
    seq: e.seq,
    eventId: e.eventId,
    ts: e.ts,
    action,
    reasons: e.reasons,
    expiresAt: e.expiresAt,
    status: e.status,
    ...(e.decidedBy !== undefined ? { decidedBy: e.decidedBy } : {}),
    ...(e.decidedAt !== undefined ? { decidedAt: e.decidedAt } : {}),
    ...(e.controlId !== undefined ? { controlId: e.controlId } : {}),
    mode: e.mode,
  };
  return { ...unsigned, sig: signer.sign(unsigned) };
}
