/**
 * Building and signing operator control records (`agent.control`), for the `trustline control`
 * command, tools and tests. The signature is the same `sig` as on trustline's own records
 * (RFC 8785 canonical encoding of the record without `sig`), made with an OPERATOR key
 * (`control.keys` on the processor), never with the output signing keys.
 */
import { randomUUID } from 'node:crypto';
import type { AgentControl, ControlAction } from '../contract/schemas.ts';
import { createSigner, type SigningKey } from '../outputs/sign.ts';

/** What an operator orders; `controlId` defaults to a random UUID, `issuedAt` must be given (epoch ms). */
export type ControlFields = {
  controlId?: string;
  tenant?: string;
  agentId: string;
  action: ControlAction;
  issuedAt: number;
  operator: string;
  until?: number;
  escalationId?: string;
  decision?: 'approve' | 'deny';
  reason?: string;
};

/** A signed AgentControl record, fields in contract order. */
export function signControl(fields: ControlFields, key: SigningKey): AgentControl {
  const unsigned = {
    v: 1 as const,
    kind: 'control' as const,
    controlId: fields.controlId ?? randomUUID(),
    ...(fields.tenant !== undefined && fields.tenant !== 'default' ? { tenant: fields.tenant } : {}),
    agentId: fields.agentId,
    action: fields.action,
    issuedAt: fields.issuedAt,
    operator: fields.operator,
    ...(fields.until !== undefined ? { until: fields.until } : {}),
    ...(fields.escalationId !== undefined ? { escalationId: fields.escalationId } : {}),
    ...(fields.decision !== undefined ? { decision: fields.decision } : {}),
    ...(fields.reason !== undefined ? { reason: fields.reason } : {}),
  };
  return { ...unsigned, sig: createSigner([key], key.kid).sign(unsigned) };
}
