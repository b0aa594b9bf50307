/**
 * The test services themselves: a real Kafka broker and a real Redis, reached at the addresses
 * that globalSetup provided. If these fail, every other integration test is meaningless.
 */
import { Partitioners } from 'kafkajs';
import type { Consumer, Producer } from 'kafkajs';
import { afterAll, expect, inject, it } from 'vitest';
import {
  createTopic,
  deleteTopics,
  describeIntegration,
  kafkaBrokers,
  newKafka,
  redisUrl,
  uniqueName,
  waitFor,
  withAdmin,
  withRedis,
} from './support/services.ts';

const createdTopics: string[] = [];

afterAll(async () => {
  if (createdTopics.length > 0) await deleteTopics(createdTopics);
});

describeIntegration('test services', () => {
  it('provides the same addresses through inject() and process.env, and the broker advertises them', async () => {
    expect.hasAssertions();
    expect(inject('servicesAvailable')).toBe(true);
    expect(inject('kafkaBrokers')).toBe(process.env.KAFKA_BROKERS);
    expect(inject('redisUrl')).toBe(process.env.REDIS_URL);
    expect(redisUrl()).toMatch(/^rediss?:\/\/[^/]+/);

    const cluster = await withAdmin((admin) => admin.describeCluster());
    expect(cluster.brokers.length).toBeGreaterThanOrEqual(1);
    const advertised = cluster.brokers.map((b) => `${b.host}:${b.port}`);
    // The first configured bootstrap address must be a broker the cluster itself advertises
    // (otherwise clients would be redirected somewhere unreachable).
    expect(advertised).toContain(kafkaBrokers()[0]);
  });

  it('round-trips keyed messages through a 3-partition topic and a consumer group', async () => {
    expect.hasAssertions();
    const topic = await createTopic(uniqueName('svc-roundtrip'), 3);
    createdTopics.push(topic);

    const meta = await withAdmin((admin) => admin.fetchTopicMetadata({ topics: [topic] }));
    expect(meta.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);

    // 12 fixed keys x 4 messages. The default (murmur2) partitioner is deterministic, so which
    // partitions these keys use is fixed; 12 keys on 3 partitions always use more than one.
    const keys = Array.from({ length: 12 }, (_, i) => `agent-${i}`);
    const perKey = 4;
    const sent: Array<{ key: string; value: string; partition: number }> = [];

    const kafka = newKafka(uniqueName('svc-client'));
    const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      for (let seq = 0; seq < perKey; seq++) {
        for (const key of keys) {
          const value = JSON.stringify({ key, seq });
          const [meta0] = await producer.send({ topic, acks: -1, messages: [{ key, value }] });
          expect(meta0?.errorCode).toBe(0);
          sent.push({ key, value, partition: meta0?.partition ?? -1 });
        }
      }
    } finally {
      await producer.disconnect();
    }

    const groupId = uniqueName('svc-group');
    const received: Array<{ key: string; value: string; partition: number; offset: string }> = [];
    const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          received.push({
            key: message.key?.toString('utf8') ?? '',
            value: message.value?.toString('utf8') ?? '',
            partition,
            offset: message.offset,
          });
        },
      });
      await waitFor(() => received.length >= sent.length, `${sent.length} messages on ${topic}`, 60_000);
      // Give a duplicate or stray message a moment to show up before comparing exactly.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await consumer.disconnect();
    }

    // Exactly what was sent, nothing more.
    const asSet = (xs: Array<{ key: string; value: string }>) => xs.map((x) => `${x.key}|${x.value}`).sort();
    expect(received).toHaveLength(sent.length);
    expect(asSet(received)).toEqual(asSet(sent));

    // Equal keys land on one partition, the one the producer was told.
    const partitionOfKey = new Map<string, Set<number>>();
    for (const r of received) {
      const s = partitionOfKey.get(r.key) ?? new Set<number>();
      s.add(r.partition);
      partitionOfKey.set(r.key, s);
    }
    for (const key of keys) {
      expect(partitionOfKey.get(key)?.size, `partitions used by ${key}`).toBe(1);
      const producedTo = new Set(sent.filter((s) => s.key === key).map((s) => s.partition));
      expect([...producedTo]).toEqual([...(partitionOfKey.get(key) ?? [])]);
    }
    const usedPartitions = new Set(received.map((r) => r.partition));
    expect(usedPartitions.size).toBeGreaterThan(1);

    // Per-key order is preserved (one key, one partition, offsets increasing with seq).
    for (const key of keys) {
      const seqs = received.filter((r) => r.key === key).map((r) => (JSON.parse(r.value) as { seq: number }).seq);
      expect(seqs, `order of ${key}`).toEqual([0, 1, 2, 3]);
    }

    // The group committed its position: committed offsets add up to all messages.
    const offsets = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
    const committed = offsets[0]?.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBe(sent.length);
  });

  it('SET/GET/DEL round-trip on the real Redis', async () => {
    expect.hasAssertions();
    await withRedis(async (redis) => {
      const key = `{${uniqueName('svc-test')}}:plain`;
      expect(await redis.get(key)).toBeNull();
      expect(await redis.set(key, 'héllo ✓', 'PX', 60_000)).toBe('OK');
      expect(await redis.get(key)).toBe('héllo ✓');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(await redis.del(key)).toBe(1);
      expect(await redis.get(key)).toBeNull();
      expect(await redis.del(key)).toBe(0);
    });
  });

  it('runs a Lua compare-and-set script atomically (EVAL round trip)', async () => {
    expect.hasAssertions();
    // KEYS[1] value key, KEYS[2] watermark key; ARGV[1] expected watermark, ARGV[2] new
    // watermark, ARGV[3] value. Returns 1 when applied, 0 when the watermark did not match.
    const cas = `
      local current = redis.call('GET', KEYS[2]) or '-1'
      if current ~= ARGV[1] then return 0 end
      redis.call('SET', KEYS[1], ARGV[3])
      redis.call('SET', KEYS[2], ARGV[2])
      return 1
    `;
    await withRedis(async (redis) => {
      const tag = uniqueName('svc-lua');
      const valueKey = `{${tag}}:state`;
      const markKey = `{${tag}}:mark`;
      try {
        expect(await redis.eval(cas, 2, valueKey, markKey, '-1', '5', 'v5')).toBe(1);
        expect(await redis.get(valueKey)).toBe('v5');
        expect(await redis.get(markKey)).toBe('5');
        // A stale writer (expects the old watermark) must not overwrite newer state.
        expect(await redis.eval(cas, 2, valueKey, markKey, '-1', '3', 'v3')).toBe(0);
        expect(await redis.get(valueKey)).toBe('v5');
        expect(await redis.eval(cas, 2, valueKey, markKey, '5', '9', 'v9')).toBe(1);
        expect(await redis.mget(valueKey, markKey)).toEqual(['v9', '9']);
        // Scripts can also return structured replies.
        expect(await redis.eval('return {KEYS[1], ARGV[1], 42}', 1, valueKey, 'x')).toEqual([valueKey, 'x', 42]);
      } finally {
        await redis.del(valueKey, markKey);
      }
    });
  });
});
