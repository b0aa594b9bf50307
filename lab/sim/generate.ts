/**
 * Generation of one fixture set: a population of benign agents, attack instances inside
 * host agents (or as new agents), population-level events (a sale, an outage), merged into
 * one gateway-like stream ordered by event time, plus the labels sidecar.
 *
 * Guarantee: a pure function of the {@link SetSpec}: same spec ⇒ same bytes. No clock, no
 * `Math.random`; all randomness is forked from the set's seed by stable labels.
 */
import { gzipSync } from 'node:zlib';
import { createAgent, resolveIdentity, SessionCtx, sessionStarts, type Agent, type World } from './agent.ts';
import { makeDeployment, type Deployment } from './deployment.ts';
import { toWire } from './event.ts';
import { PROFILE_MIX, PROFILES } from './profiles.ts';
import { Rng } from './prng.ts';
import { SCENARIOS, type AttackPlan } from './scenarios.ts';
import { SCENARIO_NAMES, type AgentLabel, type LabelsFile, type ProfileName, type RawEvent, type ScenarioName, type SetSpec, type SimEvent } from './types.ts';

const MIN = 60_000;

/** Counts of a generated set. */
export interface SetStats {
  events: number;
  agents: number;
  benignAgents: number;
  maliciousAgents: number;
  attacks: Partial<Record<ScenarioName, number>>;
  newAgentAttacks: number;
  tenants: Record<string, number>;
  firstTs: number;
  lastTs: number;
}

/** A generated set, serialized. */
export interface GeneratedSet {
  spec: SetSpec;
  /** the JSON Lines text (uncompressed), one event per line, `\n`-terminated */
  jsonl: Buffer;
  /** the bytes of the fixture file (gzip when the file name ends in `.gz`) */
  file: Buffer;
  labels: LabelsFile;
  /** the labels sidecar bytes (pretty JSON, `\n`-terminated) */
  labelsJson: Buffer;
  stats: SetStats;
}

interface Entry {
  agent: Agent;
  events: SimEvent[];
  label: AgentLabel;
}

/** Deterministic gzip: fixed level, no file name, mtime 0, OS byte set to 255 ("unknown"). */
export function gzipDeterministic(data: Buffer): Buffer {
  const out = gzipSync(data, { level: 9, memLevel: 9 });
  out[9] = 255;
  return out;
}

function simulateBenign(agent: Agent, world: World, attempt: number): RawEvent[] {
  const sink: RawEvent[] = [];
  const rng = agent.rng.fork(`sim/${attempt}`);
  const ctx = new SessionCtx(agent, world, rng, sink, 'agent');
  const run = agent.profile.create(ctx);
  for (const t0 of sessionStarts(agent, world, rng.fork('schedule'))) run(t0);
  return sortRaw(sink.filter((e) => e.ts >= agent.startTs && e.ts < world.endTs));
}

function sortRaw(events: RawEvent[]): RawEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.ts - b.e.ts || a.i - b.i)
    .map((x) => x.e);
}

function makeWorld(spec: SetSpec, rng: Rng, tenants: string[]): World {
  const startTs = spec.startTs;
  const endTs = startTs + spec.durationMin * MIN;
  const dur = endTs - startTs;
  const world: World = { startTs, endTs, intensity: spec.intensity, outages: [], sales: [] };
  const nOut = spec.kind === 'demo' ? 1 : rng.int(1, 3);
  for (let i = 0; i < nOut; i++) {
    const len = spec.kind === 'demo' ? rng.range(20_000, 50_000) : rng.range(3, 12) * MIN;
    const from = startTs + rng.range(0.05, 0.9) * dur;
    world.outages.push({ tenant: rng.pick(tenants), from: Math.round(from), to: Math.round(from + len), p: rng.range(0.3, 0.7) });
  }
  const saleLen = spec.kind === 'demo' ? rng.range(60_000, 120_000) : rng.range(30, 90) * MIN;
  const saleFrom = spec.kind === 'demo' ? startTs + rng.range(0.1, 0.5) * dur : startTs + rng.range(0.1, 0.8) * dur;
  world.sales.push({ from: Math.round(saleFrom), to: Math.round(saleFrom + saleLen), mult: rng.range(3, 6), profiles: ['shopping', 'personal-assistant'] });
  return world;
}

/** Generate one set in memory. */
export function generateSet(spec: SetSpec): GeneratedSet {
  const root = new Rng(`trustline-sim/${spec.seed}`);
  const secondTenant = root.fork('tenant').pick(['acme-eu', 'globex', 'initech-apac', 'umbrella', 'northwind']);
  const tenants = spec.secondTenantAgents > 0 ? ['default', secondTenant] : ['default'];
  const deployments = new Map<string, Deployment>(tenants.map((t) => [t, makeDeployment(root.fork(`deploy/${t}`), t)]));
  const world = makeWorld(spec, root.fork('world'), tenants);
  const dur = world.endTs - world.startTs;
  const entries: Entry[] = [];
  let index = 0;

  // Benign population.
  const popRng = root.fork('population');
  const secondSlots = new Set(popRng.sample([...Array(spec.benignAgents).keys()], spec.secondTenantAgents));
  for (let i = 0; i < spec.benignAgents; i++) {
    const arng = root.fork(`benign/${i}`);
    const profile = PROFILES[arng.weighted(PROFILE_MIX)];
    const tenant = secondSlots.has(i) ? secondTenant : 'default';
    const cold = arng.chance(spec.coldStartShare);
    const startTs = cold ? Math.round(world.startTs + arng.range(0.1, 0.7) * dur) : world.startTs;
    const agent = createAgent(profile, deployments.get(tenant)!, arng, {
      index: index++,
      tenant,
      omitTenant: tenant === 'default' && arng.chance(0.25),
      startTs,
      activity: 1,
      worldStart: world.startTs,
      worldEnd: world.endTs,
      hardCases: true,
    });
    const raws = simulateBenign(agent, world, 0);
    const events = resolveIdentity(agent, raws, world.startTs, agent.rng.fork('identity'));
    entries.push({
      agent,
      events,
      label: { malicious: false, scenario: profile.name, attackStartTs: null, tenant, profile: profile.name, traits: agent.traits },
    });
  }

  // Attacks.
  for (const name of SCENARIO_NAMES) {
    const def = SCENARIOS[name];
    const n = spec.attacks[name] ?? 0;
    for (let k = 0; k < n; k++) {
      const arng = root.fork(`attack/${name}/${k}`);
      // Attacks live in the default tenant: the second tenant holds only its one or two agents.
      const tenant = 'default';
      const d = deployments.get(tenant)!;
      const newAgent = arng.chance(def.newAgentChance);
      const [w0, w1] = spec.attackWindow;
      const durationMs = def.duration(arng, spec.kind);
      const traits: string[] = [];
      let agent: Agent | undefined;
      let raws: RawEvent[] = [];
      let startTs = 0;
      if (newAgent) {
        const cover = PROFILES[arng.weighted(def.covers!)];
        startTs = Math.round(world.startTs + arng.range(w0, w1) * dur);
        agent = createAgent(cover, d, arng.fork('agent'), {
          index: index++,
          tenant,
          omitTenant: false,
          startTs,
          activity: 1,
          worldStart: world.startTs,
          worldEnd: world.endTs,
          hardCases: false,
        });
        traits.push('new_agent');
      } else {
        const latest = world.endTs - def.minSpan(spec.kind);
        for (let attempt = 0; ; attempt++) {
          if (attempt > 60) throw new Error(`${spec.name}: no host for ${name}#${k}`);
          const hrng = arng.fork(`host/${attempt}`);
          const profile = PROFILES[hrng.weighted(def.hosts)];
          const cand = createAgent(profile, d, hrng, {
            index,
            tenant,
            omitTenant: tenant === 'default' && hrng.chance(0.25),
            startTs: world.startTs,
            activity: 1.6 ** Math.floor(attempt / 3),
            worldStart: world.startTs,
            worldEnd: world.endTs,
            hardCases: true,
          });
          if (def.eligible && !def.eligible(cand)) continue;
          const sim = simulateBenign(cand, world, attempt);
          const wanted = Math.round(world.startTs + hrng.range(w0, w1) * dur);
          const minPre = sim[spec.minPreAttackEvents - 1];
          if (minPre === undefined) continue;
          const s = Math.max(wanted, minPre.ts + 1);
          const after = sim.filter((e) => e.ts >= s);
          const postSpan = after.length > 0 ? after[after.length - 1]!.ts - after[0]!.ts : 0;
          if (s <= latest && after.length >= (def.minPostEvents ?? 0) && postSpan >= (def.minPostSpan ?? 0)) {
            agent = cand;
            raws = sim;
            startTs = s;
            break;
          }
        }
        index++;
        traits.push(`host:${agent.profile.name}`);
      }
      const plan: AttackPlan = {
        agent,
        world,
        kind: spec.kind,
        newAgent,
        startTs,
        endTs: Math.min(world.endTs, startTs + durationMs),
        pre: raws.filter((e) => e.ts < startTs),
        post: raws.filter((e) => e.ts >= startTs),
        rng: arng.fork('scenario'),
        traits,
      };
      const attackSink: RawEvent[] = [];
      const atk = new SessionCtx(agent, world, arng.fork('attacker-ctx'), attackSink, 'attacker');
      const kept = def.apply(plan, atk);
      const merged = sortRaw([...plan.pre, ...kept, ...attackSink].filter((e) => e.ts >= agent.startTs && e.ts < world.endTs));
      let events = resolveIdentity(agent, merged, world.startTs, arng.fork('identity'));
      if (def.finalize) events = def.finalize(plan, events);
      let first = Infinity;
      for (const e of events) if (e.actor === 'attacker' && e.ts < first) first = e.ts;
      if (!Number.isFinite(first)) throw new Error(`${spec.name}: ${name}#${k} produced no attack events`);
      entries.push({
        agent,
        events,
        label: {
          malicious: true,
          scenario: name,
          attackStartTs: first,
          tenant,
          profile: agent.profile.name,
          traits: [...traits, ...agent.traits.filter((t) => t !== 'cold_start')],
        },
      });
    }
  }

  // Population-level traits, known only after simulation.
  for (const { agent, events, label } of entries) {
    if (label.malicious) continue;
    const sale = world.sales.find((s) => s.profiles.includes(agent.profile.name as ProfileName) && events.some((e) => e.ts >= s.from && e.ts < s.to));
    if (sale) label.traits.push('sale_burst');
    if (world.outages.some((o) => o.tenant === agent.tenant && events.some((e) => e.ts >= o.from && e.ts < o.to && e.req.status >= 500)))
      label.traits.push('outage_errors');
  }

  // One stream, ordered by event time; ties by agent, then by the agent's own order.
  const all: { e: SimEvent; a: number; i: number }[] = [];
  for (const { agent, events } of entries) events.forEach((e, i) => all.push({ e, a: agent.index, i }));
  all.sort((x, y) => x.e.ts - y.e.ts || x.a - y.a || x.i - y.i);
  const lines: string[] = new Array<string>(all.length);
  for (let i = 0; i < all.length; i++) lines[i] = JSON.stringify(toWire(all[i]!.e, `${spec.seed}-${i + 1}`));
  const jsonl = Buffer.from(lines.length > 0 ? lines.join('\n') + '\n' : '', 'utf8');
  const file = spec.file.endsWith('.gz') ? gzipDeterministic(jsonl) : jsonl;

  const agents: Record<string, AgentLabel> = {};
  const sorted = entries.filter((x) => x.events.length > 0).sort((x, y) => (x.agent.id < y.agent.id ? -1 : x.agent.id > y.agent.id ? 1 : 0));
  for (const { agent, label } of sorted) {
    if (agents[agent.id]) throw new Error(`${spec.name}: duplicate agent id ${agent.id}`);
    agents[agent.id] = {
      malicious: label.malicious,
      scenario: label.scenario,
      attackStartTs: label.attackStartTs,
      tenant: label.tenant,
      profile: label.profile,
      traits: label.traits,
    };
  }
  const labels: LabelsFile = { set: spec.name, seed: spec.seed, agents };
  const labelsJson = Buffer.from(JSON.stringify(labels, null, 1) + '\n', 'utf8');

  const attacks: Partial<Record<ScenarioName, number>> = {};
  let newAgentAttacks = 0;
  const tenantCounts: Record<string, number> = {};
  for (const { label, events } of entries) {
    if (events.length === 0) continue;
    tenantCounts[label.tenant] = (tenantCounts[label.tenant] ?? 0) + 1;
    if (!label.malicious) continue;
    const s = label.scenario as ScenarioName;
    attacks[s] = (attacks[s] ?? 0) + 1;
    if (label.traits.includes('new_agent')) newAgentAttacks++;
  }
  const present = entries.filter((x) => x.events.length > 0);
  return {
    spec,
    jsonl,
    file,
    labels,
    labelsJson,
    stats: {
      events: all.length,
      agents: present.length,
      benignAgents: present.filter((x) => !x.label.malicious).length,
      maliciousAgents: present.filter((x) => x.label.malicious).length,
      attacks,
      newAgentAttacks,
      tenants: tenantCounts,
      firstTs: all[0]?.e.ts ?? 0,
      lastTs: all[all.length - 1]?.e.ts ?? 0,
    },
  };
}
