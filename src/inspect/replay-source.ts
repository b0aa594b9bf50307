/**
 * The inspector on a replay output folder (`trustline replay --out <dir>`): the agent's final
 * state from `state.jsonl`, completed from `scores.jsonl` (events, reasons, the events that
 * moved its trust most), `trust.jsonl` (identity component) and `manifest.json` (the input
 * files, for the requests behind those events). Read-only, streaming: memory grows with the
 * number of agents, not events.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reason, TrustUpdate } from '../contract/schemas.ts';
import type { Policy } from '../core/judge.ts';
import type { ScoreRow } from '../outputs/sink.ts';
import { readLines } from '../runners/replay/file-source.ts';
import { TrustlineError } from '../shared/errors.ts';
import { listRowOf, matches, sortRows, viewFromStored, type AgentFilter, type AgentListRow, type AgentView, type TrustMove } from './agent-view.ts';
import { lookupEvents } from './events.ts';

export type ReplayManifest = { files: string[]; model?: string; mode?: string };

async function eachLine<T>(file: string, fn: (value: T) => void): Promise<void> {
  if (!existsSync(file)) return;
  for await (const { bytes } of readLines(file)) if (bytes.length) fn(JSON.parse(bytes.toString('utf8')) as T);
}

function requireReplayDir(dir: string): void {
  if (!existsSync(join(dir, 'scores.jsonl'))) throw new TrustlineError('INPUT_INVALID', `${dir}: not a replay output folder (no scores.jsonl)`);
  if (!existsSync(join(dir, 'state.jsonl')))
    throw new TrustlineError('INPUT_INVALID', `${dir}: no state.jsonl (written by trustline replay since this version; replay the inputs again)`);
}

export function readManifest(dir: string): ReplayManifest | null {
  const f = join(dir, 'manifest.json');
  if (!existsSync(f)) return null;
  const m = JSON.parse(readFileSync(f, 'utf8')) as Partial<ReplayManifest>;
  return { files: Array.isArray(m.files) ? m.files.map(String) : [], ...(m.model ? { model: m.model } : {}), ...(m.mode ? { mode: m.mode } : {}) };
}

type StateLine = { file: number; tenant: string; agentId: string; state: string };

/** Final states of the replay, last file wins for an agent id seen in several files. */
async function states(dir: string, want?: { tenant?: string; agentId: string }): Promise<Map<string, StateLine>> {
  const out = new Map<string, StateLine>();
  await eachLine<StateLine>(join(dir, 'state.jsonl'), (l) => {
    if (want && (l.agentId !== want.agentId || (want.tenant !== undefined && l.tenant !== want.tenant))) return;
    out.set(`${l.tenant}\u0000${l.agentId}`, l);
  });
  return out;
}

/** Per-agent facts from `scores.jsonl` (agents are keyed by agent id there). */
async function scoreCounts(dir: string): Promise<Map<string, number>> {
  const n = new Map<string, number>();
  await eachLine<Pick<ScoreRow, 'agentId'>>(join(dir, 'scores.jsonl'), (r) => n.set(r.agentId, (n.get(r.agentId) ?? 0) + 1));
  return n;
}

/**
 * `trustline agents --replay <dir>`. `sinceAgoMs` (from `--since 2h`) counts back from the
 * replay's last event, not from the wall clock.
 */
export async function agentsFromReplay(
  dir: string,
  policy: Policy,
  filter: AgentFilter = {},
  sinceAgoMs?: number,
): Promise<{ rows: AgentListRow[]; total: number }> {
  requireReplayDir(dir);
  const all = await states(dir);
  const counts = await scoreCounts(dir);
  const rows: AgentListRow[] = [];
  for (const l of all.values()) {
    const v = viewFromStored({ tenant: l.tenant, agentId: l.agentId }, Buffer.from(l.state, 'base64'), policy, 'replay');
    if (!v) continue;
    v.events = counts.get(l.agentId) ?? 0;
    rows.push(listRowOf(v));
  }
  const f = { ...filter };
  if (sinceAgoMs !== undefined) f.since = Math.max(...rows.map((r) => r.lastSeen)) - sinceAgoMs;
  return { rows: sortRows(rows.filter((r) => matches(r, f))), total: all.size };
}

/**
 * `trustline agent <id> --replay <dir>`: `null` when the replay never saw the agent. `movers`
 * events with the largest trust change and the last `reasons` events that had reasons; with
 * `details`, the requests behind the movers are read from the manifest's input files.
 */
export async function agentFromReplay(
  dir: string,
  key: { tenant?: string; agentId: string },
  policy: Policy,
  o: { movers?: number; reasons?: number; details?: boolean } = {},
): Promise<AgentView | null> {
  requireReplayDir(dir);
  const found = [...(await states(dir, key)).values()];
  if (!found.length) return null;
  const l = found[found.length - 1]!;
  const v = viewFromStored({ tenant: l.tenant, agentId: l.agentId }, Buffer.from(l.state, 'base64'), policy, 'replay');
  if (!v) throw new TrustlineError('STATE_CORRUPT', `${dir}/state.jsonl: the state of ${key.agentId} is not of this build's layout`);
  if (found.length > 1) v.notes.push(`the id appears in ${found.length} replayed files; the state is the last file's, events are counted over all`);
  const nMovers = o.movers ?? 5;
  const nReasons = o.reasons ?? 5;
  const movers: TrustMove[] = [];
  const recent: { ts: number; seq: number; reasons: Reason[] }[] = [];
  let prev: number | null = null;
  let events = 0;
  await eachLine<ScoreRow>(join(dir, 'scores.jsonl'), (r) => {
    if (r.agentId !== l.agentId) return;
    events++;
    if (r.reasons.length) {
      recent.push({ ts: r.ts, seq: r.seq, reasons: r.reasons });
      if (recent.length > nReasons) recent.shift();
    }
    if (prev !== null) {
      const delta = Math.round((r.trust - prev) * 10_000) / 10_000;
      if (delta !== 0 && (movers.length < nMovers || Math.abs(delta) > Math.abs(movers[movers.length - 1]!.delta))) {
        movers.push({
          ts: r.ts,
          seq: r.seq,
          eventId: r.eventId,
          delta,
          trust: r.trust,
          band: r.band,
          circuit: r.circuit,
          anomaly: r.anomaly,
          reasons: r.reasons,
        });
        movers.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || a.ts - b.ts);
        if (movers.length > nMovers) movers.pop();
      }
    }
    prev = r.trust;
  });
  let last: TrustUpdate | null = null;
  await eachLine<TrustUpdate>(join(dir, 'trust.jsonl'), (t) => {
    if (t.agentId === l.agentId && t.tenant === l.tenant) last = t;
  });
  if (last) v.components.identity = (last as TrustUpdate).components.identity;
  v.events = events;
  v.recentReasons = recent.reverse();
  v.movers = movers;
  if (o.details !== false && movers.length) {
    const manifest = readManifest(dir);
    const found2 = manifest ? await lookupEvents(manifest.files, new Set(movers.map((m) => m.eventId))) : new Map();
    for (const m of movers) {
      const d = found2.get(m.eventId);
      if (d) m.request = d;
    }
    if (!found2.size) v.notes.push('the replayed input files are not readable from here: requests behind the events are not shown');
  }
  return v;
}
