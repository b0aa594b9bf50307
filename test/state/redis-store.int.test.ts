/**
 * The state stores: the shared conformance suite against the in-memory store and against the
 * Redis store on the real Redis, plus what only the Redis store has (round trips, cluster
 * slots, script return codes, outages).
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { TrustlineError } from '../../src/shared/errors.ts';
import { agentKey, hashTagOf, keySlot, parseStateKey, stateBucketKey, stateBucketOf } from '../../src/state/keys.ts';
import { POSITION_AT, SAVE_CODE } from '../../src/state/lua-commands.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import type { AgentKey, StateStore } from '../../src/state/store.ts';
import { realisticState, runStateStoreConformance } from '../support/state-store-conformance.ts';
import { describeIntegration, newRedis, redisUrl, uniqueName, waitFor } from '../support/services.ts';

runStateStoreConformance('MemoryStateStore', async () => new MemoryStateStore(), { peer: async (s) => s });

describeIntegration('RedisStateStore on the real Redis', () => {
  runStateStoreConformance(
    'RedisStateStore',
    async () => new RedisStateStore({ url: redisUrl(), keyPrefix: uniqueName('st') }),
    // A second connection on the same namespace: another processor instance.
    { peer: async (s) => new RedisStateStore({ url: redisUrl(), keyPrefix: (s as RedisStateStore).keyPrefix }) },
  );

  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A store on its own client, so the test can watch the client's socket. */
  async function storeOnOwnClient(): Promise<{ store: RedisStateStore; redis: Redis }> {
    const redis = newRedis();
    await redis.ping();
    const store = new RedisStateStore({ redis, keyPrefix: uniqueName('rt') });
    cleanup.push(async () => {
      await store.clear();
      await store.close();
      await redis.quit();
    });
    return { store, redis };
  }

  /** Counts writes to the client's socket while `fn` runs: one write of requests = one round trip. */
  async function countWrites<T>(redis: Redis, fn: () => Promise<T>): Promise<{ result: T; writes: number }> {
    const socket = redis.stream;
    const original = socket.write;
    let writes = 0;
    socket.write = function (this: typeof socket, ...args: unknown[]) {
      writes += 1;
      return (original as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof socket.write;
    try {
      return { result: await fn(), writes };
    } finally {
      socket.write = original;
    }
  }

  it('uses one round trip per loadMany and per saveMany, whatever the batch size', async () => {
    const { store, redis } = await storeOnOwnClient();
    const keys: AgentKey[] = Array.from({ length: 500 }, (_, i) => ({ tenant: `t${i % 5}`, agentId: `a-${i}` }));
    const monitorBase = newRedis();
    const monitor = await monitorBase.monitor();
    cleanup.push(async () => {
      monitor.disconnect();
      await monitorBase.quit();
    });
    const seen: string[][] = []; // sent by the client
    const inScripts: string[] = []; // run by the scripts on the server
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (!args.some((a) => a.includes(store.keyPrefix))) return;
      if (source === 'lua') inScripts.push(args[0]!.toLowerCase());
      else seen.push(args);
    });

    // First saveMany on this connection: EVAL with the script body, then EVALSHA, still one write.
    const first = await countWrites(redis, () => store.saveMany(keys.map((key, i) => ({ key, watermark: i, state: realisticState(i, i) }))));
    expect(first.result.every((o) => o === 'saved')).toBe(true);
    expect(first.writes).toBe(1);

    const second = await countWrites(redis, () =>
      store.saveMany(keys.map((key, i) => ({ key, watermark: i + (i % 2), state: realisticState(i + (i % 2), i) }))),
    );
    expect(second.result).toEqual(keys.map((_, i) => (i % 2 === 1 ? 'saved' : 'stale')));
    expect(second.writes).toBe(1);

    const loaded = await countWrites(redis, () => store.loadMany(keys));
    expect(loaded.result.every((v) => v !== null)).toBe(true);
    expect(loaded.writes).toBe(1);

    // What the server saw: one script call per saveMany and per loadMany (EVAL with the body the
    // first time a script is used on the connection, then EVALSHA), nothing else.
    const buckets = new Set(keys.map((k) => store.locate(k).key));
    await waitFor(() => seen.length >= 3, 'MONITOR to report 3 commands', 10_000);
    const names = seen.map((a) => a[0]!.toLowerCase());
    expect(names).toHaveLength(3);
    expect(names.filter((n) => n === 'eval' || n === 'evalsha')).toHaveLength(3);
    expect(names.filter((n) => n === 'eval')).toHaveLength(2);
    // Inside the scripts: one TYPE per key and save call, one HGET per record (2 × 500 saves + 500 loads), an HSET per saved record (500 + 250).
    await waitFor(() => inScripts.length >= 2 * buckets.size + 2250, "MONITOR to report the scripts' commands", 10_000);
    expect(inScripts.filter((n) => n === 'hget')).toHaveLength(1500);
    expect(inScripts.filter((n) => n === 'hset')).toHaveLength(750);
    expect(inScripts.filter((n) => n === 'type')).toHaveLength(2 * buckets.size);
  });

  it('saves and loads 20,000 agents in one call each (no argument-spreading limit)', async () => {
    const { store } = await storeOnOwnClient();
    const keys: AgentKey[] = Array.from({ length: 20_000 }, (_, i) => ({ tenant: 'default', agentId: `big-${i}` }));
    const outcomes = await store.saveMany(keys.map((key, i) => ({ key, watermark: i + 1, state: realisticState(i + 1, i) })));
    expect(outcomes.every((o) => o === 'saved')).toBe(true);
    const loaded = await store.loadMany(keys);
    expect(loaded.every((v, i) => v !== null && Buffer.compare(Buffer.from(v), realisticState(i + 1, i)) === 0)).toBe(true);
  });

  it('keeps states in small bucket hashes (listpack encoding with hash-max-listpack-value >= 512), never one key per agent', async () => {
    const { store } = await storeOnOwnClient();
    const keys: AgentKey[] = Array.from({ length: 300 }, (_, i) => ({ tenant: 'default', agentId: `agent-${i}` }));
    await store.saveMany(keys.map((key, i) => ({ key, watermark: i, state: realisticState(i, i) })));
    const bucketKeys = new Set(keys.map((k) => store.locate(k).key));
    expect(bucketKeys.size).toBeLessThan(300);
    let fields = 0;
    for (const k of bucketKeys) fields += await store.redis.hlen(k);
    expect(fields).toBe(300);
    const [, maxValue] = (await store.redis.config('GET', 'hash-max-listpack-value')) as [string, string];
    if (Number(maxValue) >= 512) for (const k of bucketKeys) expect(await store.redis.object('ENCODING', k)).toBe('listpack');
    // A bucket key is never mistaken for an agent's own key.
    for (const k of bucketKeys) expect(parseStateKey(store.keyPrefix, k)).toBeNull();
  });

  it('puts every key of one agent in one cluster slot: its own keys by (tenant, agentId), its state by its bucket', async () => {
    const require = createRequire(import.meta.url);
    // The slot function ioredis's own Cluster client uses.
    const calculateSlot = require('cluster-key-slot') as (key: string | Buffer) => number;
    const store = new RedisStateStore({ url: redisUrl(), keyPrefix: uniqueName('slot') });
    cleanup.push(() => store.close());
    const agents: AgentKey[] = [
      { tenant: 'default', agentId: 'agent-1' },
      { tenant: 'a:b', agentId: 'c' },
      { tenant: 'x}', agentId: '{y' },
      { tenant: 'ünïcødé', agentId: '🤖:{}' },
    ];
    const enc = (s: string): string => s.replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    for (const a of agents) {
      const keys = [agentKey(store.keyPrefix, a), agentKey(store.keyPrefix, a, ':o'), agentKey(store.keyPrefix, a, ':esc')];
      const slots = keys.map((k) => calculateSlot(k));
      expect(new Set(slots).size).toBe(1);
      expect(keys.map((k) => keySlot(k))).toEqual(slots);
      expect(Buffer.from(hashTagOf(keys[0]!)).toString('utf8')).toBe(`${enc(a.tenant)}:${enc(a.agentId)}`);
      // The state bucket: one hash tag, exactly (tenant, bucket).
      const bucket = store.locate(a).key;
      expect(bucket).toBe(stateBucketKey(store.keyPrefix, a.tenant, stateBucketOf(a.agentId, store.stateBuckets)));
      const tag = Buffer.from(hashTagOf(bucket)).toString('utf8');
      expect(tag).toBe(`${enc(a.tenant)}::${stateBucketOf(a.agentId, store.stateBuckets).toString(36)}`);
      expect(calculateSlot(bucket)).toBe(calculateSlot(tag));
      expect(keySlot(bucket)).toBe(calculateSlot(bucket));
    }
    // The key Redis actually stores is the one keys.ts builds (no client-side prefixing).
    const a = agents[3]!;
    await store.saveMany([{ key: a, watermark: 1, state: realisticState(1, 1) }]);
    cleanup.push(() => store.clear());
    const loc = store.locate(a);
    expect(await store.redis.hexists(loc.key, loc.field)).toBe(1);
  });

  it('runs the CAS script on the server with the struct library and the documented return codes', async () => {
    const store = new RedisStateStore({ url: redisUrl(), keyPrefix: uniqueName('lua') });
    cleanup.push(async () => {
      await store.clear();
      await store.close();
    });
    const { key, field } = store.locate({ tenant: 'default', agentId: 'lua' });
    const headKey = `${store.keyPrefix}:audit:{t:0}`;
    expect(await store.redis.eval("return type(struct) .. ' ' .. type(struct.unpack)", 0)).toBe('table function');
    const save = (pos: string, value: Buffer, k = key, f = field, at: number = POSITION_AT.state): Promise<number[]> =>
      store.redis.trustlineSaveMany(1, [k], [1, f, at, pos, value]);
    const s7 = realisticState(7, 7);
    expect(await save('7', s7)).toEqual([SAVE_CODE.SAVED]);
    expect(await save('7', s7)).toEqual([SAVE_CODE.STALE]);
    expect(await save('8', realisticState(9, 9))).toEqual([SAVE_CODE.POSITION_MISMATCH]);
    expect(await save('NaN', s7)).toEqual([SAVE_CODE.BAD_ARGUMENT]);
    expect(await save('inf', s7)).toEqual([SAVE_CODE.BAD_ARGUMENT]);
    expect(await save('8', Buffer.alloc(8))).toEqual([SAVE_CODE.BAD_ARGUMENT]);
    expect(Buffer.compare((await store.redis.hgetBuffer(key, field))!, s7)).toBe(0);
    // Many records in one call, of both kinds (a whole key at position 1, hash fields at position 2), codes in order.
    const head = Buffer.alloc(20);
    head.writeDoubleLE(5, 0);
    const many = await store.redis.trustlineSaveMany(
      2,
      [key, headKey],
      [2, '', POSITION_AT.auditHead, '5', head, 1, field, POSITION_AT.state, '7', s7, 1, 'other', POSITION_AT.state, '3', realisticState(3, 3)],
    );
    expect(many).toEqual([SAVE_CODE.SAVED, SAVE_CODE.STALE, SAVE_CODE.SAVED]);
    expect(await store.redis.trustlineSaveMany(1, [headKey], [1, '', POSITION_AT.auditHead, '5', head])).toEqual([SAVE_CODE.STALE]);
    // Records may be longer than today's state: only the position is read.
    expect(await save('9', Buffer.concat([realisticState(9, 9), Buffer.alloc(100, 7)]))).toEqual([SAVE_CODE.SAVED]);

    await store.redis.hset(key, 'corrupt', 'short');
    expect(await save('8', realisticState(8, 8), key, 'corrupt')).toEqual([SAVE_CODE.STORED_CORRUPT]);
    expect(await store.redis.hget(key, 'corrupt')).toBe('short');
    await store.redis.set(`${store.keyPrefix}:{x::0}`, 'a string');
    expect(await save('8', realisticState(8, 8), `${store.keyPrefix}:{x::0}`)).toEqual([SAVE_CODE.WRONG_TYPE]);
    await store.redis.del(`${store.keyPrefix}:{x::0}`, headKey);
  });

  it('rejects a bad batch before writing any of it, and maps corrupt stored values to STATE_CORRUPT', async () => {
    const store = new RedisStateStore({ url: redisUrl(), keyPrefix: uniqueName('bad') });
    cleanup.push(async () => {
      await store.clear();
      await store.close();
    });
    const good = { tenant: 'default', agentId: 'good' };
    const bad = { tenant: 'default', agentId: 'bad' };
    const err = await store
      .saveMany([
        { key: good, watermark: 1, state: realisticState(1, 1) },
        { key: bad, watermark: 3, state: realisticState(2, 2) },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrustlineError);
    expect((err as TrustlineError).code).toBe('INTERNAL');
    expect((err as TrustlineError).retriable).toBe(false);
    expect(await store.loadMany([good, bad])).toEqual([null, null]);

    const loc = store.locate(bad);
    await store.redis.hset(loc.key, loc.field, 'x');
    const corrupt = await store.saveMany([{ key: bad, watermark: 4, state: realisticState(4, 4) }]).catch((e: unknown) => e);
    expect((corrupt as TrustlineError).code).toBe('STATE_CORRUPT');

    await store.redis.del(loc.key);
    await store.redis.set(loc.key, 'v');
    const wrongType = await store.saveMany([{ key: bad, watermark: 4, state: realisticState(4, 4) }]).catch((e: unknown) => e);
    expect((wrongType as TrustlineError).code).toBe('STATE_CORRUPT');
  });

  it('clear() touches only this prefix, even with glob characters and look-alike prefixes around', async () => {
    const base = uniqueName('clr');
    const prefix = `${base}*[x]?`;
    const store = new RedisStateStore({ url: redisUrl(), keyPrefix: prefix });
    const neighbours = [
      new RedisStateStore({ url: redisUrl(), keyPrefix: `${prefix}:` }),
      new RedisStateStore({ url: redisUrl(), keyPrefix: `${prefix}x` }),
      // would match the prefix's glob characters if they were not escaped in SCAN MATCH
      new RedisStateStore({ url: redisUrl(), keyPrefix: `${base}QQxQ` }),
    ];
    const strangers = [prefix, `${prefix}:plain`, `${base}-{default:a}`];
    cleanup.push(async () => {
      for (const n of neighbours) {
        await n.clear();
        await n.close();
      }
      await store.redis.del(...strangers);
      await store.close();
    });
    const key = { tenant: 'default', agentId: 'a' };
    for (const s of [store, ...neighbours]) await s.saveMany([{ key, watermark: 1, state: realisticState(1, 1) }]);
    for (const k of strangers) await store.redis.set(k, 'keep');
    await store.clear();
    expect(await store.loadMany([key])).toEqual([null]);
    for (const n of neighbours) expect((await n.loadMany([key]))[0]).not.toBeNull();
    expect(await store.redis.exists(...strangers)).toBe(strangers.length);
  });

  describe('during Redis outages', () => {
    /** A TCP proxy in front of the real Redis that the test can cut and restore. */
    async function outageProxy(): Promise<{ url: string; cut: () => Promise<void>; restore: () => Promise<void> }> {
      const target = new URL(redisUrl());
      const sockets = new Set<net.Socket>();
      const make = () =>
        net.createServer((client) => {
          const upstream = net.connect(Number(target.port || 6379), target.hostname);
          sockets.add(client).add(upstream);
          client.pipe(upstream).pipe(client);
          const drop = () => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
          };
          client.on('error', drop).on('close', drop);
          upstream.on('error', drop).on('close', drop);
        });
      let server = make();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const cut = async () => {
        await new Promise<void>((r) => {
          server.close(() => r());
          for (const s of sockets) s.destroy();
          sockets.clear();
        });
      };
      const restore = async () => {
        server = make();
        await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      };
      cleanup.push(cut);
      return { url: `${target.protocol}//${target.username ? `${target.username}:${target.password}@` : ''}127.0.0.1:${port}${target.pathname}`, cut, restore };
    }

    it('waits during an outage and completes the call when Redis is back', async () => {
      const proxy = await outageProxy();
      const errors: Error[] = [];
      const store = new RedisStateStore({ url: proxy.url, keyPrefix: uniqueName('out'), maxRetriesPerRequest: null, onError: (e) => errors.push(e) });
      cleanup.push(async () => {
        await store.clear();
        await store.close();
      });
      const key = { tenant: 'default', agentId: 'survivor' };
      expect(await store.saveMany([{ key, watermark: 1, state: realisticState(1, 1) }])).toEqual(['saved']);

      await proxy.cut();
      let settled = false;
      const pendingSave = store.saveMany([{ key, watermark: 2, state: realisticState(2, 2) }]).finally(() => (settled = true));
      const pendingLoad = store.loadMany([key]);
      await new Promise((r) => setTimeout(r, 800));
      expect(settled).toBe(false);
      expect(errors.length).toBeGreaterThan(0);

      await proxy.restore();
      expect(await pendingSave).toEqual(['saved']);
      const hex = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('hex');
      // Queued calls are sent in the order they were made.
      expect(hex((await pendingLoad)[0])).toBe(hex(realisticState(2, 2)));
      expect(hex((await store.loadMany([key]))[0])).toBe(hex(realisticState(2, 2)));
    });

    it('fails a call with a retriable STATE_UNAVAILABLE once the retries are used up, without crashing', async () => {
      const proxy = await outageProxy();
      await proxy.cut();
      const store = new RedisStateStore({ url: proxy.url, keyPrefix: uniqueName('down'), maxRetriesPerRequest: 2 });
      cleanup.push(() => store.close());
      const errors = await Promise.all(
        [
          store.loadMany([{ tenant: 'default', agentId: 'x' }]),
          store.saveMany([{ key: { tenant: 'default', agentId: 'x' }, watermark: 1, state: realisticState(1, 1) }]),
          store.clear(),
        ].map((p) =>
          p.then(
            () => 'resolved',
            (e: unknown) => e,
          ),
        ),
      );
      for (const err of errors) {
        expect(err).toBeInstanceOf(TrustlineError);
        expect((err as TrustlineError).code).toBe('STATE_UNAVAILABLE');
        expect((err as TrustlineError).retriable).toBe(true);
        expect((err as TrustlineError).cause).toBeInstanceOf(Error);
      }
    });

    it('fails a call that gets no reply within commandTimeoutMs (a Redis that accepts but never answers)', async () => {
      const sockets: net.Socket[] = [];
      const blackhole = net.createServer((s) => {
        sockets.push(s);
        s.on('error', () => undefined);
      });
      await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
      cleanup.push(
        () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            blackhole.close(() => r());
          }),
      );
      const store = new RedisStateStore({
        url: `redis://127.0.0.1:${(blackhole.address() as AddressInfo).port}`,
        keyPrefix: uniqueName('hole'),
        commandTimeoutMs: 300,
      });
      cleanup.push(() => store.close(100));
      const err = await store.loadMany([{ tenant: 'default', agentId: 'x' }]).catch((e: unknown) => e);
      expect((err as TrustlineError).code).toBe('STATE_UNAVAILABLE');
      expect((err as TrustlineError).retriable).toBe(true);
    });

    it('close() is safe twice; a closed store refuses calls (not retriable); a borrowed client stays open', async () => {
      const redis = newRedis();
      cleanup.push(() => redis.quit());
      const borrowed = new RedisStateStore({ redis, keyPrefix: uniqueName('cls') });
      const owned = new RedisStateStore({ url: redisUrl(), keyPrefix: uniqueName('cls') });
      await owned.loadMany([{ tenant: 'default', agentId: 'x' }]);
      await Promise.all([owned.close(), owned.close()]);
      await borrowed.close();
      await borrowed.close();
      expect(owned.redis.status).toBe('end');
      expect(await redis.ping()).toBe('PONG');
      for (const s of [owned, borrowed] as StateStore[]) {
        const err = await s.loadMany([{ tenant: 'default', agentId: 'x' }]).catch((e: unknown) => e);
        expect((err as TrustlineError).code).toBe('STATE_UNAVAILABLE');
        expect((err as TrustlineError).retriable).toBe(false);
      }
      // Scripts are defined once per client: a second store on the same client reuses them.
      const again = new RedisStateStore({ redis, keyPrefix: uniqueName('cls') });
      expect(await again.saveMany([{ key: { tenant: 'default', agentId: 'x' }, watermark: 1, state: realisticState(1, 1) }])).toEqual(['saved']);
      await again.clear();
      await again.close();
    });
  });
});
