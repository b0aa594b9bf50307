/**
 * Output records, built in the contract's field order and signed. Pure given the signer:
 * the same inputs give the same bytes.
 *
 * Each record carries its wire JSON (src/outputs/wire.ts). The trust update — one per emitting
 * event, the hot path — is encoded by hand in one pass: every field is serialised once and the
 * pieces are assembled twice, in RFC 8785 order for the signature and in the contract's order for
 * the wire (equal, byte for byte, to `canonicalize` and `JSON.stringify`; test/outputs/records.test.ts).
 */
import type { CircuitSignal, CircuitState, Escalation, EscalationStatus, Mode, Reason, Sensitivity, TrustUpdate } from '../contract/schemas.ts';
import type { EncodedAuditEntry } from '../audit/chain.ts';
import { r4, type Judgement } from '../core/judge.ts';
import { canonicalJson, type Signer } from './sign.ts';
import { Wired, n, q, withWire } from './wire.ts';

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

/** Canonical (sorted keys) and wire (insertion order) JSON of a reasons array. */
function encodeReasons(reasons: readonly Reason[]): { canonical: string; json: string } {
  if (reasons.length === 0) return { canonical: '[]', json: '[]' };
  let canonical = '[';
  let json = '[';
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i]!;
    const sep = i ? ',' : '';
    // Known shape (code, feature?, value?, baseline?): encode in one pass; anything else goes the generic way.
    let known = 1;
    if (r.feature !== undefined) known++;
    if (r.value !== undefined) known++;
    if (r.baseline !== undefined) known++;
    if (typeof r.code !== 'string' || Object.keys(r).length !== known) {
      canonical += sep + canonicalJson(r)!;
      json += sep + JSON.stringify(r);
      continue;
    }
    const code = q(r.code);
    const feature = r.feature !== undefined ? q(r.feature) : '';
    const value = r.value !== undefined ? n(r.value) : '';
    const baseline = r.baseline !== undefined ? n(r.baseline) : '';
    let c = '{';
    if (baseline) c += `"baseline":${baseline},`;
    c += `"code":${code}`;
    if (feature) c += `,"feature":${feature}`;
    if (value) c += `,"value":${value}`;
    canonical += `${sep}${c}}`;
    // Wire: the object's own key order.
    let w = '{';
    let first = true;
    for (const k in r) {
      const v = k === 'code' ? code : k === 'feature' ? feature : k === 'value' ? value : baseline;
      w += `${first ? '' : ','}"${k}":${v}`;
      first = false;
    }
    json += `${sep}${w}}`;
  }
  return { canonical: canonical + ']', json: json + ']' };
}

export function buildTrustUpdate(ctx: RecordContext, j: Judgement, anomaly: number, reasons: Reason[], ttlMs: number, signer: Signer): TrustUpdate {
  const trust = r4(j.trust);
  const identity = r4(j.components.identity);
  const intent = r4(j.components.intent);
  const authorization = r4(j.components.authorization);
  const an = r4(anomaly);
  const tenant = q(ctx.tenant);
  const agentId = q(ctx.agentId);
  const eventId = q(ctx.eventId);
  const band = q(j.band);
  const circuit = q(j.circuit);
  const model = q(ctx.model);
  const mode = q(ctx.mode);
  const seq = n(ctx.seq);
  const ts = n(ctx.ts);
  const ttl = n(ttlMs);
  const tr = n(trust);
  const anS = n(an);
  const cI = n(identity);
  const cN = n(intent);
  const cA = n(authorization);
  const rs = encodeReasons(reasons);
  const canonical =
    `{"agentId":${agentId},"anomaly":${anS},"band":${band},"circuit":${circuit},"components":{"authorization":${cA},"identity":${cI},"intent":${cN}},` +
    `"eventId":${eventId},"mode":${mode},"model":${model},"reasons":${rs.canonical},"seq":${seq},"tenant":${tenant},"trust":${tr},"ts":${ts},"ttlMs":${ttl},"v":1}`;
  const sig = signer.signCanonical(canonical);
  const json =
    `{"v":1,"tenant":${tenant},"agentId":${agentId},"seq":${seq},"eventId":${eventId},"ts":${ts},"trust":${tr},"band":${band},` +
    `"components":{"identity":${cI},"intent":${cN},"authorization":${cA}},"anomaly":${anS},"reasons":${rs.json},"circuit":${circuit},"model":${model},"mode":${mode},"ttlMs":${ttl},` +
    `"sig":{"kid":${q(sig.kid)},"alg":${q(sig.alg)},"value":${q(sig.value)}}}`;
  return new WiredTrustUpdate(json, ctx, trust, j, { identity, intent, authorization }, an, reasons, ttlMs, sig);
}

/** A TrustUpdate carrying its wire JSON; fields assigned in the contract's order. */
class WiredTrustUpdate extends Wired implements TrustUpdate {
  declare readonly v: 1;
  declare readonly tenant: string;
  declare readonly agentId: string;
  declare readonly seq: number;
  declare readonly eventId: string;
  declare readonly ts: number;
  declare readonly trust: number;
  declare readonly band: TrustUpdate['band'];
  declare readonly components: TrustUpdate['components'];
  declare readonly anomaly: number;
  declare readonly reasons: Reason[];
  declare readonly circuit: TrustUpdate['circuit'];
  declare readonly model: string;
  declare readonly mode: Mode;
  declare readonly ttlMs: number;
  declare readonly sig: TrustUpdate['sig'];
  constructor(
    json: string,
    ctx: RecordContext,
    trust: number,
    j: Judgement,
    components: TrustUpdate['components'],
    anomaly: number,
    reasons: Reason[],
    ttlMs: number,
    sig: TrustUpdate['sig'],
  ) {
    super(json);
    const w = this as { -readonly [K in keyof TrustUpdate]: TrustUpdate[K] };
    w.v = 1;
    w.tenant = ctx.tenant;
    w.agentId = ctx.agentId;
    w.seq = ctx.seq;
    w.eventId = ctx.eventId;
    w.ts = ctx.ts;
    w.trust = trust;
    w.band = j.band;
    w.components = components;
    w.anomaly = anomaly;
    w.reasons = reasons;
    w.circuit = j.circuit;
    w.model = ctx.model;
    w.mode = ctx.mode;
    w.ttlMs = ttlMs;
    w.sig = sig;
  }
}

/**
 * The audit entry of a trust update (`kind: "trust"`: who, seq, time, event, trust, band,
 * circuit and the record's signature), with its canonical and wire JSON, from the record's fields.
 */
export function trustAuditEntry(tu: TrustUpdate): EncodedAuditEntry {
  const tenant = q(tu.tenant);
  const agentId = q(tu.agentId);
  const eventId = q(tu.eventId);
  const band = q(tu.band);
  const circuit = q(tu.circuit);
  const sig = q(tu.sig.value);
  const seq = n(tu.seq);
  const ts = n(tu.ts);
  const trust = n(tu.trust);
  return {
    entry: {
      kind: 'trust',
      tenant: tu.tenant,
      agentId: tu.agentId,
      seq: tu.seq,
      ts: tu.ts,
      eventId: tu.eventId,
      trust: tu.trust,
      band: tu.band,
      circuit: tu.circuit,
      sig: tu.sig.value,
    },
    canonical: `{"agentId":${agentId},"band":${band},"circuit":${circuit},"eventId":${eventId},"kind":"trust","seq":${seq},"sig":${sig},"tenant":${tenant},"trust":${trust},"ts":${ts}}`,
    json: `{"kind":"trust","tenant":${tenant},"agentId":${agentId},"seq":${seq},"ts":${ts},"eventId":${eventId},"trust":${trust},"band":${band},"circuit":${circuit},"sig":${sig}}`,
  };
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
  const record = { ...unsigned, sig: signer.sign(unsigned) };
  return withWire(record, JSON.stringify(record));
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
  const record = { ...unsigned, sig: signer.sign(unsigned) };
  return withWire(record, JSON.stringify(record));
}
