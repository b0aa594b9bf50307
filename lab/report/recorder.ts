/**
 * Collects what a replay produces, batch by batch (`replayFiles(…, { onBatch })`), into the
 * compact per-agent data behind the HTML report and the demo summary.
 *
 * Guarantees: memory grows with the number of scored events (two numbers each) and the
 * number of circuit changes, never with record sizes; everything is keyed by the event time
 * the pipeline reports, so two replays of the same files give the same report data.
 * Agents are keyed by agent id: an id that appears in several replayed files gets one
 * timeline across them.
 */
import type { Band, CircuitSignal, CircuitState, Reason } from '../../src/contract/schemas.ts';
import type { BatchOutputs, ScoreRow } from '../../src/outputs/sink.ts';

/** One change of an agent's circuit, as announced on `agent.circuit`. */
export type CircuitChange = { ts: number; state: CircuitState; previous: CircuitState; until?: number; reasons: Reason[] };

/** Everything recorded about one agent. */
export type AgentRecord = {
  agentId: string;
  events: number;
  firstTs: number;
  lastTs: number;
  /** Event time and trust of every scored event, in input order. */
  ts: number[];
  trust: number[];
  /** Band changes: the first event's band, then each change. */
  bands: { ts: number; band: Band }[];
  circuit: CircuitChange[];
  minTrust: number;
  minTrustTs: number;
  lastTrust: number;
  lastBand: Band;
  lastCircuit: CircuitState;
  /** Times the circuit went to `open` or `forced_open`. */
  circuitOpenings: number;
  /** Reason codes on events below the `trusted` band. */
  reasonsWhenDistrusted: Map<string, number>;
  /** Reason codes on all events. */
  reasonsAll: Map<string, number>;
};

/** Incremental recorder of replay outputs; feed it every batch, read it at the end. */
export class ReplayRecorder {
  readonly agents = new Map<string, AgentRecord>();
  /** Dead letters by error code. */
  readonly dlq = new Map<string, number>();
  records = 0;
  scored = 0;
  trustUpdates = 0;
  circuitSignals = 0;
  firstTs = Infinity;
  lastTs = -Infinity;

  /** Record one batch's outputs (use as, or from, replay's `onBatch`). */
  add(p: { records: number; outputs: BatchOutputs }): void {
    this.records += p.records;
    this.trustUpdates += p.outputs.trust.length;
    for (const d of p.outputs.dlq) this.addDead(d.code);
    this.addScores(p.outputs.scores);
    this.addCircuit(p.outputs.circuit);
  }

  /** Count one dead letter (records counts it too when fed from files). */
  addDead(code: string): void {
    this.dlq.set(code, (this.dlq.get(code) ?? 0) + 1);
  }

  /** Record score rows, in input order. */
  addScores(rows: readonly ScoreRow[]): void {
    for (const row of rows) {
      this.scored++;
      let a = this.agents.get(row.agentId);
      if (!a) {
        a = {
          agentId: row.agentId,
          events: 0,
          firstTs: row.ts,
          lastTs: row.ts,
          ts: [],
          trust: [],
          bands: [{ ts: row.ts, band: row.band }],
          circuit: [],
          minTrust: row.trust,
          minTrustTs: row.ts,
          lastTrust: row.trust,
          lastBand: row.band,
          lastCircuit: row.circuit,
          circuitOpenings: 0,
          reasonsWhenDistrusted: new Map(),
          reasonsAll: new Map(),
        };
        this.agents.set(row.agentId, a);
      }
      a.events++;
      a.ts.push(row.ts);
      a.trust.push(row.trust);
      a.lastTs = row.ts;
      if (row.trust < a.minTrust) {
        a.minTrust = row.trust;
        a.minTrustTs = row.ts;
      }
      if (row.band !== a.lastBand) a.bands.push({ ts: row.ts, band: row.band });
      a.lastTrust = row.trust;
      a.lastBand = row.band;
      a.lastCircuit = row.circuit;
      for (const r of row.reasons) {
        a.reasonsAll.set(r.code, (a.reasonsAll.get(r.code) ?? 0) + 1);
        if (row.band !== 'trusted') a.reasonsWhenDistrusted.set(r.code, (a.reasonsWhenDistrusted.get(r.code) ?? 0) + 1);
      }
      if (row.ts < this.firstTs) this.firstTs = row.ts;
      if (row.ts > this.lastTs) this.lastTs = row.ts;
    }
  }

  /** Record circuit changes; each must come after the score row of its event. */
  addCircuit(signals: readonly Pick<CircuitSignal, 'agentId' | 'issuedAt' | 'state' | 'previous' | 'until' | 'reasons'>[]): void {
    for (const c of signals) {
      this.circuitSignals++;
      const a = this.agents.get(c.agentId);
      if (!a) continue; // a circuit change always comes with its event's score row
      a.circuit.push({ ts: c.issuedAt, state: c.state, previous: c.previous, ...(c.until !== undefined ? { until: c.until } : {}), reasons: c.reasons });
      if (c.state === 'open' || c.state === 'forced_open') a.circuitOpenings++;
    }
  }
}

/**
 * The most frequent reason codes of an agent, most frequent first (ties by code): those seen
 * while it was below `trusted`, or, when it never was, those of all its events.
 */
export function topReasons(a: AgentRecord, n = 3): { code: string; count: number }[] {
  const source = a.reasonsWhenDistrusted.size ? a.reasonsWhenDistrusted : a.reasonsAll;
  return [...source.entries()]
    .map(([code, count]) => ({ code, count }))
    .sort((x, y) => y.count - x.count || (x.code < y.code ? -1 : x.code > y.code ? 1 : 0))
    .slice(0, n);
}

/**
 * Spans of event time during which an agent's circuit was not closed, from its circuit
 * changes; a span still open at the end of the data ends at `endTs`.
 */
export function circuitSpans(a: AgentRecord, endTs: number): { from: number; to: number; state: CircuitState }[] {
  const spans: { from: number; to: number; state: CircuitState }[] = [];
  for (let i = 0; i < a.circuit.length; i++) {
    const c = a.circuit[i]!;
    if (c.state === 'closed' || c.state === 'forced_closed') continue;
    const next = a.circuit[i + 1];
    let to = next ? next.ts : Math.max(endTs, c.ts);
    // An open circuit turns half-open at `until`; the change is announced with the agent's next event.
    if (c.until !== undefined && c.until < to) to = Math.max(c.until, c.ts);
    spans.push({ from: c.ts, to, state: c.state });
  }
  return spans;
}
