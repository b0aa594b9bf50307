/**
 * The StateStore conformance suite: one set of behaviours every implementation (in-memory,
 * Redis, …) must show, run by test/state/redis-store.int.test.ts against each of them.
 *
 * ```ts
 * runStateStoreConformance('MemoryStateStore', async () => new MemoryStateStore(), { peer: async (s) => s });
 * ```
 */
import { afterEach, describe, expect, it } from 'vitest';
import { D, encodeState, newAgentState } from '../../src/core/agent-state.ts';
import type { AgentKey, SaveEntry, SaveOutcome, StateStore } from '../../src/state/store.ts';
import { WATERMARK_BYTE_OFFSET } from '../../src/state/store.ts';
export { rng } from './prng.ts';
import { rng } from './prng.ts';

/** Options of {@link runStateStoreConformance}. */
export interface ConformanceOptions {
  /**
   * A second, independent handle on the same namespace as `store` (a second instance of the
   * processor sharing the backend), for the zombie-writer test. Default: `store` itself.
   */
  peer?: (store: StateStore) => Promise<StateStore>;
}

/** A realistic encoded state: a fresh state with the watermark set and every field randomised from `seed`. */
export function realisticState(watermark: number, seed: number): Buffer {
  const r = rng(seed);
  const s = newAgentState();
  s.d[D.watermark] = watermark;
  for (let i = 1; i < s.d.length; i++) s.d[i] = Math.floor(r() * 1.8e12);
  for (let i = 0; i < s.f.length; i++) s.f[i] = r() * 10 - 2;
  for (let i = 0; i < s.h.length; i++) s.h[i] = Math.floor(r() * 65536);
  for (let i = 0; i < s.b.length; i++) s.b[i] = Math.floor(r() * 256);
  return encodeState(s);
}

/** Arbitrary bytes with a valid watermark at byte offset 1: 0x00, invalid UTF-8 and every byte value. */
export function binaryState(watermark: number, length = 300): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 151 + 7) & 0xff;
  // NUL, lone continuation bytes, overlong NUL, truncated sequences, 0xFE/0xFF, a surrogate in UTF-8.
  Buffer.from([0x00, 0x00, 0x80, 0xbf, 0xc0, 0x80, 0xc3, 0x28, 0xe2, 0x82, 0xfe, 0xff, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x00]).copy(b, 9);
  b[length - 1] = 0x00;
  b[0] = 0x00;
  b.writeDoubleLE(watermark, WATERMARK_BYTE_OFFSET);
  return b;
}

function hex(bytes: Uint8Array | null | undefined): string | null {
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') : null;
}

function entry(key: AgentKey, watermark: number, state?: Buffer): SaveEntry {
  return { key, watermark, state: state ?? realisticState(watermark, watermark * 7919 + key.agentId.length) };
}

/** Registers the conformance suite for one StateStore implementation. `makeStore` must return an empty store with its own namespace. */
export function runStateStoreConformance(name: string, makeStore: () => Promise<StateStore>, options: ConformanceOptions = {}): void {
  describe(`StateStore conformance: ${name}`, () => {
    const opened: StateStore[] = [];
    const open = async (): Promise<StateStore> => {
      const s = await makeStore();
      opened.push(s);
      return s;
    };
    const peerOf = async (s: StateStore): Promise<StateStore> => {
      if (!options.peer) return s;
      const p = await options.peer(s);
      if (p !== s) opened.push(p);
      return p;
    };

    afterEach(async () => {
      const stores = opened.splice(0);
      for (const s of stores) await s.clear().catch(() => undefined);
      for (const s of stores) await s.close();
    });

    it('answers null for agents never saved, and [] for empty batches', async () => {
      const store = await open();
      expect(
        await store.loadMany([
          { tenant: 'default', agentId: 'nobody' },
          { tenant: 't2', agentId: 'nobody-else' },
        ]),
      ).toEqual([null, null]);
      expect(await store.loadMany([])).toEqual([]);
      expect(await store.saveMany([])).toEqual([]);
    });

    it('loads exactly the bytes it saved, as a copy neither side can change afterwards', async () => {
      const store = await open();
      const key = { tenant: 'default', agentId: 'agent-1' };
      const state = realisticState(41, 1);
      const original = Buffer.from(state);
      expect(await store.saveMany([{ key, watermark: 41, state }])).toEqual(['saved']);
      state.fill(0xaa); // the caller reuses its buffer
      const [got] = await store.loadMany([key]);
      expect(got).toBeInstanceOf(Uint8Array);
      expect(hex(got)).toBe(hex(original));
      got!.fill(0x55); // the caller scribbles on what it loaded
      expect(hex((await store.loadMany([key]))[0])).toBe(hex(original));
    });

    it('saves a fresh state (watermark -1) when nothing is stored, then any later watermark', async () => {
      const store = await open();
      const key = { tenant: 'default', agentId: 'fresh' };
      const fresh = encodeState(newAgentState());
      expect(await store.saveMany([{ key, watermark: -1, state: fresh }])).toEqual(['saved']);
      expect(await store.saveMany([entry(key, 0)])).toEqual(['saved']);
      expect(await store.saveMany([{ key, watermark: -1, state: fresh }])).toEqual(['stale']);
    });

    it('compare-and-sets on the watermark: higher saves; equal or lower is stale and changes nothing', async () => {
      const store = await open();
      const key = { tenant: 'default', agentId: 'cas' };
      const s10 = realisticState(10, 10);
      expect(await store.saveMany([{ key, watermark: 10, state: s10 }])).toEqual(['saved']);

      expect(await store.saveMany([{ key, watermark: 10, state: realisticState(10, 999) }])).toEqual(['stale']);
      expect(hex((await store.loadMany([key]))[0])).toBe(hex(s10));

      expect(await store.saveMany([{ key, watermark: 9, state: realisticState(9, 9) }])).toEqual(['stale']);
      expect(hex((await store.loadMany([key]))[0])).toBe(hex(s10));

      const s11 = realisticState(11, 11);
      expect(await store.saveMany([{ key, watermark: 11, state: s11 }])).toEqual(['saved']);
      expect(hex((await store.loadMany([key]))[0])).toBe(hex(s11));

      // Offsets beyond 2^32 and fractional positions compare as numbers, not as strings.
      const big = 2 ** 40 + 3;
      expect(await store.saveMany([entry(key, big)])).toEqual(['saved']);
      expect(await store.saveMany([entry(key, 2 ** 40 + 2.5)])).toEqual(['stale']);
      expect(await store.saveMany([entry(key, 99999)])).toEqual(['stale']);
      expect(await store.saveMany([entry(key, big + 1)])).toEqual(['saved']);
    });

    it('never lets a zombie instance overwrite newer state', async () => {
      const a = await open();
      const b = await peerOf(a);
      const key = { tenant: 'acme', agentId: 'agent-z' };
      // B owned the partition, loaded at watermark 5, then stalled; A took over and moved on to 10.
      expect(await b.saveMany([entry(key, 5)])).toEqual(['saved']);
      const s10 = realisticState(10, 1010);
      expect(await a.saveMany([{ key, watermark: 10, state: s10 }])).toEqual(['saved']);
      // B wakes up and saves what it computed up to offset 7.
      expect(await b.saveMany([entry(key, 7)])).toEqual(['stale']);
      expect(hex((await a.loadMany([key]))[0])).toBe(hex(s10));
      expect(hex((await b.loadMany([key]))[0])).toBe(hex(s10));
    });

    it('handles 500 agents in one call, with mixed outcomes in entry order', async () => {
      const store = await open();
      const n = 500;
      const keys = Array.from({ length: n }, (_, i) => ({ tenant: i % 3 === 0 ? 'other' : 'default', agentId: `agent-${i}` }));
      // Every other agent already holds watermark 100.
      const pre = keys.filter((_, i) => i % 2 === 0).map((k, j) => entry(k, 100, realisticState(100, j)));
      expect(await store.saveMany(pre)).toEqual(pre.map(() => 'saved'));

      const r = rng(500);
      const batch: SaveEntry[] = [];
      const expected: SaveOutcome[] = [];
      const finalState = new Map<number, Buffer>();
      pre.forEach((e, j) => finalState.set(j * 2, e.state as Buffer));
      for (let i = 0; i < n; i++) {
        const wm = [50, 100, 150][Math.floor(r() * 3)]!;
        const state = realisticState(wm, 10_000 + i);
        batch.push({ key: keys[i]!, watermark: wm, state });
        const stored = i % 2 === 0;
        const ok = !stored || wm > 100;
        expected.push(ok ? 'saved' : 'stale');
        if (ok) finalState.set(i, state);
      }
      // The same agent twice in one batch: applied in order.
      batch.push(entry(keys[1]!, 1000), entry(keys[1]!, 999), entry(keys[1]!, 1001));
      expected.push('saved', 'stale', 'saved');
      finalState.set(1, batch[batch.length - 1]!.state as Buffer);

      const outcomes = await store.saveMany(batch);
      expect(outcomes).toEqual(expected);
      expect(outcomes.filter((o) => o === 'saved').length).toBeGreaterThan(100);
      expect(outcomes.filter((o) => o === 'stale').length).toBeGreaterThan(100);

      const unknown = { tenant: 'default', agentId: 'agent-never' };
      const loaded = await store.loadMany([...keys, unknown, keys[0]!]);
      expect(loaded).toHaveLength(n + 2);
      expect(loaded.slice(0, n).map(hex)).toEqual(keys.map((_, i) => hex(finalState.get(i))));
      expect(loaded[n]).toBeNull();
      expect(hex(loaded[n + 1])).toBe(hex(finalState.get(0)));
    });

    it('keeps tenants apart: the same agentId in two tenants is two states', async () => {
      const store = await open();
      const a = { tenant: 'tenant-a', agentId: 'shared-id' };
      const b = { tenant: 'tenant-b', agentId: 'shared-id' };
      const sa = realisticState(20, 1);
      expect(await store.saveMany([{ key: a, watermark: 20, state: sa }])).toEqual(['saved']);
      expect(await store.loadMany([b])).toEqual([null]);
      const sb = realisticState(3, 2);
      // A lower watermark in tenant b is not stale: it is another agent.
      expect(await store.saveMany([{ key: b, watermark: 3, state: sb }])).toEqual(['saved']);
      expect((await store.loadMany([a, b])).map(hex)).toEqual([hex(sa), hex(sb)]);
    });

    it('round-trips ids with {, }, :, %, unicode and lookalike pairs without collisions', async () => {
      const store = await open();
      const keys: AgentKey[] = [
        { tenant: 'a:b', agentId: 'c' },
        { tenant: 'a', agentId: 'b:c' },
        { tenant: 'a', agentId: 'b%3Ac' },
        { tenant: 'a%3Ab', agentId: 'c' },
        { tenant: 'a}', agentId: 'b' },
        { tenant: 'a', agentId: '}b' },
        { tenant: '{a', agentId: 'b' },
        { tenant: 'a', agentId: '{b}' },
        { tenant: 'a', agentId: '{}' },
        { tenant: 'default', agentId: 'x'.repeat(256) },
        { tenant: 'ünïcødé', agentId: 'агент-✓-🤖' },
        { tenant: 'default', agentId: 'spiffe://example.org/ns/prod/sa/bot' },
        { tenant: '', agentId: 'empty-tenant' },
        { tenant: 'default', agentId: 'tab\tnewline\nnul\u0000' },
        { tenant: 'default', agentId: '%' },
        { tenant: 'default', agentId: '%25' },
      ];
      const states = keys.map((k, i) => realisticState(i + 1, 77 + i));
      expect(await store.saveMany(keys.map((key, i) => ({ key, watermark: i + 1, state: states[i]! })))).toEqual(keys.map(() => 'saved'));
      expect((await store.loadMany(keys)).map(hex)).toEqual(states.map(hex));
      // Each is its own agent: a save with a watermark below every other one is still fresh here.
      expect(
        await store.loadMany([
          { tenant: 'a', agentId: 'b' },
          { tenant: 'a:b:c', agentId: '' },
        ]),
      ).toEqual([null, null]);
    });

    it('preserves binary bytes: 0x00, invalid UTF-8, every byte value, any length', async () => {
      const store = await open();
      const keys = [
        { tenant: 'default', agentId: 'bin-1' },
        { tenant: 'default', agentId: 'bin-2' },
        { tenant: 'default', agentId: 'bin-3' },
      ];
      const states = [binaryState(1), binaryState(2, 9), binaryState(3, 4096)];
      expect(await store.saveMany(keys.map((key, i) => ({ key, watermark: i + 1, state: states[i]! })))).toEqual(['saved', 'saved', 'saved']);
      expect((await store.loadMany(keys)).map(hex)).toEqual(states.map(hex));
      // A Uint8Array view into a larger buffer is saved as exactly its own bytes.
      const big = new Uint8Array(1000).fill(0xee);
      big.set(binaryState(5, 100), 200);
      const view = big.subarray(200, 300);
      expect(await store.saveMany([{ key: keys[0]!, watermark: 5, state: view }])).toEqual(['saved']);
      expect(hex((await store.loadMany([keys[0]!]))[0])).toBe(hex(view));
    });

    it('clear() removes every state of this store and nothing of another store', async () => {
      const store = await open();
      const other = await open();
      const keys = Array.from({ length: 1200 }, (_, i) => ({ tenant: `t${i % 4}`, agentId: `agent:{${i}}` }));
      await store.saveMany(keys.map((k, i) => entry(k, i)));
      await other.saveMany(keys.slice(0, 10).map((k, i) => entry(k, i + 1000)));
      await store.clear();
      expect((await store.loadMany(keys)).every((v) => v === null)).toBe(true);
      const kept = await other.loadMany(keys.slice(0, 10));
      expect(kept.map(hex)).toEqual(keys.slice(0, 10).map((k, i) => hex(entry(k, i + 1000).state)));
      // A cleared store is still usable, and watermarks start over.
      expect(await store.saveMany([entry(keys[0]!, 0)])).toEqual(['saved']);
      await store.clear();
      await store.clear();
      expect(await store.loadMany([keys[0]!])).toEqual([null]);
    });
  });
}
