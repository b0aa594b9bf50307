/**
 * Poison input under `trustline run` (docs/reliability.md; README "bad input never stops the
 * stream"): malformed records of every kind — invalid JSON, invalid UTF-8, an unknown `v`, a
 * missing field, a wrong type, not an object, more than 64 KiB, a null-value tombstone — in EVERY
 * batch: every 5th record of every partition is one, so any 5 consecutive offsets of a partition
 * hold one, between good events of the same agents. Each must land in the DLQ topic with its
 * original key and value bytes and the `trustline-*` headers (reason code, JSON Pointer, source
 * topic/partition/offset), every good record must be scored exactly as an uninterrupted run
 * scores them (the delivery-scenario runner's full check), and the processor must keep running.
 */
import { createHash } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../../src/contract/schemas.ts';
import { cleanupScenarios, runDeliveryScenario } from '../../support/delivery-scenario.ts';
import {
  POISON_EXPECT,
  POISON_KINDS,
  counterValue,
  poisonRecord,
  type InProcess,
  type PoisonKind,
  type SourceRecord,
} from '../../support/processor-harness.ts';
import { describeIntegration, waitFor } from '../../support/services.ts';

/** Every POISON_PERIOD-th record of each partition is poison. */
const POISON_PERIOD = 5;

/** Good records with a poison one after every POISON_PERIOD − 1 of them, per partition (explicit partitions, an agent's on one). */
function poisonEveryBatch(good: SourceRecord[], partitions: number): SourceRecord[] {
  const partitionOf = (key: Buffer): number => createHash('sha256').update(key).digest().readUInt32BE(0) % partitions;
  const count = new Array<number>(partitions).fill(0);
  const out: SourceRecord[] = [];
  let n = 0;
  for (const g of good) {
    const p = partitionOf(g.key!);
    out.push({ ...g, partition: p });
    if (++count[p]! % POISON_PERIOD === POISON_PERIOD - 1) {
      out.push({ ...poisonRecord(POISON_KINDS[n % POISON_KINDS.length]!, g, n), partition: p });
      n++;
      count[p]!++;
    }
  }
  return out;
}

/** Identity of a record's value bytes. */
const fingerprint = (r: { value: Buffer | null }): string => r.value?.toString('base64') ?? '';

describeIntegration('trustline run: poison input', () => {
  afterAll(cleanupScenarios);

  it('a malformed record in every batch goes to the DLQ unchanged with the right code and headers; good ones are scored; the processor keeps running', async () => {
    let p!: InProcess;
    let dlqMetric = 0;
    const { report, scenario } = await runDeliveryScenario({
      name: 'poison',
      seed: 0x9015011,
      events: 4_000,
      skip: 29_000,
      input: poisonEveryBatch,
      maxBatch: 50,
      produceMs: 6_000,
      disrupt: async (s) => {
        p = await s.inProcess();
        await s.feed();
        await waitFor(() => p.chunks.reduce((a, c) => a + c.applied + c.skipped + c.dead, 0) >= s.records.length, 'every record processed', 90_000);
        dlqMetric = await counterValue(p.handle, 'trustline_dlq_total');
      },
    });
    const records = scenario.records;
    const poison = records.filter((r) => r.tag?.startsWith('poison:'));
    for (const kind of POISON_KINDS) expect(poison.filter((r) => r.tag === `poison:${kind}`).length, kind).toBeGreaterThanOrEqual(3);

    // Every chunk of at least POISON_PERIOD records held a poison record, and most chunks were that big.
    const sizes = p.chunks.map((c) => ({ size: c.applied + c.skipped + c.dead, dead: c.dead }));
    const big = sizes.filter((c) => c.size >= POISON_PERIOD);
    console.info(
      `[poison] ${p.chunks.length} chunks, ${big.length} of ≥ ${POISON_PERIOD} records, ${big.filter((c) => c.dead > 0).length} of them with dead letters; dlq metric ${dlqMetric}`,
    );
    expect(big.length).toBeGreaterThan(p.chunks.length / 2);
    expect(big.filter((c) => c.dead === 0)).toEqual([]);
    expect(dlqMetric).toBe(poison.length);

    // Poison bytes are unique (each carries its own marker), except tombstones: every null value is one.
    const kindOf = new Map<string, PoisonKind>(
      poison.filter((r) => r.value !== null).map((r) => [fingerprint(r), r.tag!.slice('poison:'.length) as PoisonKind]),
    );
    const requests = report.requests;
    const expectedDlq = new Map<string, PoisonKind>();
    for (const r of requests) {
      const kind = r.value === null ? 'tombstone' : kindOf.get(fingerprint(r));
      if (kind) expectedDlq.set(`${scenario.names.requests}/${r.partition}@${r.offset}`, kind);
    }
    expect(expectedDlq.size).toBe(poison.length);
    expect(report.dlq.records.size).toBe(poison.length);
    const byPosition = new Map(requests.map((r) => [`${scenario.names.requests}/${r.partition}@${r.offset}`, r]));
    const wrong: string[] = [];
    for (const [pos, { dlq, value, key, headers }] of report.dlq.records) {
      const kind = expectedDlq.get(pos);
      const src = byPosition.get(pos);
      if (!kind || !src) {
        wrong.push(`${pos}: not a poison record`);
        continue;
      }
      const want = POISON_EXPECT[kind];
      const problems: string[] = [];
      if (dlq.code !== want.code) problems.push(`code ${dlq.code} ≠ ${want.code}`);
      if (dlq.path !== want.path) problems.push(`path ${JSON.stringify(dlq.path)} ≠ ${JSON.stringify(want.path)}`);
      if (!dlq.message) problems.push('no message');
      if (dlq.source.topic !== scenario.names.requests || String(dlq.source.partition) !== String(src.partition) || dlq.source.offset !== src.offset)
        problems.push(`source ${JSON.stringify(dlq.source)}`);
      // Original bytes, unchanged (a tombstone stays a null value).
      if (src.value === null ? value !== null : value === null || Buffer.compare(value, src.value) !== 0) problems.push('value bytes changed');
      if (dlq.payloadBase64 !== (src.value?.toString('base64') ?? '')) problems.push('payload changed');
      if (key === null || src.key === null || Buffer.compare(key, src.key) !== 0) problems.push('key bytes changed');
      // The six headers, by their published names, as UTF-8 strings.
      const header = (name: string): string | undefined => {
        const h = headers[name];
        return h === undefined ? undefined : Array.isArray(h) ? String(h[0]) : h.toString();
      };
      const wantHeaders: Record<string, string> = {
        [DLQ_HEADERS.code]: want.code,
        [DLQ_HEADERS.path]: want.path,
        [DLQ_HEADERS.topic]: scenario.names.requests,
        [DLQ_HEADERS.partition]: String(src.partition),
        [DLQ_HEADERS.offset]: src.offset,
      };
      for (const [name, v] of Object.entries(wantHeaders))
        if (header(name) !== v) problems.push(`header ${name} = ${JSON.stringify(header(name))}, want ${JSON.stringify(v)}`);
      if (!header(DLQ_HEADERS.message)) problems.push(`header ${DLQ_HEADERS.message} missing or empty`);
      if (problems.length) wrong.push(`${pos} (${kind}): ${problems.join(', ')}`);
    }
    expect(wrong).toEqual([]);
    for (const kind of POISON_KINDS) {
      const seen = [...report.dlq.records.keys()].filter((pos) => expectedDlq.get(pos) === kind).length;
      expect(seen, `${kind} records in the DLQ`).toBe(poison.filter((r) => r.tag === `poison:${kind}`).length);
    }
  }, 180_000);
});
