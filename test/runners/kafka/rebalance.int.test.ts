/**
 * Rebalances of `trustline run` (design §2, §6), on the real broker and Redis: several instances
 * in one consumer group on a 6-partition requests topic while events flow —
 * - A runs in this process for the whole test;
 * - B (child process) shares the partitions with A, then is stopped gracefully (SIGTERM) mid-stream;
 * - C (child process) joins later, is frozen (SIGSTOP) mid-stream and removed from the group, as
 *   the coordinator does when a member's session expires, so A takes its partitions over; then C
 *   is thawed (SIGCONT) and finishes, as a zombie, whatever it was doing against state A has moved
 *   on: its saves must be refused by the watermark compare-and-set, its commits by the group.
 * The result must equal one uninterrupted run: byte-identical states, every trust/circuit record
 * byte-identical in its topic (duplicates allowed), the same dead letters.
 */
import { afterAll, expect, it } from 'vitest';
import {
  ChildProcessor,
  checkDelivery,
  cleanupTest,
  counterValue,
  createProcessorTopics,
  deliveryOk,
  describeReport,
  evictGroupMembers,
  interleavePoison,
  loadFixtureRecords,
  metricValue,
  processorConfig,
  processorEnv,
  producePaced,
  sleep,
  startInProcess,
  uniqueNames,
  waitForAllCommitted,
  type InProcess,
  type Names,
} from '../../support/processor-harness.ts';
import { describeIntegration, redisUrl, waitFor } from '../../support/services.ts';

const SEED = 0x4eba1a;
const EVENTS = 12_000;
/** A window of the training fixtures in which some agents trip their circuit breaker. */
const FIXTURE_SKIP = 28_000;
const PRODUCE_MS = 24_000;

const processed = (metrics: string | null): number => metricValue(metrics, 'trustline_events_total');

describeIntegration('trustline run: rebalances', () => {
  const cleanup: Names[] = [];
  const children: ChildProcessor[] = [];
  const inProcess: InProcess[] = [];
  afterAll(async () => {
    for (const c of children) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
    for (const p of inProcess) await p.handle.stop('test cleanup');
    for (const n of cleanup) await cleanupTest(n);
  });

  it(
    'a graceful leave, a join and a frozen zombie instance mid-stream lose nothing and apply every event exactly once',
    async () => {
      const started = Date.now();
      const names = uniqueNames('rebal');
      cleanup.push(names);
      await createProcessorTopics(names, 6);
      const env = processorEnv(names, { TRUSTLINE_PARTITIONS: '6', TRUSTLINE_MAX_BATCH_EVENTS: '100' });
      const config = processorConfig(env);
      const records = interleavePoison(await loadFixtureRecords(EVENTS, FIXTURE_SKIP), 400, SEED);
      const at = (share: number): number => Math.floor(records.length * share);

      const a = await startInProcess(config);
      inProcess.push(a);
      const b = new ChildProcessor(env, 'B');
      children.push(b);
      await b.waitJoined(90_000);

      let sent = 0;
      const feeding = producePaced(names.requests, records, { durationMs: PRODUCE_MS, onProgress: (n) => (sent = n) });
      const untilSent = (n: number): Promise<void> => waitFor(() => sent >= n, `${n} records produced`, PRODUCE_MS * 3);

      // B leaves gracefully mid-stream, after having done part of the work.
      await untilSent(at(0.25));
      await waitFor(async () => processed(await b.metricsText()) > 0, 'B to process records', 30_000);
      const bMetrics = await b.metricsText();
      b.kill('SIGTERM');
      expect(await b.exited, b.tail()).toEqual({ code: 0, signal: null });

      // C joins.
      await untilSent(at(0.4));
      const c = new ChildProcessor(env, 'C');
      children.push(c);
      await c.waitJoined(90_000);

      // C freezes in the middle of its work and is dropped from the group; A takes over its partitions.
      // To catch it mid-chunk rather than idle, let it fall behind first (a 2 s pause while still a
      // member), then freeze it for good as soon as it has worked through part of that backlog.
      await untilSent(at(0.55));
      const cBefore = processed(await c.metricsText());
      c.kill('SIGSTOP');
      await sleep(3_000);
      c.kill('SIGCONT');
      for (const t = Date.now(); processed(await c.metricsText()) === cBefore; ) {
        if (Date.now() - t > 30_000) throw new Error(`C did not work on its backlog:\n${c.tail()}`);
      }
      c.kill('SIGSTOP');
      const frozenAt = Date.now();
      const joinsBeforeThaw = c.logs.filter((l) => l.msg === 'joined consumer group').length;
      const evicted = await evictGroupMembers(names.group, [c.memberId!]);
      expect(evicted).toEqual([c.memberId]);
      const aChunksAtFreeze = a.chunks.length;

      // A moves on (beyond whatever C had in flight), then C wakes up as a zombie.
      await untilSent(at(0.75));
      await waitFor(() => a.chunks.length > aChunksAtFreeze + 10, 'A to process C’s partitions', 30_000);
      c.kill('SIGCONT');
      const frozenMs = Date.now() - frozenAt;

      await feeding;
      await waitForAllCommitted(names.group, names.requests, 120_000);
      const cMetrics = await c.metricsText();
      c.kill('SIGTERM');
      expect(await c.exited, c.tail()).toEqual({ code: 0, signal: null });
      expect(a.finished, 'A stopped by itself').toBe(false);
      expect(a.lines.filter((l) => l.msg === 'consumer crashed'), 'A consumer crashes').toEqual([]);
      const aStale = await counterValue(a.handle, 'trustline_stale_saves_total');
      const aApplied = await counterValue(a.handle, 'trustline_events_total', { outcome: 'applied' });
      const aSkipped = await counterValue(a.handle, 'trustline_events_total', { outcome: 'skipped' });
      await a.handle.stop('test done');

      const report = await checkDelivery(names, config, redisUrl());
      console.info(
        [
          `[processor-rebalance] ${records.length} records over 6 partitions, ${Math.round((Date.now() - started) / 1000)} s; C frozen ${frozenMs} ms`,
          `[processor-rebalance] A applied ${aApplied}, skipped ${aSkipped} (already applied by C), stale saves ${aStale}; B processed ${processed(bMetrics)} before SIGTERM; C processed ${processed(cMetrics)}, skipped ${metricValue(cMetrics, 'trustline_events_total', { outcome: 'skipped' })}, stale saves ${metricValue(cMetrics, 'trustline_stale_saves_total')} (refused by the CAS)`,
          `[processor-rebalance] C warnings: ${c
            .problems()
            .map((l) => l.msg)
            .slice(0, 8)
            .join(' | ')}`,
          describeReport(report),
        ].join('\n'),
      );

      // Every instance really took part.
      expect(processed(bMetrics)).toBeGreaterThan(0);
      expect(processed(cMetrics)).toBeGreaterThan(0);
      expect(aApplied).toBeGreaterThan(0);
      // The zombie was fenced: the group no longer knew it, so it had to join again.
      expect(c.logs.filter((l) => l.msg === 'joined consumer group').length, 'C re-joined after the thaw').toBeGreaterThan(joinsBeforeThaw);

      expect(report.requests.length).toBe(records.length);
      expect(report.reference.applied).toBe(EVENTS);
      expect(report.state.differing, describeReport(report)).toEqual([]);
      expect(report.state.storedDigest).toBe(report.state.referenceDigest);
      expect(report.state.extraKeys).toBe(0);
      for (const o of [report.trust, report.circuit]) {
        expect(o.missing, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.different, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.unexpected, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.wrongKey).toEqual([]);
      }
      expect(report.dlq.missing).toEqual([]);
      expect(report.dlq.unexpected).toEqual([]);
      expect(report.dlq.different).toEqual([]);
      expect(report.dlq.distinct).toBe(report.reference.dlq.length);
      expect(deliveryOk(report)).toBe(true);
    },
    300_000,
  );
});
