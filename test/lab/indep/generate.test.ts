/** The independent traffic generator (lab/indep): deterministic, valid, labelled as lab/eval reads, and its perturbation knobs act. */
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../../src/contract/decode.ts';
import { parseLabels } from '../../../lab/eval/labels.ts';
import { ATTACK_KINDS, BENIGN_KINDS, generateIndep, NOVEL_ATTACK_KINDS } from '../../../lab/indep/generate.ts';

const SMALL = { durationMin: 360, benignAgents: 21, attacksPerKind: 1 };

describe('lab/indep generator', () => {
  const a = generateIndep({ seed: 7, ...SMALL });

  it('is deterministic: same seed, same events and labels; another seed differs', () => {
    const b = generateIndep({ seed: 7, ...SMALL });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(generateIndep({ seed: 8, ...SMALL }).events.slice(0, 50))).not.toBe(JSON.stringify(a.events.slice(0, 50)));
  });

  it('every event passes the contract decoder, ids are unique, the stream is in time order', () => {
    const ids = new Set<string>();
    let last = 0;
    for (const e of a.events) {
      const r = decodeEvent(JSON.stringify(e));
      expect(r.ok, JSON.stringify(r)).toBe(true);
      ids.add(e.eventId);
      expect(e.ts).toBeGreaterThanOrEqual(last);
      last = e.ts;
    }
    expect(ids.size).toBe(a.events.length);
  });

  it('labels every agent in the lab/eval format, every kind present, each attack has an event at its start', () => {
    const labels = parseLabels(JSON.parse(JSON.stringify(a.labels)), 'generated');
    const agents = new Set(a.events.map((e) => e.agent.id));
    expect(new Set(Object.keys(labels.agents))).toEqual(agents);
    const benign = new Set(
      Object.values(labels.agents)
        .filter((l) => !l.malicious)
        .map((l) => l.scenario),
    );
    const attacks = new Set(
      Object.values(labels.agents)
        .filter((l) => l.malicious)
        .map((l) => l.scenario),
    );
    expect([...benign].sort()).toEqual([...BENIGN_KINDS].sort());
    expect([...attacks].sort()).toEqual([...ATTACK_KINDS].sort());
    expect(BENIGN_KINDS.length).toBeGreaterThanOrEqual(7);
    expect(ATTACK_KINDS.length).toBeGreaterThanOrEqual(9);
    expect(NOVEL_ATTACK_KINDS.length).toBeGreaterThanOrEqual(3);
    for (const [id, l] of Object.entries(labels.agents)) {
      if (!l.malicious) continue;
      expect(
        a.events.some((e) => e.agent.id === id && e.ts === l.attackStartTs),
        id,
      ).toBe(true);
    }
    // An attacker active from its very first request: no event before its start.
    const born = Object.entries(labels.agents).filter(([, l]) => l.scenario === 'born_login_flood');
    for (const [id, l] of born) expect(Math.min(...a.events.filter((e) => e.agent.id === id).map((e) => e.ts))).toBe(l.attackStartTs);
  });

  it('benign traffic stays inside the granted scopes', () => {
    for (const e of a.events) {
      if (a.labels.agents[e.agent.id]!.malicious || !e.action?.requiredScope) continue;
      expect(e.agent.auth.scopes ?? [], `${e.agent.id} ${e.request.route}`).toContain(e.action.requiredScope);
    }
  });

  it('perturbation knobs: rates, population, sensitive share and network noise move what they should', () => {
    const base = generateIndep({ seed: 9, ...SMALL });
    const count = (o: object) => generateIndep({ seed: 9, ...SMALL, ...o });
    const benignEvents = (g: typeof base) => g.events.filter((e) => !g.labels.agents[e.agent.id]!.malicious).length;
    expect(benignEvents(count({ rateScale: 2 }))).toBeGreaterThan(benignEvents(base) * 1.3);
    expect(benignEvents(count({ rateScale: 0.5 }))).toBeLessThan(benignEvents(base) * 0.8);
    const benignAgents = (g: typeof base) => Object.values(g.labels.agents).filter((l) => !l.malicious).length;
    // 84 and 7 agents are generated; an agent with no event in the window has no label.
    expect(benignAgents(count({ populationScale: 4 }))).toBeGreaterThanOrEqual(78);
    expect(benignAgents(count({ populationScale: 0.25 }))).toBeLessThanOrEqual(7);
    expect(benignAgents(count({ populationScale: 0.25 }))).toBeGreaterThanOrEqual(5);
    const highShare = (g: typeof base) => {
      const ev = g.events.filter((e) => g.labels.agents[e.agent.id]!.scenario === 'procurement');
      return ev.filter((e) => e.action?.sensitivity === 'high').length / ev.length;
    };
    expect(highShare(count({ sensitiveScale: 1.5 }))).toBeGreaterThan(highShare(count({ sensitiveScale: 0.5 })) * 1.8);
    const networks = (g: typeof base) =>
      new Set(g.events.filter((e) => !g.labels.agents[e.agent.id]!.malicious).map((e) => `${e.agent.id} ${e.request.ip}`)).size;
    expect(networks(count({ networkNoise: 1 }))).toBeGreaterThan(networks(base));
  });
});
