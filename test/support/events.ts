/**
 * Builders of valid AgentRequestEvent objects (and pipeline input records) for unit tests.
 *
 * Every builder is deterministic: the same arguments give the same events, and the seeded
 * generator never reads the clock or `Math.random`.
 */
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import type { InputRecord } from '../../src/pipeline/batch-processor.ts';
import { int, rng } from './prng.ts';

export { int, rng };

/** 2023-11-14T22:13:20Z — a fixed event-time origin for tests. */
export const T0 = 1_700_000_000_000;

export type EventOverrides = {
  eventId?: string;
  ts?: number;
  tenant?: string;
  agent?: Partial<Omit<AgentRequestEvent['agent'], 'auth'>> & { auth?: Partial<AgentRequestEvent['agent']['auth']> };
  request?: Partial<AgentRequestEvent['request']>;
  action?: AgentRequestEvent['action'];
};

let counter = 0;

/**
 * A valid, ordinary event: a verified OAuth agent reading an order, 200 OK, from one network
 * and user agent. Nested fields are merged, so `ev({ request: { status: 500 } })` keeps the
 * rest of the request. An `undefined` value removes an optional field.
 */
export function ev(over: EventOverrides = {}): AgentRequestEvent {
  const base: AgentRequestEvent = {
    v: 1,
    eventId: over.eventId ?? `evt-${++counter}`,
    ts: over.ts ?? T0,
    agent: {
      id: 'agent-1',
      purpose: 'shopping',
      userAgent: 'ShopperBot/2.1',
      ...over.agent,
      auth: { method: 'oauth2', verified: true, scopes: ['orders:read'], tokenAgeS: 300, ...over.agent?.auth },
    },
    request: {
      method: 'GET',
      route: '/orders/{id}',
      path: '/orders/1001',
      status: 200,
      latencyMs: 40,
      bytesIn: 200,
      bytesOut: 2000,
      ip: '198.51.100.7',
      asn: 64_500,
      country: 'DE',
      ...over.request,
    },
  };
  if (over.tenant !== undefined) base.tenant = over.tenant;
  if (over.action !== undefined) base.action = over.action;
  return dropUndefined(base);
}

function dropUndefined<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/** One of `xs`, chosen by `r`. */
export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

const ROUTES = ['/orders/{id}', '/orders', '/cart', '/products/{id}', '/search'] as const;

/**
 * Ordinary traffic of one agent: `count` events a few seconds apart over a small set of
 * routes, mostly 200s, steady sizes, one network and user agent.
 */
export function ordinaryTraffic(agentId: string, count: number, opts: { seed?: number; start?: number; gapMs?: number } = {}): AgentRequestEvent[] {
  const r = rng(opts.seed ?? 1);
  const out: AgentRequestEvent[] = [];
  let ts = opts.start ?? T0;
  for (let i = 0; i < count; i++) {
    ts += opts.gapMs ?? int(r, 2_000, 8_000);
    const route = pick(r, ROUTES);
    out.push(
      ev({
        eventId: `${agentId}-${i}`,
        ts,
        agent: { id: agentId },
        request: {
          route,
          path: route.replace('{id}', String(int(r, 1, 1_000_000))),
          status: r() < 0.02 ? 404 : 200,
          bytesOut: int(r, 1_500, 3_000),
        },
      }),
    );
  }
  return out;
}

/**
 * A mixed stream over several agents for pipeline tests: ordinary traffic with injected
 * incidents (scope violations, failed signatures, enumeration, exfiltration-sized responses,
 * network changes, out-of-order timestamps), interleaved in a fixed order.
 */
export function mixedStream(agents: number, perAgent: number, seed = 7): AgentRequestEvent[] {
  const r = rng(seed);
  const streams: AgentRequestEvent[][] = [];
  for (let a = 0; a < agents; a++) {
    const id = `agent-${a}`;
    const tenant = a % 3 === 2 ? 'acme' : undefined;
    let ts = T0 + a * 1_000;
    let seqId = 5_000;
    const list: AgentRequestEvent[] = [];
    for (let i = 0; i < perAgent; i++) {
      ts += int(r, 200, 6_000);
      const incident = i > perAgent / 3 && a % 2 === 1 && r() < 0.35 ? int(r, 0, 5) : -1;
      const route = pick(r, ROUTES);
      const base: EventOverrides = {
        eventId: `${id}-${i}`,
        ts: incident === 5 ? ts - 30_000 : ts, // out of order
        ...(tenant ? { tenant } : {}),
        agent: { id },
        request: { route, path: route.replace('{id}', String(int(r, 1, 99_999))), bytesOut: int(r, 1_000, 4_000) },
      };
      switch (incident) {
        case 0:
          base.action = { name: 'payout.create', sensitivity: 'critical', amount: 50_000, currency: 'EUR', requiredScope: 'payouts:write' };
          break;
        case 1:
          base.agent = { id, auth: { method: 'http_signature', verified: false } };
          base.request = { ...base.request, status: 401 };
          break;
        case 2:
          base.request = { route: '/users/{id}', path: `/users/${seqId++}` };
          break;
        case 3:
          base.request = { ...base.request, bytesOut: 5_000_000 };
          break;
        case 4:
          base.request = { ...base.request, asn: 13_335 + int(r, 0, 50), country: 'KP', ip: '203.0.113.9' };
          break;
      }
      list.push(ev(base));
    }
    streams.push(list);
  }
  // Interleave deterministically.
  const out: AgentRequestEvent[] = [];
  const idx = streams.map(() => 0);
  for (;;) {
    const live = streams.map((s, i) => (idx[i]! < s.length ? i : -1)).filter((i) => i >= 0);
    if (live.length === 0) break;
    const i = pick(r, live);
    out.push(streams[i]![idx[i]!++]!);
  }
  return out;
}

/** Input records for the pipeline: one per value, at positions `first`, `first + 1`, … */
export function toRecords(values: readonly (AgentRequestEvent | string | Buffer)[], first = 1, topic = 'agent.requests'): InputRecord[] {
  return values.map((v, i) => {
    const value = Buffer.isBuffer(v) ? v : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8');
    const position = first + i;
    const key = typeof v === 'object' && !Buffer.isBuffer(v) ? Buffer.from(v.agent.id) : null;
    return { value, key, position, source: { topic, partition: 0, offset: String(position) } };
  });
}
