/**
 * Serialization of simulated events to the v1 wire contract.
 *
 * Guarantee: keys are emitted in the contract's field order and absent optional fields are
 * omitted, so `JSON.stringify` of the same event is the same bytes every time.
 */
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import type { SimEvent } from './types.ts';

/** Build the wire object of an event, keys in contract order. */
export function toWire(e: SimEvent, eventId: string): AgentRequestEvent {
  const auth: AgentRequestEvent['agent']['auth'] = { method: e.authMethod, verified: e.verified };
  if (e.scopes !== undefined) auth.scopes = [...e.scopes];
  if (e.tokenAgeS !== undefined) auth.tokenAgeS = e.tokenAgeS;
  const agent: AgentRequestEvent['agent'] = { id: e.agentId } as AgentRequestEvent['agent'];
  if (e.purpose !== undefined) agent.purpose = e.purpose;
  agent.auth = auth;
  if (e.onBehalfOf !== undefined) agent.onBehalfOf = e.onBehalfOf;
  if (e.userAgent !== undefined) agent.userAgent = e.userAgent;
  const r = e.req;
  const request: AgentRequestEvent['request'] = { method: r.method, route: r.route } as AgentRequestEvent['request'];
  if (r.path !== undefined) request.path = r.path;
  request.status = r.status;
  request.latencyMs = r.latencyMs;
  request.bytesIn = r.bytesIn;
  request.bytesOut = r.bytesOut;
  if (e.ip !== undefined) request.ip = e.ip;
  if (e.asn !== undefined) request.asn = e.asn;
  if (e.country !== undefined) request.country = e.country;
  const out: AgentRequestEvent = { v: 1, eventId, ts: e.ts } as AgentRequestEvent;
  if (e.tenant !== undefined) out.tenant = e.tenant;
  out.agent = agent;
  out.request = request;
  if (r.action !== undefined) {
    const a = r.action;
    const action: NonNullable<AgentRequestEvent['action']> = {};
    if (a.name !== undefined) action.name = a.name;
    if (a.sensitivity !== undefined) action.sensitivity = a.sensitivity;
    if (a.amount !== undefined) action.amount = a.amount;
    if (a.currency !== undefined) action.currency = a.currency;
    if (a.requiredScope !== undefined) action.requiredScope = a.requiredScope;
    out.action = action;
  }
  return out;
}
