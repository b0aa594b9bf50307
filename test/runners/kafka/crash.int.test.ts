/**
 * Crash safety of `trustline run` (design §2), on the real broker and Redis: a child process
 * is SIGKILLed at seeded random moments while ≥ 20 000 fixture events (plus a few malformed
 * ones) are produced over ~40 s, restarted each time, then drained by a clean run and stopped
 * with SIGTERM. Whatever the kills interrupted (a fetch, a model call, a produce, a half-applied
 * Redis pipeline, a commit), the result must equal one uninterrupted in-process run:
 * byte-identical agent states, every trust/circuit record byte-identical in its topic
 * (duplicates allowed, nothing missing, nothing extra), the same dead letters.
 */
import { afterAll, expect, it } from 'vitest';
import {
  ChildProcessor,
  checkDelivery,
  cleanupTest,
  committedOffsets,
  connectAdmin,
  createProcessorTopics,
  deliveryOk,
  describeReport,
  endOffsets,
  evictGroupMembers,
  interleavePoison,
  loadFixtureRecords,
  metricValue,
  prng,
  processorConfig,
  processorEnv,
  producePaced,
  sleep,
  totalOf,
  uniqueNames,
  waitForAllCommitted,
  type Names,
} from '../../support/processor-harness.ts';
import { describeIntegration, redisUrl } from '../../support/services.ts';

const SEED = 0x7e57c4a5;
const EVENTS = 21_000;
/** A window of the training fixtures in which some agents trip their circuit breaker (≈ 20 circuit signals). */
const FIXTURE_SKIP = 16_000;
const PRODUCE_MS = 40_000;
const MIN_KILLS = 10;
const MAX_KILLS = 30;

type Kill = { run: number; mode: 'progress' | 'commit'; afterJoinMs: number; backlog: number; processed: number; uncommitted: number; committedInRun: number; skippedInRun: number; midStream: boolean };

/** Records a child has processed (outputs produced and states saved), by its own counters. */
const processedOf = (metrics: string | null): number => metricValue(metrics, 'trustline_events_total');

describeIntegration('trustline run: crash safety', () => {
  const cleanup: Names[] = [];
  const children: ChildProcessor[] = [];
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const n of cleanup) await cleanupTest(n);
  });

  it(
    `≥ ${MIN_KILLS} SIGKILLs at random moments mid-stream lose nothing and apply every event exactly once`,
    async () => {
      const started = Date.now();
      const names = uniqueNames('crash');
      cleanup.push(names);
      await createProcessorTopics(names, 3);
      const env = processorEnv(names, { TRUSTLINE_MAX_BATCH_EVENTS: '100', TRUSTLINE_PARTITIONS: '3' });
      const config = processorConfig(env);
      const records = interleavePoison(await loadFixtureRecords(EVENTS, FIXTURE_SKIP), 500, SEED);

      let producing = true;
      let produced = 0;
      const feeding = producePaced(names.requests, records, { durationMs: PRODUCE_MS, onProgress: (n) => (produced = n) }).finally(() => {
        producing = false;
      });

      const rnd = prng(SEED);
      const admin = await connectAdmin();
      const kills: Kill[] = [];
      let run = 0;
      try {
        while ((producing || kills.filter((k) => k.midStream).length < MIN_KILLS) && kills.length < MAX_KILLS) {
          run++;
          // A seeded pause while no instance runs lets a backlog build up (on top of the start-up time).
          if (run > 1) await sleep(1000 + Math.floor(rnd() * 1000));
          const committedBefore = totalOf(await committedOffsets(names.group, names.requests, admin));
          const child = new ChildProcessor(env, `run #${run}`);
          children.push(child);
          // Kill at a seeded random moment while the child works through its backlog, chosen one of
          // two ways (seeded coin):
          // - 'progress': once it has processed a random 5–65 % of the backlog it started with (by
          //   its own counters, which move after every chunk's outputs and states), 0–15 ms later:
          //   inside a later chunk at any stage of it (fetch, model call, produce, Redis pipeline);
          //   kafkajs commits resolved offsets about once a second, so such kills also leave
          //   processed, saved records uncommitted (replayed and skipped by the watermark).
          // - 'commit': right after its first offset commit of this run, 0–10 ms later: in the chunk
          //   that follows a commit, where an offset committed too early would lose records.
          // Either way 3 s after joining at the latest, if there is nothing to do.
          const mode: Kill['mode'] = rnd() < 0.5 ? 'progress' : 'commit';
          const spawnedAt = Date.now();
          const backlog = totalOf(await endOffsets(names.requests, admin)) - committedBefore;
          const target = Math.max(1, Math.floor(backlog * (0.05 + rnd() * 0.6)));
          const jitterMs = Math.floor(rnd() * (mode === 'progress' ? 15 : 10));
          let joinedAt = 0;
          void child.waitJoined(90_000).then(
            () => (joinedAt = Date.now()),
            () => undefined,
          );
          let metrics: string | null = null;
          for (;;) {
            if (!child.alive) throw new Error(`${child.label} exited before consuming (${JSON.stringify(child.exitInfo)}):\n${child.tail()}`);
            if (Date.now() - spawnedAt > 90_000) throw new Error(`${child.label} did not consume within 90 s:\n${child.tail()}`);
            if (joinedAt && Date.now() - joinedAt > 3000) break;
            if (mode === 'progress') {
              metrics = (await child.metricsText()) ?? metrics;
              if (processedOf(metrics) >= target) break;
            } else if (totalOf(await committedOffsets(names.group, names.requests, admin)) > committedBefore) {
              break;
            }
            await sleep(2);
          }
          if (mode === 'commit') metrics = await child.metricsText();
          const ends = await endOffsets(names.requests, admin);
          await sleep(jitterMs);
          child.kill('SIGKILL');
          const exit = await child.exited;
          // It must have been our kill, not a crash of its own.
          expect(exit, `${child.label} died by itself:\n${child.tail()}`).toEqual({ code: null, signal: 'SIGKILL' });
          const committed = await committedOffsets(names.group, names.requests, admin);
          const processed = processedOf(metrics);
          kills.push({
            run,
            mode,
            afterJoinMs: joinedAt ? Date.now() - joinedAt : -1,
            backlog,
            processed,
            uncommitted: totalOf(ends) - totalOf(committed),
            committedInRun: totalOf(committed) - committedBefore,
            skippedInRun: metricValue(metrics, 'trustline_events_total', { outcome: 'skipped' }),
            // It had processed part of its input and more was waiting in front of it: it was mid-stream.
            midStream: processed > 0 && committedBefore + processed < totalOf(ends),
          });
          // The coordinator would drop the dead member after its 30 s session; do it now (see evictGroupMembers).
          await evictGroupMembers(names.group);
        }
      } finally {
        await admin.disconnect();
      }
      await feeding;
      expect(produced).toBe(records.length);

      // Clean final run: drain, then a graceful SIGTERM must exit 0.
      const final = new ChildProcessor(env, 'final run');
      children.push(final);
      await final.waitJoined(90_000);
      await waitForAllCommitted(names.group, names.requests, 120_000);
      const finalMetrics = await final.metricsText();
      final.kill('SIGTERM');
      const finalExit = await final.exited;
      expect(finalExit, final.tail()).toEqual({ code: 0, signal: null });
      expect(final.logs.some((l) => l.msg === 'stopped')).toBe(true);

      const report = await checkDelivery(names, config, redisUrl());
      const midStream = kills.filter((k) => k.midStream).length;
      const replayedSkipped = kills.reduce((a, k) => a + k.skippedInRun, 0) + metricValue(finalMetrics, 'trustline_events_total', { outcome: 'skipped' });
      console.info(
        [
          `[processor-crash] ${records.length} records (${EVENTS} fixture events), ${kills.length} SIGKILLs, ${midStream} mid-stream, ${Math.round((Date.now() - started) / 1000)} s`,
          `[processor-crash] events skipped by the watermark on replay: ${replayedSkipped}; duplicate outputs: trust ${report.trust.duplicates}, circuit ${report.circuit.duplicates}, dlq ${report.dlq.read - report.dlq.distinct}`,
          ...kills.map(
            (k) =>
              `[processor-crash]   run #${k.run}: ${k.mode} kill ${k.afterJoinMs} ms after join, backlog ${k.backlog}, processed ${k.processed} (${k.skippedInRun} skipped as already applied), committed ${k.committedInRun}, left uncommitted ${k.uncommitted}${k.midStream ? ', mid-stream' : ''}`,
          ),
          describeReport(report),
        ].join('\n'),
      );

      expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS);
      expect(midStream, 'kills that landed while the child was working through its input').toBeGreaterThanOrEqual(MIN_KILLS);
      // At least one kill landed inside a chunk (after its outputs, before its commit): the replay
      // then skipped already-applied events or repeated outputs, which is what this test is about.
      expect(replayedSkipped + report.trust.duplicates + report.circuit.duplicates + report.dlq.read - report.dlq.distinct).toBeGreaterThan(0);
      // The reference really covers the stream: every produced record, every good event scored.
      expect(report.requests.length).toBe(records.length);
      expect(report.reference.applied).toBe(EVENTS);
      expect(report.reference.dlq.length).toBe(records.length - EVENTS);
      expect(report.reference.trust.length).toBeGreaterThan(0);
      // If this fails after the fixtures were regenerated, move FIXTURE_SKIP to a window with circuit changes.
      expect(report.reference.circuit.length, 'circuit signals in the fixture window').toBeGreaterThan(0);

      // (a) state applied exactly once: every agent's stored bytes equal the reference's.
      expect(report.state.differing, describeReport(report)).toEqual([]);
      expect(report.state.storedDigest).toBe(report.state.referenceDigest);
      expect(report.state.extraKeys).toBe(0);
      // (b) outputs at-least-once and byte-identical.
      for (const o of [report.trust, report.circuit]) {
        expect(o.missing, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.different, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.unexpected, `${o.topic}\n${describeReport(report)}`).toEqual([]);
        expect(o.wrongKey).toEqual([]);
      }
      // (c) the same dead letters (by source position), each with its original bytes.
      expect(report.dlq.missing).toEqual([]);
      expect(report.dlq.unexpected).toEqual([]);
      expect(report.dlq.different).toEqual([]);
      expect(report.dlq.distinct).toBe(report.reference.dlq.length);
      expect(deliveryOk(report)).toBe(true);
    },
    420_000,
  );
});
