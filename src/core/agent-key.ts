/**
 * Which agent a record belongs to: state, ordering and outputs are per (tenant, agent). The one
 * place that says how an event or a control record names its agent and how that key is written
 * as a string (docs/architecture.md).
 */
import type { AgentControl, AgentRequestEvent } from '../contract/schemas.ts';

/** Identity of an agent's state. */
export type AgentKey = { tenant: string; agentId: string };

/** The tenant of a record that names none. */
export const DEFAULT_TENANT = 'default';

export function agentKeyOfEvent(e: AgentRequestEvent): AgentKey {
  return { tenant: e.tenant ?? DEFAULT_TENANT, agentId: e.agent.id };
}

export function agentKeyOfControl(c: AgentControl): AgentKey {
  return { tenant: c.tenant ?? DEFAULT_TENANT, agentId: c.agentId };
}

/** A map key for an agent: tenant and agent id joined by NUL (neither can be confused with the other). */
export function agentKeyString(tenant: string, agentId: string): string {
  return `${tenant}\u0000${agentId}`;
}

/** The map key of an event's agent. */
export function eventAgentKey(e: AgentRequestEvent): string {
  return agentKeyString(e.tenant ?? DEFAULT_TENANT, e.agent.id);
}

/** Splits a string written by {@link agentKeyString}. */
export function parseAgentKeyString(s: string): AgentKey {
  const i = s.indexOf('\u0000');
  return { tenant: s.slice(0, i), agentId: s.slice(i + 1) };
}
