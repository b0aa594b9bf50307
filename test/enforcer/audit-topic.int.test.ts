/**
 * `trustline audit verify --topic` against the real broker (lives beside the enforcer
 * integration tests: the audit chain is part of the enforcement side).
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Producer } from 'kafkajs';
import { appendAuditRecord, type AuditRecord } from '../../src/audit/chain.ts';
import { readTopicToEnd } from '../../src/audit/read-topic.ts';
import { main } from '../../src/cli/main.ts';
import { createTopic, deleteTopics, describeIntegration, kafkaBrokers, newKafka, uniqueName } from '../support/services.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    return { code: await main(argv), out, err };
  } finally {
    spy.mockRestore();
    spyErr.mockRestore();
  }
}

describeIntegration('audit verify --topic on a real broker', () => {
  let producer: Producer;
  const topics: string[] = [];

  beforeAll(async () => {
    producer = newKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await deleteTopics(topics).catch(() => undefined);
  });

  /** A topic with `perPartition` chained records in each of its partitions. */
  async function auditTopic(partitions: number, perPartition: number): Promise<{ topic: string; heads: AuditRecord[] }> {
    const topic = await createTopic(uniqueName('audit'), partitions);
    topics.push(topic);
    const heads: AuditRecord[] = [];
    for (let p = 0; p < partitions; p++) {
      let last: AuditRecord | null = null;
      const messages = [];
      for (let i = 0; i < perPartition; i++) {
        last = appendAuditRecord(last ?? { partition: p }, { kind: 'decision', agentId: `agent-${i % 4}`, i });
        messages.push({ partition: p, value: JSON.stringify(last) });
      }
      await producer.send({ topic, acks: -1, messages });
      heads.push(last!);
    }
    return { topic, heads };
  }

  it('reads every partition to its end offsets and verifies the chains (exit 0)', async () => {
    const { topic, heads } = await auditTopic(3, 25);
    const seen: number[] = [0, 0, 0];
    expect(await readTopicToEnd({ brokers: kafkaBrokers(), topic }, (p) => void seen[p]!++)).toBe(75);
    expect(seen).toEqual([25, 25, 25]);
    const r = await cli(['audit', 'verify', '--topic', topic, '--brokers', kafkaBrokers().join(','), '--head', `2:24:${heads[2]!.hash}`]);
    expect(r.out).toContain('audit chain ok: 75 records in 3 chain(s)');
    expect(r.code).toBe(0);
  });

  it('reports a forged record appended to a partition (exit 1) with its partition and offset', async () => {
    const { topic, heads } = await auditTopic(2, 10);
    // Links to record 7 of partition 1 instead of the head (index 9): a rewrite of history.
    const forged = appendAuditRecord({ ...heads[1]!, index: 7, hash: 'a'.repeat(64) }, { kind: 'decision', forged: true });
    await producer.send({ topic, acks: -1, messages: [{ partition: 1, value: JSON.stringify(forged) }] });
    const r = await cli(['audit', 'verify', '--topic', topic, '--brokers', kafkaBrokers().join(',')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/BROKEN at partition 1 offset 10 \(partition 1, index 8\): index_regression/);
  });

  it('reports a record written to the wrong partition', async () => {
    const { topic, heads } = await auditTopic(2, 3);
    const next = appendAuditRecord(heads[0]!, { kind: 'decision', i: 3 });
    await producer.send({ topic, acks: -1, messages: [{ partition: 1, value: JSON.stringify(next) }] });
    const r = await cli(['audit', 'verify', '--topic', topic, '--brokers', kafkaBrokers().join(','), '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, reason: 'wrong_partition', partition: 0, where: 'partition 1 offset 3' });
  });

  it('an empty topic verifies as 0 records; a missing topic exits 3 (no verdict)', async () => {
    const topic = await createTopic(uniqueName('audit-empty'), 2);
    topics.push(topic);
    expect((await cli(['audit', 'verify', '--topic', topic, '--brokers', kafkaBrokers().join(',')])).out).toContain('audit chain ok: 0 records');
    const missing = await cli(['audit', 'verify', '--topic', uniqueName('audit-missing'), '--brokers', kafkaBrokers().join(',')]);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/could not verify: topic audit-missing-\S+ does not exist/);
  });
});
