/**
 * Poison input under `trustline run` (design §2 "bad input never stops the stream", §3): malformed
 * records of every kind — invalid JSON, invalid UTF-8, an unknown `v`, a missing field, a wrong
 * type, not an object, more than 64 KiB, a null-value tombstone — interleaved with good events of
 * the same agents (same keys, same partitions, same chunks). Each must land in the DLQ topic with
 * its original key and value bytes and the `trustline-*` headers (reason code, JSON Pointer,
 * source topic/partition/offset), every good record must be scored exactly as an uninterrupted
 * run scores them, and the processor must keep running.
 */
import { afterAll, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../../src/contract/schemas.ts';
import {
  POISON_EXPECT,
  POISON_KINDS,
  checkDelivery,
  cleanupTest,
  connectProducer,
  counterValue,
  createProcessorTopics,
  deliveryOk,
  describeReport,
  interleavePoison,
  loadFixtureRecords,
  processorConfig,
  processorEnv,
  producePaced,
  startInProcess,
  uniqueNames,
  waitForAllCommitted,
  type InProcess,
  type Names,
  type PoisonKind,
} from '../../support/processor-harness.ts';
import { describeIntegration, redisUrl } from '../../support/services.ts';

const SEED = 0x9015011;
const FIRST = 3_000;
const SECOND = 1_000;
/** A window of the training fixtures in which some agents trip their circuit breaker. */
const FIXTURE_SKIP = 29_000;

/** Identity of a record's value bytes. */
const fingerprint = (r: { value: Buffer | null }): string => r.value?.toString('base64') ?? '';

describeIntegration('trustline run: poison input', () => {
  const cleanup: Names[] = [];
  const inProcess: InProcess[] = [];
  afterAll(async () => {
    for (const p of inProcess) await p.handle.stop('test cleanup');
    for (const n of cleanup) await cleanupTest(n);
  });

  it(
    'every malformed record goes to the DLQ unchanged with the right code and headers; good ones are scored; the processor keeps running',
    async () => {
      const started = Date.now();
      const names = uniqueNames('poison');
      cleanup.push(names);
      await createProcessorTopics(names, 3);
      const env = processorEnv(names, { TRUSTLINE_MAX_BATCH_EVENTS: '100' });
      const config = processorConfig(env);
      const good = await loadFixtureRecords(FIRST + SECOND, FIXTURE_SKIP);
      // One poison record after every ~40 good ones, all kinds in turn.
      const wave1 = interleavePoison(good.slice(0, FIRST), 40, SEED);
      const wave2 = interleavePoison(good.slice(FIRST), 40, SEED + 1);
      const poison = [...wave1, ...wave2].filter((r) => r.tag?.startsWith('poison:'));
      for (const kind of POISON_KINDS) expect(poison.filter((r) => r.tag === `poison:${kind}`).length, kind).toBeGreaterThanOrEqual(3);
      // Poison bytes are unique (each carries its own marker), except tombstones: every null value is one.
      const kindOf = new Map<string, PoisonKind>(poison.filter((r) => r.value !== null).map((r) => [fingerprint(r), r.tag!.slice('poison:'.length) as PoisonKind]));

      const p = await startInProcess(config);
      inProcess.push(p);
      const producer = await connectProducer();
      try {
        await producePaced(names.requests, wave1, { durationMs: 3_000, producer });
        await waitForAllCommitted(names.group, names.requests, 60_000);
        expect(p.finished, 'the processor stopped after the first wave').toBe(false);
        // Still consuming: a second wave after the poison is processed too.
        await producePaced(names.requests, wave2, { durationMs: 1_000, producer });
        await waitForAllCommitted(names.group, names.requests, 60_000);
      } finally {
        await producer.disconnect();
      }
      expect(p.finished, 'the processor stopped by itself').toBe(false);
      expect(p.lines.filter((l) => l.msg === 'consumer crashed'), 'consumer crashes').toEqual([]);
      const dlqMetric = await counterValue(p.handle, 'trustline_dlq_total');
      await p.handle.stop('test done');

      const report = await checkDelivery(names, config, redisUrl());
      console.info(
        [
          `[processor-poison] ${wave1.length + wave2.length} records (${poison.length} poison), ${Math.round((Date.now() - started) / 1000)} s, dlq metric ${dlqMetric}`,
          describeReport(report),
        ].join('\n'),
      );

      // Every record of the requests topic is accounted for: poison → DLQ, good → scored.
      const requests = report.requests;
      expect(requests.length).toBe(wave1.length + wave2.length);
      const expectedDlq = new Map<string, PoisonKind>();
      for (const r of requests) {
        const kind = r.value === null ? 'tombstone' : kindOf.get(fingerprint(r));
        if (kind) expectedDlq.set(`${names.requests}/${r.partition}@${r.offset}`, kind);
      }
      expect(expectedDlq.size).toBe(poison.length);
      expect(report.dlq.records.size).toBe(poison.length);
      const byPosition = new Map(requests.map((r) => [`${names.requests}/${r.partition}@${r.offset}`, r]));
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
        if (dlq.source.topic !== names.requests || String(dlq.source.partition) !== String(src.partition) || dlq.source.offset !== src.offset) problems.push(`source ${JSON.stringify(dlq.source)}`);
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
          [DLQ_HEADERS.topic]: names.requests,
          [DLQ_HEADERS.partition]: String(src.partition),
          [DLQ_HEADERS.offset]: src.offset,
        };
        for (const [name, v] of Object.entries(wantHeaders)) if (header(name) !== v) problems.push(`header ${name} = ${JSON.stringify(header(name))}, want ${JSON.stringify(v)}`);
        if (!header(DLQ_HEADERS.message)) problems.push(`header ${DLQ_HEADERS.message} missing or empty`);
        if (problems.length) wrong.push(`${pos} (${kind}): ${problems.join(', ')}`);
      }
      expect(wrong).toEqual([]);
      for (const kind of POISON_KINDS) {
        const seen = [...report.dlq.records.entries()].filter(([pos]) => expectedDlq.get(pos) === kind).length;
        expect(seen, `${kind} records in the DLQ`).toBe(poison.filter((r) => r.tag === `poison:${kind}`).length);
      }

      // The good records are scored exactly like one uninterrupted run scores them.
      expect(report.reference.applied).toBe(FIRST + SECOND);
      expect(report.reference.dlq.length).toBe(poison.length);
      expect(report.state.differing, describeReport(report)).toEqual([]);
      expect(report.state.storedDigest).toBe(report.state.referenceDigest);
      expect(report.state.extraKeys).toBe(0);
      for (const o of [report.trust, report.circuit]) {
        expect(o.missing, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.different, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.unexpected, `${o.topic}\n${describeReport(report)}`).toEqual([]);
      }
      expect(report.dlq.missing).toEqual([]);
      expect(report.dlq.unexpected).toEqual([]);
      expect(report.dlq.different).toEqual([]);
      expect(deliveryOk(report)).toBe(true);
      expect(dlqMetric).toBe(poison.length);
    },
    180_000,
  );
});
