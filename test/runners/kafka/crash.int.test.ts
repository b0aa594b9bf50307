/**
 * Crash safety of `trustline run` (docs/reliability.md): a child process is SIGKILLed at seeded
 * random moments while ≥ 20 000 fixture events (plus a few malformed ones) are produced over
 * ~40 s, restarted each time, then drained by a clean run and stopped with SIGTERM. Whatever the
 * kills interrupted (a fetch, a model call, a produce, a half-applied Redis pipeline, a commit),
 * the delivery-scenario runner's full check must pass (state bytes, every output topic, audit
 * chain, dead letters equal to one uninterrupted run).
 */
import { afterAll, expect, it } from 'vitest';
import { cleanupScenarios, runDeliveryScenario } from '../../support/delivery-scenario.ts';
import { committedOffsets, connectAdmin, endOffsets, metricValue, prng, sleep, totalOf } from '../../support/processor-harness.ts';
import { describeIntegration } from '../../support/services.ts';

const SEED = 0x7e57c4a5;
const MIN_KILLS = 10;
const MAX_KILLS = 30;

type Kill = {
  run: number;
  mode: 'progress' | 'commit';
  afterJoinMs: number;
  backlog: number;
  processed: number;
  uncommitted: number;
  committedInRun: number;
  skippedInRun: number;
  midStream: boolean;
};

/** Records a child has processed (outputs produced and states saved), by its own counters. */
const processedOf = (metrics: string | null): number => metricValue(metrics, 'trustline_events_total');

describeIntegration('trustline run: crash safety', () => {
  afterAll(cleanupScenarios);

  it(`≥ ${MIN_KILLS} SIGKILLs at random moments mid-stream lose nothing and apply every event exactly once`, async () => {
    const kills: Kill[] = [];
    let replayedSkipped = 0;
    const { report } = await runDeliveryScenario({
      name: 'crash',
      seed: SEED,
      events: 21_000,
      // A window of the training fixtures in which some agents trip their circuit breaker.
      skip: 16_000,
      poisonEvery: 500,
      produceMs: 40_000,
      disrupt: async (s) => {
        let producing = true;
        void s.feed().finally(() => (producing = false));
        const rnd = prng(SEED);
        const admin = await connectAdmin(s.cluster);
        const { cluster, names } = s;
        let run = 0;
        try {
          while ((producing || kills.filter((k) => k.midStream).length < MIN_KILLS) && kills.length < MAX_KILLS) {
            run++;
            // A seeded pause while no instance runs lets a backlog build up (on top of the start-up time).
            if (run > 1) await sleep(1000 + Math.floor(rnd() * 1000));
            const committedBefore = totalOf(await committedOffsets(cluster, names.group, names.requests, admin));
            const child = s.child(`run #${run}`);
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
            const backlog = totalOf(await endOffsets(cluster, names.requests, admin)) - committedBefore;
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
              } else if (totalOf(await committedOffsets(cluster, names.group, names.requests, admin)) > committedBefore) {
                break;
              }
              await sleep(2);
            }
            if (mode === 'commit') metrics = await child.metricsText();
            const ends = await endOffsets(cluster, names.requests, admin);
            await sleep(jitterMs);
            child.kill('SIGKILL');
            const exit = await child.exited;
            // It must have been our kill, not a crash of its own.
            expect(exit, `${child.label} died by itself:\n${child.tail()}`).toEqual({ code: null, signal: 'SIGKILL' });
            await s.sigkill(child);
            const committed = await committedOffsets(cluster, names.group, names.requests, admin);
            const processed = processedOf(metrics);
            const skippedInRun = metricValue(metrics, 'trustline_events_total', { outcome: 'skipped' });
            replayedSkipped += skippedInRun;
            kills.push({
              run,
              mode,
              afterJoinMs: joinedAt ? Date.now() - joinedAt : -1,
              backlog,
              processed,
              uncommitted: totalOf(ends) - totalOf(committed),
              committedInRun: totalOf(committed) - committedBefore,
              skippedInRun,
              // It had processed part of its input and more was waiting in front of it: it was mid-stream.
              midStream: processed > 0 && committedBefore + processed < totalOf(ends),
            });
            // The coordinator would drop the dead member after its 30 s session; do it now (see evictGroupMembers).
            await s.evict();
          }
        } finally {
          await admin.disconnect();
        }
        const midStream = kills.filter((k) => k.midStream).length;
        s.note(`${kills.length} SIGKILLs, ${midStream} mid-stream; events skipped by the watermark on replay: ${replayedSkipped}`);
        for (const k of kills) {
          s.note(
            `  run #${k.run}: ${k.mode} kill ${k.afterJoinMs} ms after join, backlog ${k.backlog}, processed ${k.processed} (${k.skippedInRun} skipped as already applied), committed ${k.committedInRun}, left uncommitted ${k.uncommitted}${k.midStream ? ', mid-stream' : ''}`,
          );
        }
        // Nothing is left running: the runner drains with a clean final child and SIGTERMs it.
      },
    });

    expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(kills.filter((k) => k.midStream).length, 'kills that landed while the child was working through its input').toBeGreaterThanOrEqual(MIN_KILLS);
    // At least one kill landed inside a chunk (after its outputs, before its commit): the replay
    // then skipped already-applied events or repeated outputs, which is what this test is about.
    expect(
      replayedSkipped + report.trust.duplicates + report.circuit.duplicates + report.audit.duplicates + report.dlq.read - report.dlq.distinct,
    ).toBeGreaterThan(0);
  }, 480_000);
});
