/**
 * Cold start and legitimate change must not trip the breaker: new agents, agents that move
 * network (and get a new client version), benign bursts (a sale, retries during an outage) and
 * token expiry stay out of `block` and keep the circuit closed. Real committed model, default
 * policy, the pipeline's own feature/score/judge steps (lab/eval/offline.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { DetectionEvaluator } from '../../lab/eval/evaluator.ts';
import { loadLabels, sidecarOf } from '../../lab/eval/labels.ts';
import { judgeEvents, judgeScored, scoreEvents, scoreFile } from '../../lab/eval/offline.ts';
import { loadAnomalyScorer, type PipelineScorer } from '../../src/scoring/pipeline-scorer.ts';
import { T0, ev, int, pick, rng } from '../support/events.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
let scorer: PipelineScorer;

beforeAll(async () => {
  scorer = await loadAnomalyScorer(join(ROOT, 'models/trustline-tailsum.json'));
});
afterAll(async () => {
  await scorer?.close();
});

const ROUTES = [
  { route: '/products/{id}', name: 'product.read', sensitivity: 'low', bytes: 20_000 },
  { route: '/search', name: 'product.search', sensitivity: 'low', bytes: 40_000 },
  { route: '/cart/items', name: 'cart.add', sensitivity: 'low', bytes: 1_200, method: 'POST' },
  { route: '/orders/{id}', name: 'order.read', sensitivity: 'medium', bytes: 4_000 },
] as const;

type Knobs = {
  agentId: string;
  start?: number;
  gapMs?: [number, number];
  asn?: number;
  country?: string;
  ua?: string;
  status?: (i: number) => number;
  tokenAgeS?: (i: number) => number;
};

/** A shopping agent's ordinary requests; `knobs` vary the network, client, rhythm and responses. */
function shopper(n: number, seed: number, k: Knobs, from = 0): AgentRequestEvent[] {
  const r = rng(seed);
  const out: AgentRequestEvent[] = [];
  let ts = k.start ?? T0;
  for (let i = from; i < from + n; i++) {
    ts += int(r, k.gapMs?.[0] ?? 2_000, k.gapMs?.[1] ?? 20_000);
    const x = pick(r, ROUTES);
    out.push(
      ev({
        eventId: `${k.agentId}-${i}`,
        ts,
        agent: {
          id: k.agentId,
          userAgent: k.ua ?? 'ShopperBot/2.1.0',
          auth: { scopes: ['catalog:read', 'cart:write', 'orders:read', 'payments:write'], tokenAgeS: k.tokenAgeS?.(i) ?? 300 + (i % 50) * 20 },
        },
        request: {
          method: 'method' in x ? x.method : 'GET',
          route: x.route,
          path: x.route.replace('{id}', String(int(r, 1, 5_000_000))),
          status: k.status?.(i) ?? (r() < 0.01 ? 404 : 200),
          bytesOut: Math.round(x.bytes * (0.5 + r())),
          asn: k.asn ?? 64_500,
          country: k.country ?? 'DE',
          ip: `198.51.${(k.asn ?? 64_500) % 250}.${int(r, 1, 200)}`,
        },
        action: { name: x.name, sensitivity: x.sensitivity },
      }),
    );
  }
  return out;
}

/** A checkout (cart → payment) as a shopping agent makes now and then. */
function checkout(agentId: string, ts: number, k: Partial<Knobs> = {}): AgentRequestEvent[] {
  const base = {
    agent: { id: agentId, userAgent: k.ua ?? 'ShopperBot/2.1.0', auth: { scopes: ['catalog:read', 'cart:write', 'orders:read', 'payments:write'] } },
  };
  const net = { asn: k.asn ?? 64_500, country: k.country ?? 'DE', ip: '198.51.0.9' };
  return [
    ev({
      ...base,
      eventId: `${agentId}-co-${ts}`,
      ts,
      request: { method: 'POST', route: '/checkouts', status: 201, bytesOut: 2_500, ...net },
      action: { name: 'checkout.create', sensitivity: 'medium', requiredScope: 'cart:write' },
    }),
    ev({
      ...base,
      eventId: `${agentId}-pay-${ts}`,
      ts: ts + 1_500,
      request: { method: 'POST', route: '/payments', status: 201, bytesOut: 800, ...net },
      action: { name: 'payment.create', sensitivity: 'high', amount: 42.5, currency: 'EUR', requiredScope: 'payments:write' },
    }),
  ];
}

async function outcomes(events: AgentRequestEvent[]) {
  const scored = await scoreEvents(events, scorer);
  return judgeEvents(scored, DEFAULT_POLICY);
}

function expectNeverBlockedOrOpen(rows: Awaited<ReturnType<typeof outcomes>>): void {
  const bad = rows.filter((r) => r.band === 'block' || r.circuit === 'open' || r.circuit === 'half_open');
  expect(bad.map((r) => `${r.agentId} @${r.ts - T0}ms: trust ${r.trust} ${r.band} circuit ${r.circuit} (anomaly ${r.anomaly})`)).toEqual([]);
}

describe('legitimate behaviour stays out of block and keeps the circuit closed', () => {
  it('new agents: fast and slow pollers, a first request that fails authentication or is not found, a first checkout', async () => {
    const events: AgentRequestEvent[] = [];
    for (let a = 0; a < 12; a++) {
      const agentId = `new-${a}`;
      const gapMs: [number, number] = a % 3 === 0 ? [80, 300] : a % 3 === 1 ? [60_000, 180_000] : [1_000, 10_000];
      const first = a % 4 === 1 ? 401 : a % 4 === 2 ? 404 : 200;
      const list = shopper(40, 100 + a, { agentId, start: T0 + a * 7_000, gapMs, status: (i) => (i === 0 ? first : 200) });
      if (a % 4 === 3) list.splice(3, 0, ...checkout(agentId, list[2]!.ts + 500));
      events.push(...list);
    }
    events.sort((x, y) => x.ts - y.ts);
    expectNeverBlockedOrOpen(await outcomes(events));
  });

  it('an established agent that moves network (same country) with a new client version, and one that roams back and forth', async () => {
    const a = 'mover';
    const before = shopper(300, 7, { agentId: a });
    const after = shopper(150, 8, { agentId: a, start: before.at(-1)!.ts, asn: 64_777, ua: 'ShopperBot/2.2.0' }, 300);
    const r = 'roamer';
    const roam = [0, 1, 2, 3, 4, 5].flatMap((k) => shopper(60, 20 + k, { agentId: r, start: T0 + k * 3_600_000, asn: k % 2 ? 65_100 : 64_500 }, k * 60));
    expectNeverBlockedOrOpen(await outcomes([...before, ...after, ...roam].sort((x, y) => x.ts - y.ts)));
  });

  it('a sale: ten minutes at several requests a second on the usual routes, with some throttling and a few checkouts', async () => {
    const a = 'sale';
    const usual = shopper(300, 11, { agentId: a });
    const t = usual.at(-1)!.ts;
    const burst = shopper(2_400, 12, { agentId: a, start: t, gapMs: [100, 400], status: (i) => (i % 37 === 0 ? 429 : 200) }, 300);
    const buys = [60, 240, 420].flatMap((s) => checkout(a, t + s * 1_000));
    const calm = shopper(100, 13, { agentId: a, start: burst.at(-1)!.ts }, 2_700);
    expectNeverBlockedOrOpen(await outcomes([...usual, ...burst, ...buys, ...calm].sort((x, y) => x.ts - y.ts)));
  });

  it('retries during an outage (a storm of 503s retried within milliseconds) and token expiry (401, then a fresh token)', async () => {
    const a = 'storm';
    const usual = shopper(300, 21, { agentId: a });
    const t = usual.at(-1)!.ts;
    const storm = shopper(60, 22, { agentId: a, start: t, gapMs: [30, 250], status: (i) => (i < 340 ? 503 : 200) }, 300);
    const after = shopper(100, 23, { agentId: a, start: storm.at(-1)!.ts }, 360);
    const b = 'expiry';
    const expiring = shopper(600, 31, { agentId: b, status: (i) => (i % 120 === 119 ? 401 : 200), tokenAgeS: (i) => (i % 120) * 30 });
    expectNeverBlockedOrOpen(await outcomes([...usual, ...storm, ...after, ...expiring].sort((x, y) => x.ts - y.ts)));
  });
});

describe('benign hard cases of the validation fixtures', () => {
  it('no benign agent with a cold start, network change, redeploy, sale burst, retry storm, outage or token expiry is ever blocked or has its circuit opened', async () => {
    const hard = ['cold_start', 'network_change', 'redeploy_new_network', 'ua_version_bump', 'sale_burst', 'retry_storm', 'outage_errors', 'token_expiry_401'];
    const e = new DetectionEvaluator();
    const blocked: string[] = [];
    let seen = 0;
    for (const x of ['a', 'b', 'c']) {
      const file = join(ROOT, `fixtures/validation/validation-${x}.jsonl.gz`);
      const labels = loadLabels(sidecarOf(file));
      const scored = await scoreFile(file, scorer);
      e.beginStream(file, labels);
      judgeScored(scored, DEFAULT_POLICY, e);
      const rows = judgeEvents(scored, DEFAULT_POLICY);
      for (const r of rows) {
        const l = labels.agents[r.agentId];
        if (!l || l.malicious || !l.traits?.some((t) => hard.includes(t))) continue;
        seen++;
        if (r.band === 'block' || r.circuit === 'open') blocked.push(`${r.agentId} (${l.traits.join(' ')})`);
      }
    }
    expect(seen).toBeGreaterThan(10_000);
    expect([...new Set(blocked)]).toEqual([]);
    // And the same agents are at most rarely restricted: within the ≤ 1 % false-positive target.
    expect(e.summary({ ranking: false }).overall.falsePositiveRate).toBeLessThanOrEqual(0.01);
  }, 60_000); // scores three fixture files: CPU-bound, slow on a loaded machine

  it('uses the committed model trained on this feature version', () => {
    const card = JSON.parse(readFileSync(join(ROOT, 'models/trustline-tailsum.json'), 'utf8')) as { family: string };
    expect(scorer.modelId).toMatch(/^trustline-tailsum@/);
    expect(card.family).toBe('tail_sum');
  });
});
