import { describe, expect, it } from 'vitest';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import {
  B,
  D,
  F,
  STATE_BYTES,
  STATE_LAYOUT_VERSION,
  anomalyBits,
  decodeState,
  encodeState,
  isInitialised,
  newAgentState,
  setAnomalyBits,
  type AgentState,
} from '../../src/core/agent-state.ts';
import { FEATURE_COUNT, observe } from '../../src/core/features.ts';
import { DEFAULT_POLICY, judge } from '../../src/core/judge.ts';
import { watermarkOf } from '../../src/state/store.ts';
import { T0, int, mixedStream, pick, rng } from '../support/events.ts';
import { fakeAnomaly } from '../support/fake-scorer.ts';

/** One full pure step of the pipeline for an event: clamp time, features, trust and breaker. */
function step(s: AgentState, e: AgentRequestEvent, position: number, out: Float32Array): void {
  const first = !isInitialised(s);
  const ts = first ? e.ts : Math.max(e.ts, s.d[D.lastTs]!);
  const dt = first ? 0 : ts - s.d[D.lastTs]!;
  const signals = observe(s, e, ts, out, 0);
  s.d[D.watermark] = position;
  const anomaly = Math.round(fakeAnomaly(out) * 10_000) / 10_000;
  judge(s, signals, anomaly, ts, dt, first, DEFAULT_POLICY);
}

function reload(s: AgentState): AgentState {
  const st = decodeState(encodeState(s));
  if (!st) throw new Error('decodeState rejected a state it encoded');
  return st;
}

/** A single agent's varied stream (incidents, out-of-order times, many routes). */
function oneAgentStream(n: number): AgentRequestEvent[] {
  return mixedStream(2, n, 11).filter((e) => e.agent.id === 'agent-1');
}

describe('agent state layout', () => {
  it('has a fixed size that matches the sum of its typed-array views', () => {
    const s = newAgentState();
    expect(STATE_BYTES).toBe(252);
    expect(s.buf.byteLength).toBe(STATE_BYTES);
    expect(s.d.byteLength + s.f.byteLength + s.h.byteLength + s.b.byteLength).toBe(STATE_BYTES);
    // Views tile the one buffer without overlap, in the order d, f, h, b.
    expect(s.d.buffer).toBe(s.buf.buffer);
    expect(s.f.byteOffset).toBe(s.d.byteOffset + s.d.byteLength);
    expect(s.h.byteOffset).toBe(s.f.byteOffset + s.f.byteLength);
    expect(s.b.byteOffset).toBe(s.h.byteOffset + s.h.byteLength);
    expect(Math.max(...Object.values(B))).toBeLessThan(s.b.length);
    expect(Math.max(...Object.values(F))).toBeLessThan(s.f.length);
    expect(Math.max(...Object.values(D))).toBeLessThan(s.d.length);
  });

  it('starts uninitialised with no watermark', () => {
    const s = newAgentState();
    expect(isInitialised(s)).toBe(false);
    expect(s.d[D.watermark]).toBe(-1);
    expect(watermarkOf(encodeState(s))).toBe(-1);
  });

  it('encodes to version byte + record and the watermark sits where the CAS script reads it', () => {
    const s = newAgentState();
    s.d[D.watermark] = 123_456_789_012;
    const bytes = encodeState(s);
    expect(bytes.byteLength).toBe(STATE_BYTES + 1);
    expect(bytes[0]).toBe(STATE_LAYOUT_VERSION);
    expect(bytes.readDoubleLE(1)).toBe(123_456_789_012);
    expect(watermarkOf(bytes)).toBe(123_456_789_012);
  });

  it('round-trips byte-identically, also from an unaligned buffer', () => {
    const s = newAgentState();
    const out = new Float32Array(FEATURE_COUNT);
    oneAgentStream(120).forEach((e, i) => step(s, e, i + 1, out));
    const bytes = encodeState(s);
    const back = decodeState(bytes)!;
    expect(back).not.toBeNull();
    expect(Buffer.compare(encodeState(back), bytes)).toBe(0);
    expect(Array.from(back.f)).toEqual(Array.from(s.f));
    expect(Array.from(back.d)).toEqual(Array.from(s.d));

    // A record that arrives at an odd offset inside a larger buffer (as from a socket).
    const big = new Uint8Array(bytes.byteLength + 3);
    big.set(bytes, 3);
    const fromOdd = decodeState(big.subarray(3))!;
    expect(fromOdd).not.toBeNull();
    expect(Buffer.compare(encodeState(fromOdd), bytes)).toBe(0);
  });

  it('decodes into a copy: later changes to the input bytes do not leak into the state', () => {
    const s = newAgentState();
    s.f[F.trust] = 0.75;
    const bytes = encodeState(s);
    const back = decodeState(bytes)!;
    bytes.fill(0xff, 1);
    expect(back.f[F.trust]).toBeCloseTo(0.75, 6);
  });

  it('rejects a wrong size or an unknown layout version', () => {
    const good = encodeState(newAgentState());
    expect(decodeState(good)).not.toBeNull();
    expect(decodeState(good.subarray(0, good.length - 1))).toBeNull();
    expect(decodeState(Buffer.concat([good, Buffer.from([0])]))).toBeNull();
    expect(decodeState(new Uint8Array(0))).toBeNull();
    expect(decodeState(good.subarray(1))).toBeNull(); // the record without its version byte
    for (const v of [0, STATE_LAYOUT_VERSION + 1, 255]) {
      const bad = Buffer.from(good);
      bad[0] = v;
      expect(decodeState(bad)).toBeNull();
    }
  });

  it('keeps 16 anomaly bits split over two bytes', () => {
    const s = newAgentState();
    setAnomalyBits(s, 0xa5c3);
    expect(anomalyBits(s)).toBe(0xa5c3);
    expect(s.b[B.anomalyBits]).toBe(0xc3);
    expect(s.b[B.anomalyBitsHi]).toBe(0xa5);
    setAnomalyBits(s, 0x1ffff);
    expect(anomalyBits(s)).toBe(0xffff);
  });
});

describe('agent state is bounded', () => {
  it('stays STATE_BYTES + 1 bytes after 100,000 varied events', () => {
    const r = rng(99);
    const s = newAgentState();
    const out = new Float32Array(FEATURE_COUNT);
    const methods = ['http_signature', 'mtls', 'oauth2', 'api_key', 'none'] as const;
    let ts = T0;
    for (let i = 0; i < 100_000; i++) {
      ts += int(r, 0, 20_000);
      const e: AgentRequestEvent = {
        v: 1,
        eventId: `e${i}`,
        ts: r() < 0.05 ? ts - 60_000 : ts,
        agent: {
          id: 'agent-x',
          purpose: r() < 0.01 ? `purpose-${i}` : 'crawler',
          auth: { method: pick(r, methods), verified: r() > 0.05, scopes: [`s${i % 7}`], tokenAgeS: int(r, 0, 1e6) },
          userAgent: `UA/${int(r, 0, 50_000)}`,
        },
        request: {
          method: pick(r, ['GET', 'POST', 'DELETE']),
          route: `/r${i}/{id}`,
          path: `/r${i}/${int(r, 0, 1e12)}`,
          status: pick(r, [200, 201, 204, 301, 400, 401, 403, 404, 500, 503]),
          bytesOut: int(r, 0, 1e9),
          ip: `10.${i % 256}.${(i >> 8) % 256}.1`,
          asn: int(r, 0, 4_000_000_000),
          country: pick(r, ['DE', 'US', 'FR', 'KP', 'BR', 'JP']),
        },
        action: { name: `act.${i}`, sensitivity: pick(r, ['low', 'medium', 'high', 'critical']), amount: int(r, 0, 1e9), requiredScope: `s${i % 5}` },
      };
      step(s, e, i + 1, out);
    }
    const bytes = encodeState(s);
    expect(bytes.byteLength).toBe(STATE_BYTES + 1);
    expect(s.d[D.seq]).toBe(100_000);
    expect(s.d[D.watermark]).toBe(100_000);
    // Nothing became NaN/Infinity along the way.
    for (const x of s.f) expect(Number.isFinite(x)).toBe(true);
    for (const x of s.d) expect(Number.isFinite(x)).toBe(true);
    for (const x of out) expect(Number.isFinite(x)).toBe(true);
  }, 60_000); // 100,000 events: CPU-bound, slow on a loaded machine
});

describe('restart anywhere', () => {
  const events = oneAgentStream(240);

  function uninterrupted(): { vectors: number[][]; states: Buffer[] } {
    const s = newAgentState();
    const out = new Float32Array(FEATURE_COUNT);
    const vectors: number[][] = [];
    const states: Buffer[] = [];
    events.forEach((e, i) => {
      step(s, e, i + 1, out);
      vectors.push(Array.from(out));
      states.push(encodeState(s));
    });
    return { vectors, states };
  }

  it('the test stream is varied enough to matter', () => {
    expect(events.length).toBeGreaterThan(100);
    const ref = uninterrupted();
    // The breaker and trust moved, so the judge state is exercised too.
    const circuits = new Set(ref.states.map((b) => decodeState(b)!.b[B.circuit]));
    expect(circuits.size).toBeGreaterThan(1);
  });

  it('save + reload between every two events changes no vector and no state byte', () => {
    const ref = uninterrupted();
    let s = newAgentState();
    const out = new Float32Array(FEATURE_COUNT);
    events.forEach((e, i) => {
      s = reload(s);
      step(s, e, i + 1, out);
      expect(Array.from(out), `vector of event ${i}`).toEqual(ref.vectors[i]);
      expect(Buffer.compare(encodeState(s), ref.states[i]!), `state after event ${i}`).toBe(0);
    });
  });

  it('a single restart at any position gives the same remainder as the uninterrupted run', () => {
    const ref = uninterrupted();
    for (let cut = 0; cut <= events.length; cut += 7) {
      let s = newAgentState();
      const out = new Float32Array(FEATURE_COUNT);
      for (let i = 0; i < events.length; i++) {
        if (i === cut) s = reload(s);
        step(s, events[i]!, i + 1, out);
        if (i >= cut) expect(Array.from(out)).toEqual(ref.vectors[i]);
      }
      expect(Buffer.compare(encodeState(s), ref.states.at(-1)!)).toBe(0);
    }
  });
});
