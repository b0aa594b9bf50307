/**
 * The events behind a verdict, for the report's drill-down: per agent, the event that first
 * put it in restrict/block or opened its circuit (its first flag) with the few events before
 * it, and the events that moved its trust most; each with the request behind it (route,
 * status, network) read back from the replayed input files.
 *
 * Streaming over `scores.jsonl`: memory grows with the number of agents, not events.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Band, CircuitState, Reason } from '../../src/contract/schemas.ts';
import type { EventDetail } from '../../src/inspect/agent-view.ts';
import { lookupEvents } from '../../src/inspect/events.ts';
import type { ScoreRow } from '../../src/outputs/sink.ts';
import { readLines } from '../../src/runners/replay/file-source.ts';

/** One event of a drill-down table. */
export type DrillRow = {
  ts: number;
  seq: number;
  eventId: string;
  trust: number;
  /** Trust after minus trust before this event; null for the agent's first event. */
  delta: number | null;
  band: Band;
  circuit: CircuitState;
  reasons: Reason[];
  /** Why the row is shown. */
  role: 'first flag' | 'before' | 'largest drop' | 'largest rise';
  request?: EventDetail;
};

export type AgentDrill = { firstFlagTs: number | null; rows: DrillRow[] };

const isFlag = (r: Pick<ScoreRow, 'band' | 'circuit'>): boolean =>
  r.band === 'restrict' || r.band === 'block' || r.circuit === 'open' || r.circuit === 'forced_open';

type Acc = { prev: number | null; before: DrillRow[]; flag: DrillRow[] | null; movers: DrillRow[] };

/**
 * Drill-downs of every agent of the replay in `outDir`: `context` events before the first flag
 * and the `movers` largest trust changes. `inputs`: the replayed files, for the requests.
 */
export async function collectDrill(outDir: string, inputs: readonly string[], o: { context?: number; movers?: number } = {}): Promise<Map<string, AgentDrill>> {
  const context = o.context ?? 4;
  const nMovers = o.movers ?? 3;
  const acc = new Map<string, Acc>();
  const file = join(outDir, 'scores.jsonl');
  if (existsSync(file)) {
    for await (const { bytes } of readLines(file)) {
      if (!bytes.length) continue;
      const r = JSON.parse(bytes.toString('utf8')) as ScoreRow;
      let a = acc.get(r.agentId);
      if (!a) acc.set(r.agentId, (a = { prev: null, before: [], flag: null, movers: [] }));
      const delta = a.prev === null ? null : Math.round((r.trust - a.prev) * 10_000) / 10_000;
      a.prev = r.trust;
      const row: DrillRow = {
        ts: r.ts,
        seq: r.seq,
        eventId: r.eventId,
        trust: r.trust,
        delta,
        band: r.band,
        circuit: r.circuit,
        reasons: r.reasons,
        role: 'before',
      };
      if (!a.flag) {
        if (isFlag(r)) a.flag = [...a.before, { ...row, role: 'first flag' }];
        else {
          a.before.push(row);
          if (a.before.length > context) a.before.shift();
        }
      }
      if (delta !== null && delta !== 0 && (a.movers.length < nMovers || Math.abs(delta) > Math.abs(a.movers[a.movers.length - 1]!.delta!))) {
        a.movers.push({ ...row, role: delta < 0 ? 'largest drop' : 'largest rise' });
        a.movers.sort((x, y) => Math.abs(y.delta!) - Math.abs(x.delta!) || x.ts - y.ts);
        if (a.movers.length > nMovers) a.movers.pop();
      }
    }
  }
  const out = new Map<string, AgentDrill>();
  const ids = new Set<string>();
  for (const [agentId, a] of acc) {
    const flagged = a.flag ?? [];
    const seen = new Set(flagged.map((r) => r.seq));
    const rows = [...flagged, ...a.movers.filter((m) => !seen.has(m.seq))].sort((x, y) => x.ts - y.ts || x.seq - y.seq);
    for (const r of rows) ids.add(r.eventId);
    out.set(agentId, { firstFlagTs: a.flag ? a.flag[a.flag.length - 1]!.ts : null, rows });
  }
  const details = await lookupEvents(inputs, ids);
  for (const d of out.values())
    for (const r of d.rows) {
      const q = details.get(r.eventId);
      if (q) r.request = q;
    }
  return out;
}
