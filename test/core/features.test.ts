import { describe, expect, it } from 'vitest';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { D, encodeState, newAgentState, type AgentState } from '../../src/core/agent-state.ts';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_VERSION, FEATURES, hash16, observe, type Signals } from '../../src/core/features.ts';
import { BatchProcessor } from '../../src/pipeline/batch-processor.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { createSigner } from '../../src/outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../../src/outputs/sink.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { T0, ev, int, mixedStream, ordinaryTraffic, rng, toRecords, type EventOverrides } from '../support/events.ts';
import { FakeScorer } from '../support/fake-scorer.ts';

const idx = (name: string): number => {
  const i = FEATURE_NAMES.indexOf(name);
  if (i < 0) throw new Error(`no feature ${name}`);
  return i;
};

/** Feeds events to one agent state and returns named feature vectors. */
class Agent {
  readonly s: AgentState = newAgentState();
  private readonly out = new Float32Array(FEATURE_COUNT);
  ts = T0;
  last: Signals | null = null;

  /** Observe an event (its `ts` is used as given when present, else 3 s after the previous one). */
  see(over: EventOverrides = {}): Record<string, number> {
    const e = ev({ ...over, ts: over.ts ?? this.ts + 3_000 });
    return this.seeEvent(e);
  }

  seeEvent(e: AgentRequestEvent): Record<string, number> {
    this.ts = Math.max(this.ts, e.ts);
    this.last = observe(this.s, e, Math.max(e.ts, this.s.d[D.lastTs]!), this.out, 0);
    return Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, this.out[i]!]));
  }

  /** `count` ordinary events to build a steady baseline. */
  warm(count = 300, seed = 5): this {
    for (const e of ordinaryTraffic('agent-1', count, { seed, start: this.ts })) this.seeEvent(e);
    return this;
  }
}

describe('feature set', () => {
  it('has fixed, named, ordered features matching FEATURES', () => {
    expect(FEATURE_VERSION).toBe(3);
    expect(FEATURE_COUNT).toBe(29);
    expect(FEATURE_NAMES).toEqual(FEATURES.map((f) => f.name));
    expect(new Set(FEATURE_NAMES).size).toBe(FEATURE_COUNT);
    // The model's input order; changing it (or a meaning) requires bumping FEATURE_VERSION.
    expect(FEATURE_NAMES).toEqual([
      'rate_shift',
      'rate_level',
      'burstiness',
      'route_novelty',
      'route_novelty_shift',
      'sequential_ids',
      'error_ratio',
      'error_shift',
      'auth_failure_ratio',
      'forbidden_ratio',
      'scope_violation',
      'sensitivity_above_usual',
      'sensitive_rate_shift',
      'sensitive_share_drift',
      'amount_z',
      'bytes_out_z',
      'bytes_out_excess',
      'bytes_out_drift',
      'network_change',
      'user_agent_change',
      'client_change',
      'identity_strength',
      'token_age',
      'purpose_mismatch',
      'off_hours',
      'agent_age',
      'rate_vs_peers',
      'error_vs_peers',
      'privileged_vs_peers',
    ]);
    expect(new Set(FEATURES.map((f) => f.reason)).size).toBe(FEATURE_COUNT);
  });

  it('writes exactly FEATURE_COUNT values at the given offset and nothing else', () => {
    const out = new Float32Array(FEATURE_COUNT * 3).fill(-123);
    observe(newAgentState(), ev(), T0, out, FEATURE_COUNT);
    expect(Array.from(out.subarray(0, FEATURE_COUNT)).every((x) => x === -123)).toBe(true);
    expect(Array.from(out.subarray(2 * FEATURE_COUNT)).every((x) => x === -123)).toBe(true);
    expect(Array.from(out.subarray(FEATURE_COUNT, 2 * FEATURE_COUNT)).some((x) => x === -123)).toBe(false);
  });

  it('hash16 is never 0 and is stable', () => {
    expect(hash16('GET /orders/{id}')).toBe(hash16('GET /orders/{id}'));
    let zeros = 0;
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) {
      const h = hash16(`r${i}`);
      if (h === 0) zeros++;
      seen.add(h);
    }
    expect(zeros).toBe(0);
    expect(seen.size).toBeGreaterThan(50_000); // as spread as uniform hashing (≈ 51,300 expected)
  });
});

describe('determinism', () => {
  it('identical event sequences give identical vectors and states', () => {
    const events = mixedStream(1, 400, 3).concat(mixedStream(2, 200, 4).filter((e) => e.agent.id === 'agent-1'));
    const run = (): { vectors: Float32Array; state: Buffer } => {
      const s = newAgentState();
      const vectors = new Float32Array(events.length * FEATURE_COUNT);
      events.forEach((e, i) => observe(s, e, Math.max(e.ts, s.d[D.lastTs]!), vectors, i * FEATURE_COUNT));
      return { vectors, state: encodeState(s) };
    };
    const a = run();
    const b = run();
    expect(Buffer.from(a.vectors.buffer).equals(Buffer.from(b.vectors.buffer))).toBe(true);
    expect(a.state.equals(b.state)).toBe(true);
    for (const x of a.vectors) expect(Number.isFinite(x)).toBe(true);
  });

  it('depends on event time only: shifting every timestamp by whole days changes no feature', () => {
    const shift = 7 * 86_400_000; // whole days: hour-of-day unchanged
    const base = ordinaryTraffic('agent-1', 80, { seed: 9 });
    const a = new Agent();
    const b = new Agent();
    let va: Record<string, number> = {};
    let vb: Record<string, number> = {};
    for (const e of base) {
      va = a.seeEvent(e);
      vb = b.seeEvent({ ...e, ts: e.ts + shift });
    }
    expect(vb).toEqual(va);
  });
});

describe('route novelty', () => {
  it('rises for new routes and falls back once they are known', () => {
    const a = new Agent().warm();
    const before = a.see();
    expect(before.route_novelty).toBeLessThan(0.05);
    let v = before;
    for (let i = 0; i < 6; i++) v = a.see({ request: { route: `/internal/${i}` } });
    expect(v.route_novelty).toBeGreaterThan(0.6);
    expect(v.route_novelty_shift).toBeGreaterThan(0.5);
    const peak = v.route_novelty;
    // The same routes again: now known, novelty decays every event.
    let prev = peak;
    for (let i = 0; i < 30; i++) {
      v = a.see({ request: { route: `/internal/${i % 6}` } });
      expect(v.route_novelty).toBeLessThan(prev!);
      prev = v.route_novelty;
    }
    expect(v.route_novelty).toBeLessThan(0.05);
    expect(v.route_novelty_shift).toBeLessThan(0.05);
  });

  it('treats the same template with a different method as a different route', () => {
    const a = new Agent().warm();
    const v = a.see({ request: { method: 'DELETE' } });
    expect(v.route_novelty).toBeGreaterThan(0.15);
  });

  it('forgets the least recently used route when the set is full (bounded set)', () => {
    const a = new Agent();
    for (let i = 0; i < 50; i++) a.see({ request: { route: '/old' } });
    // Eleven other routes push /old out of the ten-slot recency set.
    for (let k = 0; k < 5; k++) for (let i = 0; i < 11; i++) a.see({ request: { route: `/r${i}` } });
    const before = a.see({ request: { route: '/r10' } }).route_novelty;
    const v = a.see({ request: { route: '/old' } });
    expect(v.route_novelty).toBeGreaterThan(before!);
  });
});

describe('sequential ids', () => {
  it('rises for sequential numeric ids on the same route, not for random ids', () => {
    const seqAgent = new Agent().warm();
    const randAgent = new Agent().warm();
    const r = rng(42);
    let vs: Record<string, number> = {};
    let vr: Record<string, number> = {};
    for (let i = 0; i < 15; i++) {
      vs = seqAgent.see({ request: { route: '/users/{id}', path: `/users/${10_000 + i}` } });
      vr = randAgent.see({ request: { route: '/users/{id}', path: `/users/${int(r, 1, 1e9)}` } });
    }
    expect(vs.sequential_ids).toBeGreaterThan(0.8);
    expect(vr.sequential_ids).toBeLessThan(0.05);
  });

  it('counts descending and small strides, with query strings, as sequential', () => {
    const a = new Agent().warm();
    let v: Record<string, number> = {};
    for (let i = 0; i < 15; i++) v = a.see({ request: { route: '/docs/{id}', path: `/docs/${90_000 - 2 * i}?fields=all` } });
    expect(v.sequential_ids).toBeGreaterThan(0.8);
  });

  it('needs the same route: alternating routes with consecutive ids do not count', () => {
    const a = new Agent().warm();
    let v: Record<string, number> = {};
    for (let i = 0; i < 15; i++) v = a.see({ request: { route: i % 2 ? '/a/{id}' : '/b/{id}', path: `${i % 2 ? '/a/' : '/b/'}${500 + i}` } });
    expect(v.sequential_ids).toBeLessThan(0.05);
  });
});

describe('errors and authentication', () => {
  it('error ratio and error shift rise with client errors (4xx); throttling and 5xx are transient and do not count', () => {
    const b = new Agent().warm();
    let t: Record<string, number> = {};
    for (let i = 0; i < 8; i++) t = b.see({ request: { status: i % 2 ? 503 : 429 } });
    expect(t.error_ratio).toBeLessThan(0.05);
    const a = new Agent().warm();
    const calm = a.see();
    let v = calm;
    for (let i = 0; i < 8; i++) v = a.see({ request: { status: 404 } });
    expect(v.error_ratio).toBeGreaterThan(0.8);
    expect(v.error_shift).toBeGreaterThan(0.7);
    expect(calm.error_shift).toBeLessThan(0.05);
  });

  it('401 and unverified credentials are auth failures, 403 is forbidden, neither counts as an error', () => {
    const a = new Agent().warm();
    let v: Record<string, number> = {};
    for (let i = 0; i < 6; i++) v = a.see({ request: { status: 401 } });
    expect(v.auth_failure_ratio).toBeGreaterThan(0.7);
    expect(v.error_ratio).toBeLessThan(0.05);
    for (let i = 0; i < 6; i++) v = a.see({ request: { status: 403 } });
    expect(v.forbidden_ratio).toBeGreaterThan(0.7);
    expect(v.error_ratio).toBeLessThan(0.05);
    const unverified = a.see({ agent: { auth: { method: 'api_key', verified: false } } });
    expect(a.last!.authFailure).toBe(true);
    expect(a.last!.failedSignature).toBe(false); // an API key is not a signature
    expect(unverified.identity_strength).toBe(0);
  });

  it('a failed HTTP signature or mTLS credential is a failedSignature; a verified one is strong identity', () => {
    const a = new Agent().warm();
    a.see({ agent: { auth: { method: 'http_signature', verified: false } } });
    expect(a.last).toMatchObject({ failedSignature: true, authFailure: true, identity: 0 });
    a.see({ agent: { auth: { method: 'mtls', verified: false } } });
    expect(a.last!.failedSignature).toBe(true);
    const v = a.see({ agent: { auth: { method: 'http_signature', verified: true } } });
    expect(a.last).toMatchObject({ failedSignature: false, authFailure: false, identity: 1 });
    expect(v.identity_strength).toBe(1);
  });

  it('orders identity strength signature > mTLS > OAuth > API key > none', () => {
    const strength = (['http_signature', 'mtls', 'oauth2', 'api_key', 'none'] as const).map((method) => {
      const a = new Agent();
      return a.see({ agent: { auth: { method, verified: true } } }).identity_strength!;
    });
    for (let i = 1; i < strength.length; i++) expect(strength[i]).toBeLessThan(strength[i - 1]!);
  });
});

describe('authorization', () => {
  it('flags a scope violation when requiredScope is not granted', () => {
    const a = new Agent().warm();
    const ok = a.see({ action: { name: 'order.read', requiredScope: 'orders:read' } });
    expect(a.last!.scopeViolation).toBe(false);
    expect(ok.scope_violation).toBe(0);
    const bad = a.see({ action: { name: 'payout.create', requiredScope: 'payouts:write' } });
    expect(a.last!.scopeViolation).toBe(true);
    expect(bad.scope_violation).toBeGreaterThan(0.15);
    a.see({ agent: { auth: { scopes: undefined } }, action: { requiredScope: 'orders:read' } });
    expect(a.last!.scopeViolation).toBe(true); // no scopes granted at all
    a.see({ action: { name: 'x' } });
    expect(a.last!.scopeViolation).toBe(false); // nothing required
  });

  it('sensitivity above usual, privileged surfaces and sensitive velocity', () => {
    const a = new Agent().warm();
    const v = a.see({ request: { route: '/admin/payouts' }, action: { name: 'payout.create', sensitivity: 'critical' } });
    expect(v.sensitivity_above_usual).toBeGreaterThan(2);
    expect(a.last!.privileged).toBe(true);
    expect(v.purpose_mismatch).toBeGreaterThan(0);
    let w = v;
    for (let i = 0; i < 10; i++) w = a.see({ ts: a.ts + 500, action: { name: 'transfer', sensitivity: 'high' } });
    expect(w.sensitive_rate_shift).toBeGreaterThan(0.5);
  });

  it('a changed declared purpose is a purpose mismatch', () => {
    const a = new Agent().warm();
    expect(a.see().purpose_mismatch).toBe(0);
    expect(a.see({ agent: { purpose: 'crawler' } }).purpose_mismatch).toBe(1);
  });
});

describe('amounts and bytes out', () => {
  it('bytes_out_z is large for 100× bytesOut after a steady baseline', () => {
    const a = new Agent().warm();
    const usual = a.see({ request: { bytesOut: 2_200 } });
    expect(Math.abs(usual.bytes_out_z!)).toBeLessThan(1.5);
    const big = a.see({ request: { bytesOut: 220_000 } });
    expect(big.bytes_out_z).toBeGreaterThan(5);
    const none = a.see({ request: { bytesOut: undefined } });
    expect(none.bytes_out_z).toBe(0);
  });

  it('amount_z is large for an amount far from the usual ones', () => {
    const a = new Agent();
    const r = rng(8);
    for (let i = 0; i < 100; i++) a.see({ action: { name: 'payment.create', amount: int(r, 20, 80), currency: 'EUR' } });
    expect(a.see({ action: { name: 'payment.create', amount: 50, currency: 'EUR' } }).amount_z).toBeLessThan(1.5);
    expect(a.see({ action: { name: 'payment.create', amount: 50_000, currency: 'EUR' } }).amount_z).toBeGreaterThan(5);
  });
});

describe('network and user agent', () => {
  it('network_change reacts to a new ASN, more to a new country, and fades when the new one stays', () => {
    const a = new Agent().warm();
    expect(a.see().network_change).toBe(0);
    const newAsn = a.see({ request: { asn: 13_335 } }).network_change!;
    expect(newAsn).toBeGreaterThan(0.05);
    const b = new Agent().warm();
    const newCountry = b.see({ request: { asn: 13_335, country: 'KP' } }).network_change!;
    expect(newCountry).toBeGreaterThan(newAsn);
    let v = 0;
    for (let i = 0; i < 30; i++) v = b.see({ request: { asn: 13_335, country: 'KP' } }).network_change!;
    expect(v).toBeLessThan(0.01);
  });

  it('without an ASN the network is the /24 of the IP', () => {
    const a = new Agent();
    for (let i = 0; i < 50; i++) a.see({ request: { asn: undefined, ip: `198.51.100.${i}` } });
    expect(a.see({ request: { asn: undefined, ip: '198.51.100.200' } }).network_change).toBe(0);
    expect(a.see({ request: { asn: undefined, ip: '203.0.113.5' } }).network_change).toBeGreaterThan(0.05);
  });

  it('user_agent_change reacts to a new user agent', () => {
    const a = new Agent().warm();
    expect(a.see().user_agent_change).toBe(0);
    const v = a.see({ agent: { userAgent: 'python-requests/2.31' } });
    expect(v.user_agent_change).toBeGreaterThan(0.15);
  });
});

describe('rate and burstiness', () => {
  it('rate_shift and burstiness rise when a steady agent suddenly fires many requests', () => {
    const a = new Agent().warm();
    const calm = a.see();
    let v = calm;
    for (let i = 0; i < 100; i++) v = a.see({ ts: a.ts + 50 });
    expect(calm.rate_shift).toBeLessThan(0.3);
    expect(v.rate_shift).toBeGreaterThan(0.8);
    expect(v.rate_level).toBeGreaterThan(calm.rate_level!);
  });

  it('significance, not a fixed threshold: a burst like the ones the agent has always made does not stand out, the same burst from a steady agent does', () => {
    // A nightly-sync style agent: 30 runs of 60 requests a second apart, an hour of silence between them.
    const batchy = new Agent();
    const runShifts: number[] = [];
    for (let run = 0; run < 30; run++) {
      const start = batchy.ts + 3_600_000;
      let peak = -Infinity;
      for (let i = 0; i < 60; i++) peak = Math.max(peak, batchy.see({ ts: start + i * 1_000 }).rate_shift!);
      runShifts.push(peak);
    }
    // The same 60-a-minute burst from an agent that has only ever made a request every few seconds.
    const steady = new Agent().warm(600);
    let steadyPeak = -Infinity;
    const start = steady.ts + 5_000;
    for (let i = 0; i < 60; i++) steadyPeak = Math.max(steadyPeak, steady.see({ ts: start + i * 1_000 }).rate_shift!);
    expect(runShifts.at(-1)!).toBeLessThan(runShifts[1]! / 2); // it learnt its own swings
    expect(runShifts.at(-1)!).toBeLessThan(2);
    expect(steadyPeak).toBeGreaterThan(3);
  });

  it('burstiness is high for a sudden short gap', () => {
    const a = new Agent().warm();
    expect(a.see({ ts: a.ts + 10 }).burstiness).toBeGreaterThan(3);
  });
});

describe('cold start', () => {
  /** An established agent's single 404 gives an error_shift of about 0.17; enumeration gives 0.5+. */
  const SHIFT_BOUND = 0.3;
  /**
   * rate_shift is a significance: the log ratio of the last minute's rate to the usual one (shrunk
   * toward the peers' rate while the agent is young), in standard deviations of the agent's own
   * past ratios (prior sd 0.2 decades). A tenfold burst of a steady agent is about 5; an ordinary
   * new agent stays below half of that.
   */
  const RATE_COLD_BOUND = 2.5;

  function coldStart(events: AgentRequestEvent[], n = 20): Record<string, number>[] {
    const a = new Agent();
    return events.slice(0, n).map((e) => a.seeEvent(e));
  }

  /** Ordinary first 20 events of new agents: three seeds, a slow and a fast (10/s) cadence, one starting with a 404 (unless `without404`). */
  function newAgents(without404 = false): Record<string, number>[][] {
    const runs = [1, 2, 3].map((seed) => coldStart(ordinaryTraffic('new-agent', 20, { seed })));
    runs.push(coldStart(ordinaryTraffic('new-agent', 20, { seed: 5, gapMs: 100 })));
    runs.push(coldStart(ordinaryTraffic('new-agent', 20, { seed: 6, gapMs: 120_000 })));
    const first404 = ordinaryTraffic('new-agent', 20, { seed: 4 });
    first404[0] = { ...first404[0]!, request: { ...first404[0]!.request, status: 404 } };
    if (!without404) runs.push(coldStart(first404));
    return runs;
  }

  function expectBounded(feature: string, lo: number, hi: number, without404 = false): void {
    newAgents(without404).forEach((run, r) =>
      run.forEach((v, i) => {
        expect(v[feature], `${feature} of run ${r}, event ${i + 1}`).toBeGreaterThanOrEqual(lo);
        expect(v[feature], `${feature} of run ${r}, event ${i + 1}`).toBeLessThanOrEqual(hi);
      }),
    );
  }

  it('rate_shift stays modest', () => expectBounded('rate_shift', -RATE_COLD_BOUND, RATE_COLD_BOUND));
  it('route_novelty_shift stays modest, including on the first event', () => expectBounded('route_novelty_shift', -1, SHIFT_BOUND));
  it('error_shift stays modest for ordinary new agents once they have a few requests (an occasional 404 among the first two is judged against the peers)', () => {
    newAgents(true).forEach((run, r) =>
      run.slice(4).forEach((v, i) => {
        expect(v.error_shift, `error_shift of run ${r}, event ${i + 5}`).toBeGreaterThanOrEqual(-1);
        expect(v.error_shift, `error_shift of run ${r}, event ${i + 5}`).toBeLessThanOrEqual(SHIFT_BOUND);
      }),
    );
  });

  it('a first request that is a 404 is judged against the peers, not against the agent itself, and fades as ordinary requests follow', () => {
    const first404 = ordinaryTraffic('new-agent', 20, { seed: 4 });
    first404[0] = { ...first404[0]!, request: { ...first404[0]!.request, status: 404 } };
    const run = coldStart(first404);
    // Against itself (the old cold start) one 404 in one request is its normal: shift 0. Against
    // its peers' few percent of errors it stands out at once …
    expect(run[0]!.error_shift).toBeGreaterThan(0.5);
    // … and no longer after a handful of ordinary requests.
    for (const v of run.slice(5)) expect(v.error_shift).toBeLessThanOrEqual(SHIFT_BOUND);
  });
  it('sensitive_rate_shift stays modest', () => expectBounded('sensitive_rate_shift', -SHIFT_BOUND, SHIFT_BOUND));
  it('burstiness stays modest, also for a fast poller from its second request on', () => expectBounded('burstiness', -8, 2));
  it('network, user agent and off-hours features stay at zero', () => {
    expectBounded('network_change', 0, 0);
    expectBounded('user_agent_change', 0, 0);
    expectBounded('off_hours', 0, 0);
  });

  it('agent_age grows with the event count', () => {
    const vs = coldStart(ordinaryTraffic('new-agent', 20, { seed: 6 }));
    for (let i = 1; i < vs.length; i++) expect(vs[i]!.agent_age).toBeGreaterThan(vs[i - 1]!.agent_age!);
  });
});

describe('event time', () => {
  it('observe never sees a negative gap: the pipeline clamps out-of-order timestamps forward', async () => {
    const store = new MemoryStateStore();
    const seen: { ts: number }[] = [];
    const sink: OutputSink = {
      async write(o: BatchOutputs) {
        seen.push(...o.scores.map((s) => ({ ts: s.ts })));
      },
      async close() {},
    };
    const scorer = new FakeScorer();
    const p = new BatchProcessor({
      store,
      scorer,
      sink,
      signer: createSigner([{ kid: 'k', alg: 'HS256', secret: 's' }], 'k'),
      policy: DEFAULT_POLICY,
      mode: 'enforce',
      ttlMs: 1,
    });
    const times = [T0 + 10_000, T0 + 20_000, T0 + 5_000, T0 + 19_999, T0 + 30_000, T0];
    await p.process(toRecords(times.map((ts, i) => ev({ eventId: `o${i}`, ts }))));
    expect(seen.map((s) => s.ts)).toEqual([T0 + 10_000, T0 + 20_000, T0 + 20_000, T0 + 20_000, T0 + 30_000, T0 + 30_000]);
    // The clamped events arrive with a zero gap: the shortest possible, so they look bursty.
    const burst = scorer.rows.map((r) => r[idx('burstiness')]!);
    expect(burst[2]).toBeGreaterThan(0);
    expect(burst[5]).toBeGreaterThan(0);
    for (const row of scorer.rows) for (const x of row) expect(Number.isFinite(x)).toBe(true);
  });

  it('an event at the same time as the previous one is fine (dt = 0)', () => {
    const a = new Agent().warm();
    const v = a.see({ ts: a.ts });
    for (const x of Object.values(v)) expect(Number.isFinite(x)).toBe(true);
    expect(a.s.d[D.lastTs]).toBe(a.ts);
  });
});

describe('off hours', () => {
  it('activity in an hour the agent never uses counts as off hours once the profile is established', () => {
    const a = new Agent();
    // Ten days of office hours (09:00–17:00 UTC), a request every 10 minutes.
    const day0 = Math.floor(T0 / 86_400_000) * 86_400_000;
    for (let d = 0; d < 10; d++) for (let m = 9 * 60; m < 17 * 60; m += 10) a.seeEvent(ev({ ts: day0 + d * 86_400_000 + m * 60_000 }));
    const usual = a.seeEvent(ev({ ts: day0 + 10 * 86_400_000 + 12 * 3_600_000 }));
    const night = a.seeEvent(ev({ ts: day0 + 11 * 86_400_000 + 3 * 3_600_000 }));
    expect(usual.off_hours).toBeLessThan(0.2);
    expect(night.off_hours).toBeGreaterThan(0.9);
  });
});
