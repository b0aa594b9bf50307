/**
 * `trustline publish` against the real broker: a small fixture is published to its own topic
 * with several partitions and consumed back — every record arrives once, keyed by its
 * `agent.id`, with its bytes unchanged, in file order per key; invalid lines go unkeyed;
 * `--limit` bounds the job; event-time pacing (`--speed`) publishes the same records.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { publishFile } from '../../src/cli/publish.ts';
import { loadConfig } from '../../src/config/config.ts';
import { T0, ev } from '../support/events.ts';
import { createTopic, deleteTopics, describeIntegration, kafkaBrokers, newKafka, uniqueName, waitFor } from '../support/services.ts';

type Got = { key: string | null; value: string; partition: number; offset: number };

async function consumeAll(topic: string, expected: number): Promise<Got[]> {
  const consumer = newKafka().consumer({ groupId: uniqueName('publish-test'), allowAutoTopicCreation: false });
  const got: Got[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        got.push({ key: message.key ? message.key.toString('utf8') : null, value: message.value!.toString('utf8'), partition, offset: Number(message.offset) });
      },
    });
    await waitFor(() => got.length >= expected, `${expected} records on ${topic}`);
    // Nothing beyond what was published.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describeIntegration('trustline publish', () => {
  const work = mkdtempSync(join(tmpdir(), 'trustline-publish-'));
  const topics: string[] = [];
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await deleteTopics(topics).catch(() => undefined);
  });

  // 5 agents interleaved, 12 events each over 2.4 s of event time, plus one invalid line.
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) lines.push(JSON.stringify(ev({ eventId: `p-${i}`, ts: T0 + i * 40, agent: { id: `agent-${i % 5}` } })));
  lines.splice(17, 0, '{"not":"an event"');
  const file = join(work, 'small.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const config = () => loadConfig({ env: { KAFKA_BROKERS: kafkaBrokers().join(',') } });

  it('publishes every line keyed by agent.id, bytes unchanged, in file order per key', async () => {
    const topic = await createTopic(uniqueName('publish-max'), 3);
    topics.push(topic);
    const r = await publishFile({ file, topic, config: config(), pace: { kind: 'max' } });
    expect(r).toMatchObject({ published: 61, unkeyed: 1, createdTopic: false });
    const got = await consumeAll(topic, 61);
    expect(got).toHaveLength(61);
    expect(new Set(got.map((g) => g.value))).toEqual(new Set(lines));
    const unkeyed = got.filter((g) => g.key === null);
    expect(unkeyed.map((g) => g.value)).toEqual(['{"not":"an event"']);
    for (let a = 0; a < 5; a++) {
      const key = `agent-${a}`;
      const mine = got.filter((g) => g.key === key);
      expect(new Set(mine.map((g) => g.partition)).size, key).toBe(1); // one agent, one partition
      mine.sort((x, y) => x.offset - y.offset);
      const fileOrder = lines.filter((l) => l.includes(`"id":"${key}"`));
      expect(
        mine.map((g) => g.value),
        key,
      ).toEqual(fileOrder);
      for (const g of mine) expect((JSON.parse(g.value) as { agent: { id: string } }).agent.id).toBe(key);
    }
  });

  it('paced by event time (--speed) and bounded by --limit; creates a missing topic', async () => {
    const topic = uniqueName('publish-speed');
    topics.push(topic);
    const r = await publishFile({
      file,
      topic,
      config: { ...config(), kafka: { ...config().kafka, partitions: 2 } },
      pace: { kind: 'speed', factor: 8 },
      limit: 25,
    });
    expect(r).toMatchObject({ published: 25, createdTopic: true });
    expect(r.batches).toBeGreaterThan(1); // records were sent as they fell due, not in one go
    const got = await consumeAll(topic, 25);
    expect(got).toHaveLength(25);
    const perKey = new Map<string, Got[]>();
    for (const g of got) if (g.key) perKey.set(g.key, [...(perKey.get(g.key) ?? []), g]);
    for (const [key, mine] of perKey) {
      mine.sort((x, y) => x.offset - y.offset);
      const ids = mine.map((g) => (JSON.parse(g.value) as { eventId: string }).eventId);
      expect(ids, key).toEqual(
        lines
          .slice(0, 25)
          .filter((l) => l.includes(`"id":"${key}"`))
          .map((l) => (JSON.parse(l) as { eventId: string }).eventId),
      );
    }
  });

  it('the CLI reports what it published', async () => {
    const topic = await createTopic(uniqueName('publish-cli'), 1);
    topics.push(topic);
    const { main } = await import('../../src/cli/main.ts');
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((c: string | Uint8Array) => (out.push(String(c)), true)) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    const before = process.env.KAFKA_BROKERS;
    process.env.KAFKA_BROKERS = kafkaBrokers().join(',');
    try {
      expect(await main(['publish', file, '--rate', '500', '--limit', '10', '--topic', topic])).toBe(0);
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
      if (before === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = before;
    }
    expect(out.join('')).toMatch(new RegExp(`published 10 records to ${topic}`));
    expect(await consumeAll(topic, 10)).toHaveLength(10);
  });
});
