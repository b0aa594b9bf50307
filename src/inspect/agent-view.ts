/**
 * The read model behind `trustline agent(s)` and `GET /agents/<id>`: what trustline thinks of one
 * agent, decoded from its stored state (Redis, or a replay's `state.jsonl`) and, for a replay,
 * completed from its outputs (docs/operations.md, "Inspecting an agent").
 *
 * Pure: no I/O, no clock. Everything shown is either a stored field or computed from stored
 * fields the way `core/judge.ts` computes it (intent and authorization as of the agent's last
 * event); what the state does not hold (identity strength, reasons) is `null` from Redis and
 * filled from the replay's records when inspecting a replay.
 */
import type { Band, CircuitState, Reason } from '../contract/schemas.ts';
import { B, D, F, H, R, STATE_BYTES, anomalyBits, decodeState, getShare, isInitialised, type AgentState } from '../core/agent-state.ts';
import { splitStored } from '../core/control.ts';
import { CIRCUIT_CODES, bandOf, type Policy } from '../core/judge.ts';

/** One event that moved the agent's trust (replay only). */
export type TrustMove = {
  ts: number;
  seq: number;
  eventId: string;
  /** Trust after the event minus trust before it. */
  delta: number;
  trust: number;
  band: Band;
  circuit: CircuitState;
  anomaly: number;
  reasons: Reason[];
  /** The request behind it, when the replay's input files are readable. */
  request?: EventDetail;
};

/** What the report and the inspector show of an input event. */
export type EventDetail = { method: string; route: string; status: number; network: string };

export type BaselineSummary = {
  firstSeen: number;
  lastSeen: number;
  /** Events in the last minute and the last hour before the agent's last event (decayed counts). */
  eventsLastMinute: number;
  eventsLastHour: number;
  /** Usual time between two requests, seconds (geometric mean). */
  typicalGapSeconds: number | null;
  /** Routes in the agent's recent route set (at most 10 are kept). */
  knownRoutes: number;
  errorShare: number;
  novelRouteShare: number;
  privilegedShare: number;
  sensitiveShare: number;
  offHomeNetworkShare: number;
  typicalBytesOut: number;
  typicalAmount: number | null;
  /** UTC hours of day with at least half of the agent's busiest hour's activity. */
  activeHoursUtc: number[];
  /** Accumulated anomaly evidence (judge.ts) and how many of the last 16 events were anomalous. */
  anomalyEvidence: number;
  anomalousOfLast16: number;
};

export type AgentView = {
  source: 'redis' | 'replay';
  tenant: string;
  agentId: string;
  /** Last applied source position (Kafka offset or file line). */
  watermark: number;
  seq: number;
  trust: number;
  band: Band;
  circuit: { state: CircuitState; until: number | null; offences: number; probesLeft: number | null };
  /**
   * The three questions, 0..1 (docs/decisions.md). From Redis, identity is `null` (its strength
   * is not stored; read the agent's last record on `agent.trust`), intent and authorization are
   * recomputed from the stored state as of the last event.
   */
  components: { identity: number | null; intent: number; authorization: number };
  baseline: BaselineSummary;
  /** The agent's peer group, when the deployment assigns one; `null` otherwise. */
  peerGroup: string | null;
  escalation: { pending: boolean; seq: number | null; expiresAt: number | null };
  lastControlAt: number | null;
  /** Reasons of the agent's most recent events that had any (replay only; `[]` from Redis). */
  recentReasons: { ts: number; seq: number; reasons: Reason[] }[];
  /** The events that moved its trust most, largest |delta| first (replay only). */
  movers: TrustMove[];
  /** Number of scored events (replay only). */
  events: number | null;
  /** What could not be shown, in words. */
  notes: string[];
};

const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;

function baselineOf(s: AgentState): BaselineSummary {
  const f = s.f;
  const hours = Array.from({ length: 24 }, (_, h) => s.b[B.hours + h]!);
  const peak = Math.max(...hours);
  let routes = 0;
  for (let i = 0; i < H.routesLen; i++) if (s.h[H.routes + i] !== 0) routes++;
  const bits = anomalyBits(s);
  let anomalous = 0;
  for (let i = 0; i < 16; i++) anomalous += (bits >> i) & 1;
  return {
    firstSeen: s.d[D.firstTs]!,
    lastSeen: s.d[D.lastTs]!,
    eventsLastMinute: r4(f[F.rateFast]!),
    eventsLastHour: r4(f[F.rateSlow]!),
    typicalGapSeconds: s.d[D.seq]! > 2 ? r4(10 ** f[F.gapMean]! - 0.001) : null,
    knownRoutes: routes,
    errorShare: r4(getShare(s, R.errSlow)),
    novelRouteShare: r4(getShare(s, R.novelSlow)),
    privilegedShare: r4(getShare(s, R.privSlow)),
    sensitiveShare: r4(f[F.sensShareLong]!),
    offHomeNetworkShare: r4(getShare(s, R.netOffSlow)),
    typicalBytesOut: Math.round(f[F.volLong]!),
    typicalAmount: f[F.amountN]! > 0 ? r4(10 ** f[F.amountMean]! - 1) : null,
    activeHoursUtc: peak > 0 ? hours.flatMap((v, h) => (v * 2 >= peak ? [h] : [])) : [],
    anomalyEvidence: r4(f[F.evidence]!),
    anomalousOfLast16: anomalous,
  };
}

/**
 * The view of one agent from its stored record (state + optional control tail, as saved in
 * Redis). `null` when the bytes are not a state of this build's layout.
 */
export function viewFromStored(
  key: { tenant: string; agentId: string },
  stored: Uint8Array,
  policy: Policy,
  source: AgentView['source'] = 'redis',
): AgentView | null {
  const { state, tail } = splitStored(stored, STATE_BYTES + 1);
  const s = decodeState(state);
  if (!s) return null;
  const f = s.f;
  const trust = r4(f[F.trust]!);
  const circuit = CIRCUIT_CODES[s.b[B.circuit]!] ?? 'closed';
  const until = s.d[D.circuitUntil]!;
  const notes: string[] = [];
  if (!isInitialised(s)) notes.push('no event applied yet (only operator control records)');
  if (source === 'redis') notes.push("identity strength and reasons are not kept in state: the agent's last record on the trust topic has them");
  return {
    source,
    tenant: key.tenant,
    agentId: key.agentId,
    watermark: s.d[D.watermark]!,
    seq: s.d[D.seq]!,
    trust,
    band: bandOf(trust, policy),
    circuit: { state: circuit, until: until > 0 ? until : null, offences: s.b[B.offences]!, probesLeft: circuit === 'half_open' ? s.b[B.probes]! : null },
    components: {
      identity: null,
      intent: r4(Math.exp(-f[F.evidence]! / policy.evidence.scale)),
      authorization: r4(Math.max(0, 1 - 1.2 * Math.max(getShare(s, R.scopeViolFast), getShare(s, R.forbidFast)))),
    },
    baseline: baselineOf(s),
    peerGroup: null,
    escalation: tail.escExpiresAt > 0 ? { pending: true, seq: tail.escSeq, expiresAt: tail.escExpiresAt } : { pending: false, seq: null, expiresAt: null },
    lastControlAt: tail.lastControlAt > 0 ? tail.lastControlAt : null,
    recentReasons: [],
    movers: [],
    events: null,
    notes,
  };
}

/** One line of `trustline agents`. */
export type AgentListRow = {
  tenant: string;
  agentId: string;
  trust: number;
  band: Band;
  circuit: CircuitState;
  circuitUntil: number | null;
  lastSeen: number;
  events: number | null;
  peerGroup: string | null;
};

export function listRowOf(v: AgentView): AgentListRow {
  return {
    tenant: v.tenant,
    agentId: v.agentId,
    trust: v.trust,
    band: v.band,
    circuit: v.circuit.state,
    circuitUntil: v.circuit.until,
    lastSeen: v.baseline.lastSeen,
    events: v.events,
    peerGroup: v.peerGroup,
  };
}

export type AgentFilter = { bands?: readonly Band[]; circuits?: readonly CircuitState[]; since?: number };

export function matches(row: AgentListRow, f: AgentFilter): boolean {
  if (f.bands?.length && !f.bands.includes(row.band)) return false;
  if (f.circuits?.length && !f.circuits.includes(row.circuit)) return false;
  if (f.since !== undefined && row.lastSeen < f.since) return false;
  return true;
}

/** Lowest trust first, then by id: the agents an operator looks at first come first. */
export function sortRows(rows: AgentListRow[]): AgentListRow[] {
  return rows.sort(
    (a, b) => a.trust - b.trust || (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0) || (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0),
  );
}
