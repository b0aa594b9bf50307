/**
 * `trustline agent(s) --replay`: the demo fixture is replayed through the real pipeline, then
 * inspected through the command line; every figure is checked against the replay's own
 * scores.jsonl and input file.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/agent.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { AgentListRow, AgentView } from '../../src/inspect/agent-view.ts';
import { durationText } from '../../src/inspect/format.ts';
import type { ScoreRow } from '../../src/outputs/sink.ts';
import { replayFiles } from '../../src/runners/replay/replay.ts';
import { runCli } from '../support/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const INPUT = join(ROOT, 'fixtures/demo/demo.jsonl');

const run = runCli;

describe('trustline agent(s) on a replay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trustline-inspect-'));
  let scores: ScoreRow[] = [];
  const lastOf = (id: string): ScoreRow => scores.filter((s) => s.agentId === id).at(-1)!;
  beforeAll(async () => {
    await replayFiles([INPUT], dir, loadConfig({ env: {} }));
    scores = readFileSync(join(dir, 'scores.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ScoreRow);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists every agent, lowest trust first, with its final trust, band and circuit', async () => {
    const r = await run(['agents', '--replay', dir, '--json', '--limit', '0']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as { total: number; matched: number; agents: AgentListRow[] };
    const ids = new Set(scores.map((s) => s.agentId));
    expect(list.total).toBe(ids.size);
    expect(list.agents).toHaveLength(ids.size);
    for (let i = 1; i < list.agents.length; i++) expect(list.agents[i]!.trust).toBeGreaterThanOrEqual(list.agents[i - 1]!.trust);
    for (const a of list.agents) {
      const last = lastOf(a.agentId);
      expect([a.trust, a.band, a.circuit, a.lastSeen, a.events]).toEqual([
        last.trust,
        last.band,
        last.circuit,
        last.ts,
        scores.filter((s) => s.agentId === a.agentId).length,
      ]);
      expect(a.peerGroup).toBeNull();
    }
  });

  it("filters by band, circuit and time since the replay's last event", async () => {
    const blocked = JSON.parse((await run(['agents', '--replay', dir, '--json', '--band', 'block,restrict'])).out) as { agents: AgentListRow[] };
    expect(blocked.agents.length).toBeGreaterThan(0);
    expect(blocked.agents.every((a) => a.band === 'block' || a.band === 'restrict')).toBe(true);
    const open = JSON.parse((await run(['agents', '--replay', dir, '--json', '--circuit', 'open'])).out) as { agents: AgentListRow[] };
    expect(open.agents.map((a) => a.agentId).sort()).toEqual([...new Set(scores.map((s) => s.agentId))].filter((id) => lastOf(id).circuit === 'open').sort());
    const end = Math.max(...scores.map((s) => s.ts));
    const recent = JSON.parse((await run(['agents', '--replay', dir, '--json', '--limit', '0', '--since', '20s'])).out) as { agents: AgentListRow[] };
    expect(recent.agents.map((a) => a.agentId).sort()).toEqual([...new Set(scores.map((s) => s.agentId))].filter((id) => lastOf(id).ts >= end - 20_000).sort());
    const text = (await run(['agents', '--replay', dir, '--limit', '3'])).out;
    expect(text.split('\n')[0]).toMatch(/^agent\s+trust\s+band\s+circuit\s+until\s+last seen\s+events\s+peer group$/);
    expect(text).toContain(`3 of ${new Set(scores.map((s) => s.agentId)).size} agents`);
  });

  it('explains one agent: components, baseline, recent reasons, the events that moved its trust most and the requests behind them', async () => {
    const lowest = (JSON.parse((await run(['agents', '--replay', dir, '--json'])).out) as { agents: AgentListRow[] }).agents[0]!;
    const r = await run(['agent', lowest.agentId, '--replay', dir, '--json', '--movers', '4']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.out) as AgentView;
    const mine = scores.filter((s) => s.agentId === lowest.agentId);
    expect(v).toMatchObject({
      source: 'replay',
      agentId: lowest.agentId,
      trust: mine.at(-1)!.trust,
      band: mine.at(-1)!.band,
      events: mine.length,
      peerGroup: null,
    });
    expect(v.baseline.firstSeen).toBe(mine[0]!.ts);
    expect(v.baseline.lastSeen).toBe(mine.at(-1)!.ts);
    for (const c of Object.values(v.components)) expect(c).toBeGreaterThanOrEqual(0);
    // Movers: the 4 largest |Δtrust| of its events, largest first, each Δ as in scores.jsonl.
    const deltas = mine
      .slice(1)
      .map((s, i) => ({ eventId: s.eventId, delta: Math.round((s.trust - mine[i]!.trust) * 10_000) / 10_000 }))
      .filter((d) => d.delta !== 0);
    const expected = [...deltas]
      .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta))
      .slice(0, 4)
      .map((d) => Math.abs(d.delta));
    expect(v.movers.map((m) => Math.abs(m.delta))).toEqual(expected);
    const input = new Map(
      readFileSync(INPUT, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { eventId: string; request: { route: string; status: number } })
        .map((e) => [e.eventId, e]),
    );
    for (const m of v.movers) expect(m.request).toMatchObject({ route: input.get(m.eventId)!.request.route, status: input.get(m.eventId)!.request.status });
    expect(v.recentReasons.length).toBeGreaterThan(0);
    expect(v.recentReasons[0]!.ts).toBe(mine.filter((s) => s.reasons.length).at(-1)!.ts);
    const text = (await run(['agent', lowest.agentId, '--replay', dir])).out;
    expect(text).toContain('events that moved its trust most');
    expect(text).toContain(input.get(v.movers[0]!.eventId)!.request.route);
    expect(text).not.toMatch(/NaN|undefined/);
  });

  it('answers an unknown agent or a folder that is not a replay with one line and a non-zero exit', async () => {
    const unknown = await run(['agent', 'no-such-agent', '--replay', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe(`trustline agent: no-such-agent: no state in ${dir}\n`);
    const notReplay = await run(['agents', '--replay', join(dir, 'nope')]);
    expect(notReplay.code).toBe(1);
    expect(notReplay.err).toBe(`trustline agents: ${join(dir, 'nope')}: not a replay output folder (no scores.jsonl)\n`);
    const badFlag = await run(['agents', '--replay', dir, '--circuit', 'ajar']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.err.split('\n')[0]).toBe(
      'trustline agents: --circuit: unknown value "ajar" (one of closed, open, half_open, forced_open, forced_closed) (see trustline help agents)',
    );
  });
});

describe('formats', () => {
  it('durations read in h and min, not seconds with decimals', () => {
    expect(durationText(10_965_416)).toBe('3 h 03 min');
    expect(durationText(42_000)).toBe('42 s');
    expect(durationText(185_000)).toBe('3 min 05 s');
    expect(durationText(3 * 86_400_000 + 4 * 3_600_000)).toBe('3 d 04 h');
  });

  it('--since takes a duration or a time', () => {
    expect(parseSince('2h')).toEqual({ agoMs: 7_200_000 });
    expect(parseSince('30m')).toEqual({ agoMs: 1_800_000 });
    expect(parseSince('2026-01-01T00:00:00Z')).toEqual({ at: Date.UTC(2026, 0, 1) });
    expect(() => parseSince('yesterday')).toThrow(/neither a duration/);
  });
});
