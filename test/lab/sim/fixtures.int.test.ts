/**
 * The committed behavioural fixtures: every event honours the v1 contract, the labels are
 * consistent, every attack shows its signature (and no benign agent does), the sets have
 * the promised shape, and regenerating from the seeds in fixtures/sets.json reproduces
 * every file byte for byte.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../../src/contract/decode.ts';
import type { AgentRequestEvent } from '../../../src/contract/schemas.ts';
import { generateSet } from '../../../lab/sim/generate.ts';
import { labelsPathFor, readFixtureBytes, readFixtureLines, readLabels } from '../../../lab/sim/io.ts';
import { loadManifest } from '../../../lab/sim/manifest.ts';
import { checkSignature } from '../../../lab/sim/signatures.ts';
import { SCENARIO_NAMES, type LabelsFile, type ScenarioName, type SetSpec } from '../../../lab/sim/types.ts';
import { groupByAgent, verifySet } from '../../../lab/sim/verify.ts';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../fixtures');
const manifest = loadManifest(join(FIXTURES, 'sets.json'));

interface Loaded {
  events: AgentRequestEvent[];
  rejected: string[];
  labels: LabelsFile;
}

const loaded = new Map<string, Loaded>();

async function load(spec: SetSpec): Promise<Loaded> {
  const cached = loaded.get(spec.name);
  if (cached) return cached;
  const path = join(FIXTURES, spec.file);
  const events: AgentRequestEvent[] = [];
  const rejected: string[] = [];
  let n = 0;
  for await (const line of readFixtureLines(path)) {
    n++;
    const r = decodeEvent(line);
    if (r.ok) events.push(r.event);
    else rejected.push(`line ${n}: ${r.code} at ${r.path}: ${r.message}`);
  }
  const out = { events, rejected, labels: readLabels(labelsPathFor(path)) };
  loaded.set(spec.name, out);
  return out;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('committed fixture sets', () => {
  it('lists train, validation and demo sets with distinct seeds', () => {
    const kinds = manifest.sets.map((s) => s.kind);
    expect(kinds).toContain('train');
    expect(kinds.filter((k) => k === 'validation').length).toBeGreaterThanOrEqual(3);
    expect(manifest.sets.filter((s) => s.kind === 'demo').map((s) => s.file)).toEqual(['demo/demo.jsonl']);
    expect(new Set(manifest.sets.map((s) => s.seed)).size).toBe(manifest.sets.length);
    for (const s of manifest.sets) {
      expect(existsSync(join(FIXTURES, s.file)), s.file).toBe(true);
      expect(existsSync(labelsPathFor(join(FIXTURES, s.file))), `${s.file} labels`).toBe(true);
    }
  });

  describe.each(manifest.sets.map((s) => [s.name, s] as const))('%s', (_name, spec) => {
    let set: Loaded;
    beforeAll(async () => {
      set = await load(spec);
    }, 60_000);

    it('decodes every event with decodeEvent', () => {
      expect(set.rejected.slice(0, 5)).toEqual([]);
      expect(set.events.length).toBeGreaterThan(0);
    });

    it('is consistent with its labels and every attack shows its signature', () => {
      expect(verifySet(set.events, set.labels, { minPreAttackEvents: spec.minPreAttackEvents })).toEqual([]);
    });

    it('keeps event time inside the set window, mostly in tenant "default"', () => {
      const end = spec.startTs + spec.durationMin * 60_000;
      expect(set.events[0]!.ts).toBeGreaterThanOrEqual(spec.startTs);
      expect(set.events[set.events.length - 1]!.ts).toBeLessThan(end);
      const tenants = new Map<string, number>();
      for (const e of set.events) tenants.set(e.tenant ?? 'default', (tenants.get(e.tenant ?? 'default') ?? 0) + 1);
      expect(tenants.get('default')! / set.events.length).toBeGreaterThan(0.9);
      if (spec.secondTenantAgents > 0) expect(tenants.size).toBe(2);
    });

    it('has the shape promised for its kind', () => {
      const labels = Object.values(set.labels.agents);
      const malicious = labels.filter((l) => l.malicious);
      const benign = labels.filter((l) => !l.malicious);
      if (spec.kind === 'train') {
        expect(set.events.length).toBeGreaterThanOrEqual(60_000);
        expect(labels.length).toBeGreaterThanOrEqual(150);
        expect(labels.length).toBeLessThanOrEqual(250);
        expect(malicious.length / labels.length).toBeLessThanOrEqual(0.1);
        expect(spec.durationMin).toBeGreaterThanOrEqual(2 * 24 * 60);
      } else if (spec.kind === 'validation') {
        expect(benign.length).toBeGreaterThanOrEqual(60);
        expect(benign.length).toBeLessThanOrEqual(100);
        expect(new Set(malicious.map((l) => l.scenario))).toEqual(new Set(SCENARIO_NAMES));
      } else {
        expect(set.events.length).toBeGreaterThanOrEqual(3000);
        expect(set.events.length).toBeLessThanOrEqual(8000);
        expect(labels.length).toBeGreaterThanOrEqual(20);
        expect(labels.length).toBeLessThanOrEqual(40);
        expect(malicious.length).toBeGreaterThanOrEqual(3);
        expect(malicious.length).toBeLessThanOrEqual(4);
        expect(spec.durationMin).toBeGreaterThanOrEqual(5);
        expect(spec.durationMin).toBeLessThanOrEqual(10);
        for (const l of malicious) expect(l.attackStartTs! - spec.startTs).toBeGreaterThanOrEqual(2 * 60_000);
      }
      // Benign agents follow at least 8 distinct profiles in the larger sets.
      if (spec.kind !== 'demo') expect(new Set(benign.map((l) => l.profile)).size).toBeGreaterThanOrEqual(8);
    });
  });

  it('validation sets hold every attack type at least 6 times', async () => {
    const counts = new Map<string, number>();
    for (const spec of manifest.sets.filter((s) => s.kind === 'validation')) {
      const { labels } = await load(spec);
      for (const l of Object.values(labels.agents)) if (l.malicious) counts.set(l.scenario, (counts.get(l.scenario) ?? 0) + 1);
    }
    for (const s of SCENARIO_NAMES) expect(counts.get(s) ?? 0, s).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('no attack signature holds before its attack starts', async () => {
    // The signature is caused by the attack: measured on the host's own history alone
    // (split at its midpoint), it is absent.
    let checked = 0;
    for (const spec of manifest.sets.filter((s) => s.kind === 'validation')) {
      const { events, labels } = await load(spec);
      const byAgent = groupByAgent(events);
      for (const [id, l] of Object.entries(labels.agents)) {
        if (!l.malicious || l.traits.includes('new_agent')) continue;
        const pre = byAgent.get(id)!.filter((e) => e.ts < l.attackStartTs!);
        const r = checkSignature(l.scenario as ScenarioName, pre, pre[Math.floor(pre.length / 2)]!.ts);
        expect(r.ok, `${id} ${l.scenario}: ${r.detail}`).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  }, 60_000);

  it('regenerates byte for byte from the seeds in fixtures/sets.json', () => {
    for (const spec of manifest.sets) {
      const path = join(FIXTURES, spec.file);
      const g = generateSet(spec);
      // Compare the uncompressed stream (zlib builds may compress the same bytes differently).
      expect(sha256(g.jsonl), spec.file).toBe(sha256(readFixtureBytes(path)));
      expect(sha256(g.labelsJson), `${spec.name} labels`).toBe(sha256(readFileSync(labelsPathFor(path))));
    }
  }, 120_000);
});
