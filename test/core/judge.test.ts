import { describe, expect, it } from 'vitest';
import { B, D, F, anomalyBits, decodeState, encodeState, newAgentState, type AgentState } from '../../src/core/agent-state.ts';
import { FEATURE_COUNT, observe, type Signals } from '../../src/core/features.ts';
import {
  BAND_CODES,
  CIRCUIT_CODES,
  DEFAULT_POLICY,
  applyCircuitCommand,
  bandOf,
  corroboratingEvidence,
  judge,
  r4,
  type Judgement,
  type Policy,
} from '../../src/core/judge.ts';
import { T0, ev, type EventOverrides } from '../support/events.ts';

/** The signals of an ordinary, verified OAuth request (built by `observe`, so every field is present). */
const CLEAN: Signals = observe(newAgentState(), ev(), T0, new Float32Array(FEATURE_COUNT), 0);
const P = DEFAULT_POLICY;

/** Drives `judge` for one agent over event time. */
class Judge {
  s: AgentState = newAgentState();
  ts = T0;
  n = 0;
  constructor(readonly policy: Policy = P) {}

  /** One event `dtMs` after the previous one. */
  step(anomaly: number, dtMs = 1_000, signals: Partial<Signals> = {}): Judgement {
    const first = this.n === 0;
    if (!first) this.ts += dtMs;
    this.n++;
    return judge(this.s, { ...CLEAN, ...signals }, anomaly, this.ts, first ? 0 : dtMs, first, this.policy);
  }

  /** Event-time moves to `ts` exactly with one event. */
  at(ts: number, anomaly: number, signals: Partial<Signals> = {}): Judgement {
    return this.step(anomaly, ts - this.ts, signals);
  }

  /** Clean events until trust stops moving. */
  settle(): Judgement {
    let j = this.step(0);
    for (let i = 0; i < 20; i++) j = this.step(0, 600_000);
    return j;
  }

  get circuit(): string {
    return CIRCUIT_CODES[this.s.b[B.circuit]!]!;
  }

  get until(): number {
    return this.s.d[D.circuitUntil]!;
  }

  /** Open the circuit from closed with k maximally anomalous events (enough evidence to corroborate the run). */
  trip(): Judgement {
    let j = this.step(1);
    for (let i = 1; i < this.policy.breaker.k; i++) j = this.step(1);
    return j;
  }
}

describe('trust', () => {
  it('starts at the weighted target on the first event', () => {
    const j = new Judge().step(0);
    const w = P.weights;
    expect(j.trust).toBeCloseTo(1 - w.identity * (1 - 0.65) - w.authorization * (1 - 1), 6);
    expect(j.components).toEqual({ identity: expect.closeTo(0.65, 6), intent: 1, authorization: 1 });
    expect(j.band).toBe('trusted');
    expect(j.circuit).toBe('closed');
  });

  it('falls at once on a high anomaly', () => {
    const a = new Judge();
    const before = a.settle().trust;
    const j = a.step(1, 1);
    // One maximal anomaly adds 4 − ref decades of evidence at once.
    expect(j.components.intent).toBeCloseTo(Math.exp(-(4 - P.evidence.ref) / P.evidence.scale), 6);
    expect(j.trust).toBeCloseTo(before * j.components.intent, 3);
    expect(j.trust).toBeLessThan(before - 0.15);
    const j2 = a.step(1, 1);
    expect(j2.trust).toBeLessThan(j.trust);
  });

  it('recovers by evidence: per ordinary event, hardly at all over idle event time', () => {
    const a = new Judge();
    const top = a.settle().trust;
    for (let i = 0; i < 3; i++) a.step(1, 10);
    const low = a.step(0, 10).trust;
    expect(low).toBeLessThan(top - 0.2);
    // Ten idle minutes, then one event: almost nothing regained (the attacker's pause between bursts).
    const afterPause = a.step(0, 600_000).trust;
    expect(afterPause - low).toBeLessThan(0.05);
    // Forty ordinary events, one second apart: most of the way back.
    let j = a.step(0, 1_000);
    for (let i = 0; i < 39; i++) j = a.step(0, 1_000);
    expect(j.trust).toBeGreaterThan(afterPause + 0.15);
    expect(j.band).toBe('trusted');
  });

  it('recovery depends on how many ordinary events were seen, not on how fast they came', () => {
    const run = (gapMs: number): number => {
      const a = new Judge();
      a.settle();
      for (let i = 0; i < 3; i++) a.step(1, 10);
      let t = 0;
      for (let i = 0; i < 30; i++) t = a.step(0, gapMs).trust;
      return t;
    };
    // 30 events within 30 ms or within 30 s: the same trust (idle forgetting is hours, not seconds).
    expect(Math.abs(run(1) - run(1_000))).toBeLessThan(0.01);
  });

  it('repeated offences recover more slowly: each fall into restrict halves the speed of the evidence decay', () => {
    const afterOffences = (offences: number): number => {
      const a = new Judge();
      a.settle();
      for (let o = 0; o < offences; o++) {
        for (let i = 0; i < 6; i++) a.step(1, 10); // into restrict
        for (let i = 0; i < 400; i++) a.step(0, 1_000); // fully recovered
      }
      expect(a.s.b[B.trustOffences]).toBe(offences);
      for (let i = 0; i < 6; i++) a.step(1, 10);
      let t = 0;
      for (let i = 0; i < 20; i++) t = a.step(0, 1_000).trust;
      return t;
    };
    const first = afterOffences(0);
    const second = afterOffences(1);
    const third = afterOffences(2);
    expect(second).toBeLessThan(first - 0.05);
    expect(third).toBeLessThan(second - 0.03);
  });

  it('caps trust on a failed signature and on a scope violation, whatever the anomaly', () => {
    const a = new Judge();
    a.settle();
    const sig = a.step(0, 1_000, { failedSignature: true, authFailure: true, identity: 0 });
    expect(sig.trust).toBeLessThanOrEqual(P.caps.failedSignature + 1e-6);
    const b = new Judge();
    b.settle();
    const scope = b.step(0, 1_000, { scopeViolation: true, identity: 1 });
    expect(scope.trust).toBeLessThanOrEqual(P.caps.scopeViolation + 1e-6);
    expect(scope.band).toBe('restrict');
  });

  it('recent 401s lower the identity component and recent 403s or scope violations the authorization component', () => {
    const s = newAgentState();
    const out = new Float32Array(FEATURE_COUNT);
    let ts = T0;
    const see = (over: EventOverrides = {}) => {
      const first = ts === T0;
      const signals = observe(s, ev({ ...over, ts }), ts, out, 0);
      const j = judge(s, signals, 0, ts, first ? 0 : 1_000, first, P);
      ts += 1_000;
      return j;
    };
    const calm = see();
    expect(calm.components.identity).toBeCloseTo(0.65, 6);
    expect(calm.components.authorization).toBe(1);
    let j = calm;
    for (let i = 0; i < 8; i++) j = see({ request: { status: 401 } });
    expect(j.components.identity).toBeLessThan(0.65 * 0.2);
    const refused = j.components.identity;
    j = see();
    expect(j.components.identity).toBeGreaterThan(refused); // recovers as the failures age out
    expect(j.components.identity).toBeLessThan(0.65 * 0.5);
    expect(see({ agent: { auth: { verified: false } } }).components.identity).toBe(0); // a credential that did not verify
    for (let i = 0; i < 5; i++) j = see({ request: { status: 403 } });
    expect(j.components.authorization).toBeLessThan(0.4);
    const c = new Judge();
    c.settle();
    expect(c.step(0, 1_000).components.authorization).toBe(1);
  });
});

describe('bands', () => {
  it('follow the policy thresholds (lower bounds inclusive)', () => {
    expect(bandOf(1, P)).toBe('trusted');
    expect(bandOf(P.bands.trusted, P)).toBe('trusted');
    expect(bandOf(P.bands.trusted - 1e-9, P)).toBe('watch');
    expect(bandOf(P.bands.watch, P)).toBe('watch');
    expect(bandOf(P.bands.watch - 1e-9, P)).toBe('restrict');
    expect(bandOf(P.bands.restrict, P)).toBe('restrict');
    expect(bandOf(P.bands.restrict - 1e-9, P)).toBe('block');
    expect(bandOf(0, P)).toBe('block');
    const custom: Policy = { ...P, bands: { trusted: 0.9, watch: 0.8, restrict: 0.7 } };
    expect(bandOf(0.85, custom)).toBe('watch');
  });

  it('every judgement carries the band of its trust, and bands step down as trust falls', () => {
    const a = new Judge();
    const seen: string[] = [];
    let j = a.step(0);
    for (let i = 0; i < 12; i++) {
      expect(j.band).toBe(bandOf(j.trust, P));
      if (seen.at(-1) !== j.band) seen.push(j.band);
      j = a.step(0.85, 1_000, { identity: 0.1 });
    }
    expect(seen).toEqual(['trusted', 'watch', 'restrict']);
    expect(BAND_CODES).toEqual(['trusted', 'watch', 'restrict', 'block']);
  });
});

describe('circuit breaker', () => {
  it('opens after k of the last n events are anomalous once the evidence corroborates the run, not before', () => {
    expect(P.breaker.corroborate).toBeCloseTo(corroboratingEvidence(P), 9);
    const a = new Judge(P);
    a.settle();
    for (let i = 0; i < P.breaker.k - 1; i++) expect(a.step(1, 1_000, { identity: 1 }).circuit).toBe('closed');
    const j = a.step(1, 1_000, { identity: 1 }); // the k-th maximally rare event in a row
    expect(a.s.f[F.evidence]).toBeGreaterThanOrEqual(P.breaker.corroborate);
    expect(j.circuit).toBe('open');
    expect(j.circuitChange).toEqual({ previous: 'closed', state: 'open', until: a.ts + P.breaker.baseCooldownMs });
    expect(j.offences).toBe(1);
  });

  it('does not open on a run that trust has weighed and discounted (an honest agent having an unusual few minutes)', () => {
    const a = new Judge(P);
    a.settle();
    const pattern = [1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1]; // five events at the breaker's level within 11, spread out
    let j = a.step(0);
    for (const x of pattern) {
      j = a.step(x ? P.anomalousAt : 0, 1_000, { identity: 1 });
      expect(j.circuit).toBe('closed');
    }
    expect(j.band === 'trusted' || j.band === 'watch').toBe(true);
    expect(a.s.f[F.evidence]).toBeLessThan(P.breaker.corroborate);
    // Without corroboration the same run opens the circuit (what the breaker used to do).
    const b = new Judge({ ...P, breaker: { ...P.breaker, corroborate: 0 } });
    b.settle();
    b.step(0);
    const states = pattern.map((x) => b.step(x ? P.anomalousAt : 0, 1_000, { identity: 1 }).circuit);
    expect(states).toContain('open');
  });

  it('forgets anomalous events older than the window', () => {
    const a = new Judge();
    a.settle();
    for (let i = 0; i < 40; i++) {
      const j = a.step(i % 10 === 0 ? 0.9 : 0, 30_000, { identity: 1 });
      expect(j.circuit).toBe('closed');
    }
    expect(anomalyBits(a.s)).not.toBe(0);
  });

  it('counts the anomalous threshold inclusively and hard signals as anomalous', () => {
    const a = new Judge();
    a.settle();
    for (let i = 0; i < 3; i++) a.step(P.anomalousAt, 1_000, { identity: 1 });
    expect(a.circuit).toBe('closed');
    expect(a.step(0, 1_000, { identity: 1, scopeViolation: true }).circuit).toBe('open');
  });

  it('opens at once when trust falls into the block band (failed signature)', () => {
    const a = new Judge();
    a.settle();
    const j = a.step(0, 1_000, { failedSignature: true, authFailure: true, identity: 0 });
    expect(j.band).toBe('block');
    expect(j.circuitChange?.state).toBe('open');
  });

  it('stays open until event time reaches `until`, then goes half-open and closes after the probe budget of clean events', () => {
    const a = new Judge();
    a.settle();
    a.trip();
    expect(a.circuit).toBe('open');
    const until = a.until;
    // Clean events during the cooldown do not close it.
    for (let t = a.ts + 10_000; t < until; t += 10_000) expect(a.at(t, 0).circuitChange).toBeNull();
    expect(a.at(until - 1, 0).circuit).toBe('open');
    const half = a.at(until, 0);
    expect(half.circuit).toBe('half_open');
    // The clean event that turns the circuit half-open is not a probe: the full budget is announced.
    expect(half.circuitChange).toEqual({ previous: 'open', state: 'half_open', probeBudget: P.breaker.probeBudget });
    for (let i = 1; i < P.breaker.probeBudget; i++) {
      const j = a.step(0);
      expect(j.circuit).toBe('half_open');
      expect(j.circuitChange).toBeNull();
    }
    const closed = a.step(0);
    expect(closed.circuitChange).toEqual({ previous: 'half_open', state: 'closed' });
    expect(anomalyBits(a.s)).toBe(0);
    // A single anomalous event afterwards does not reopen it.
    expect(a.step(0.9).circuit).toBe('closed');
  });

  it('goes back to open on an anomalous probe, with a doubled cooldown', () => {
    const a = new Judge();
    a.settle();
    a.trip();
    const first = a.until - a.ts;
    a.at(a.until, 0);
    expect(a.circuit).toBe('half_open');
    const j = a.step(0.95);
    expect(j.circuitChange).toEqual({ previous: 'half_open', state: 'open', until: a.ts + 2 * first });
    expect(j.offences).toBe(2);
  });

  it('an anomalous first event after `until` re-opens the circuit and announces the new `until`', () => {
    const a = new Judge();
    a.settle();
    a.trip();
    const oldUntil = a.until;
    const j = a.at(oldUntil + 5_000, 0.95);
    expect(j.circuit).toBe('open');
    expect(j.offences).toBe(2);
    expect(a.until).toBe(a.ts + 2 * P.breaker.baseCooldownMs);
    // Enforcers were told "open until oldUntil" and will let probes through after it: the
    // extended cooldown must reach them as a CircuitSignal (and the TrustUpdate stream).
    expect(j.circuitChange).toMatchObject({ state: 'open', until: a.until });
  });

  it('cooldown doubles with each offence and is capped', () => {
    const a = new Judge();
    a.settle();
    a.trip();
    const cooldowns = [a.until - a.ts];
    for (let i = 0; i < 9; i++) {
      a.at(a.until, 0); // half-open probe
      a.step(0.95); // anomalous probe: open again
      cooldowns.push(a.until - a.ts);
    }
    const expected = cooldowns.map((_, i) => Math.min(P.breaker.baseCooldownMs * 2 ** i, P.breaker.maxCooldownMs));
    expect(cooldowns).toEqual(expected);
    expect(cooldowns.at(-1)).toBe(P.breaker.maxCooldownMs);
    expect(a.s.b[B.offences]).toBe(10);
  });

  it('offences saturate at 255 without overflowing the cooldown', () => {
    const a = new Judge();
    a.settle();
    a.s.b[B.offences] = 255;
    a.trip();
    expect(a.s.b[B.offences]).toBe(255);
    expect(a.until - a.ts).toBe(P.breaker.maxCooldownMs);
  });

  it('forced_open and forced_closed are not changed by events; reset returns to closed', () => {
    for (const cmd of ['force_open', 'force_close'] as const) {
      const a = new Judge();
      a.settle();
      const change = applyCircuitCommand(a.s, cmd);
      const forced = cmd === 'force_open' ? 'forced_open' : 'forced_closed';
      expect(change).toEqual({ previous: 'closed', state: forced });
      for (let i = 0; i < 20; i++) {
        const j = a.step(i % 2 ? 0.99 : 0, 120_000, i === 5 ? { failedSignature: true, identity: 0 } : {});
        expect(j.circuit).toBe(forced);
        expect(j.circuitChange).toBeNull();
      }
      expect(applyCircuitCommand(a.s, 'reset')).toEqual({ previous: forced, state: 'closed' });
      expect(a.s.b[B.offences]).toBe(0);
      expect(anomalyBits(a.s)).toBe(0);
      expect(a.s.f[F.evidence]).toBe(0);
    }
  });

  it('reset from open clears offences so the next cooldown starts from the base again', () => {
    const a = new Judge();
    a.settle();
    a.trip();
    a.at(a.until, 0);
    a.step(0.95);
    expect(a.s.b[B.offences]).toBe(2);
    applyCircuitCommand(a.s, 'reset');
    a.settle();
    a.trip();
    expect(a.until - a.ts).toBe(P.breaker.baseCooldownMs);
  });
});

describe('TrustUpdate emission', () => {
  it('emits on the first event and not on a steady stream', () => {
    const a = new Judge();
    expect(a.step(0).emitTrust).toBe(true);
    for (let i = 0; i < 50; i++) expect(a.step(0, 1_000).emitTrust, `event ${i}`).toBe(false);
  });

  it('emits on a heartbeat of event time, not of event count', () => {
    const a = new Judge();
    a.step(0);
    let t = a.ts;
    expect(a.at(t + P.emit.heartbeatMs - 1, 0).emitTrust).toBe(false);
    expect(a.at(t + P.emit.heartbeatMs, 0).emitTrust).toBe(true);
    t = a.ts;
    for (let i = 0; i < 200; i++) a.step(0, 100); // 20 s
    expect(a.at(t + P.emit.heartbeatMs - 1, 0).emitTrust).toBe(false);
  });

  it('emits when trust moved by more than the delta, not less', () => {
    const a = new Judge();
    a.settle();
    const base = a.step(0, 1_000);
    expect(base.emitTrust).toBe(false);
    // A small anomaly moves trust by less than the delta …
    const small = a.step(0.05, 1_000);
    expect(base.trust - small.trust).toBeLessThan(P.emit.delta);
    expect(small.band).toBe(base.band);
    expect(small.emitTrust).toBe(false);
    // … a larger one by more, within the same band.
    const big = a.step(0.85, 1_000);
    expect(base.trust - big.trust).toBeGreaterThan(P.emit.delta);
    expect(big.band).toBe(base.band);
    expect(big.emitTrust).toBe(true);
  });

  it('emits on a band change and on a circuit change', () => {
    const a = new Judge({ ...P, emit: { delta: 1, heartbeatMs: 1e12 } }); // only band/circuit can trigger
    a.settle();
    let j = a.step(0.9, 1_000);
    for (let i = 0; i < 3 && j.band === 'trusted'; i++) j = a.step(0.9, 1_000); // evidence accumulates over a few events
    expect(j.band).not.toBe('trusted');
    expect(j.emitTrust).toBe(true);
    const bands: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const prev = j.band;
      j = a.step(0.9, 1_000);
      bands.push(j.emitTrust === (j.band !== prev || j.circuitChange !== null));
    }
    expect(bands).toEqual([true, true, true]);
    expect(a.circuit).toBe('open');
  });

  it('state bytes after judge survive a reload (the emission memory lives in the state)', () => {
    const a = new Judge();
    a.step(0);
    a.s = decodeState(encodeState(a.s))!;
    expect(a.step(0, 1_000).emitTrust).toBe(false);
  });
});

describe('r4', () => {
  it('rounds to four decimals', () => {
    expect(r4(0.123456)).toBe(0.1235);
    expect(r4(1)).toBe(1);
    expect(r4(0.00004)).toBe(0);
  });
});
