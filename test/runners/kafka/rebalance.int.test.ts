/**
 * Rebalances of `trustline run` (docs/reliability.md), on the real broker and Redis: several
 * instances in one consumer group on a 6-partition requests topic while events flow —
 * - A runs in this process for the whole test;
 * - B (child process) shares the partitions with A, then is stopped gracefully (SIGTERM) mid-stream;
 * - C (child process) joins later, is frozen (SIGSTOP) mid-stream and removed from the group, as
 *   the coordinator does when a member's session expires, so A takes its partitions over; then C
 *   is thawed (SIGCONT) and finishes, as a zombie, whatever it was doing against state A has moved
 *   on: its saves must be refused by the watermark compare-and-set, its commits by the group.
 * The delivery-scenario runner's full check must pass.
 */
import { afterAll, expect, it } from 'vitest';
import { cleanupScenarios, runDeliveryScenario } from '../../support/delivery-scenario.ts';
import { counterValue, metricValue, sleep } from '../../support/processor-harness.ts';
import { describeIntegration, waitFor } from '../../support/services.ts';

const processed = (metrics: string | null): number => metricValue(metrics, 'trustline_events_total');

describeIntegration('trustline run: rebalances', () => {
  afterAll(cleanupScenarios);

  it('a graceful leave, a join and a frozen zombie instance mid-stream lose nothing and apply every event exactly once', async () => {
    let bProcessed = 0;
    let cProcessed = 0;
    let aApplied = 0;
    let rejoined = false;
    await runDeliveryScenario({
      name: 'rebal',
      seed: 0x4eba1a,
      events: 12_000,
      skip: 28_000,
      partitions: 6,
      produceMs: 30_000,
      disrupt: async (s) => {
        const a = await s.inProcess();
        const b = s.child('B');
        await b.waitJoined(90_000);
        void s.feed();

        // B leaves gracefully mid-stream, after having done part of the work.
        await s.untilSent(0.25);
        await waitFor(async () => processed(await b.metricsText()) > 0, 'B to process records', 30_000);
        bProcessed = processed(await b.metricsText());
        await s.stop(b);

        // C joins.
        await s.untilSent(0.4);
        const c = s.child('C');
        // Joined and synced (its start-up waits for A to finish the batch in hand before the rebalance completes).
        await c.waitForLog((l) => l.msg === 'processor running', 'processor running', 120_000);

        // C freezes in the middle of its work and is dropped from the group; A takes over its partitions.
        // To catch it mid-chunk rather than idle, let it fall behind first (a 2 s pause while still a
        // member), then freeze it for good as soon as it has worked through part of that backlog.
        await s.untilSent(0.55);
        const cBefore = processed(await c.metricsText());
        c.kill('SIGSTOP');
        await sleep(3_000);
        c.kill('SIGCONT');
        for (const t = Date.now(); processed(await c.metricsText()) === cBefore; await sleep(20)) {
          if (Date.now() - t > 90_000) throw new Error(`C did not work on its backlog:\n${c.tail()}`);
        }
        c.kill('SIGSTOP');
        const frozenAt = Date.now();
        const joinsBeforeThaw = c.logs.filter((l) => l.msg === 'joined consumer group').length;
        expect(await s.evict([c.memberId!])).toEqual([c.memberId]);
        const aChunksAtFreeze = a.chunks.length;

        // A moves on (beyond whatever C had in flight), then C wakes up as a zombie.
        await s.untilSent(0.75);
        await waitFor(() => a.chunks.length > aChunksAtFreeze + 10, 'A to process C’s partitions', 30_000);
        c.kill('SIGCONT');
        s.note(`C frozen ${Date.now() - frozenAt} ms`);
        await s.feed();
        await waitFor(() => c.logs.filter((l) => l.msg === 'joined consumer group').length > joinsBeforeThaw, 'C to re-join', 60_000);
        rejoined = true;
        const cMetrics = await c.metricsText();
        cProcessed = processed(cMetrics);
        aApplied = await counterValue(a.handle, 'trustline_events_total', { outcome: 'applied' });
        s.note(
          `A applied ${aApplied}, skipped ${await counterValue(a.handle, 'trustline_events_total', { outcome: 'skipped' })}, stale saves ${await counterValue(a.handle, 'trustline_stale_saves_total')}; B processed ${bProcessed} before SIGTERM; C processed ${cProcessed}, stale saves ${metricValue(cMetrics, 'trustline_stale_saves_total')} (refused by the CAS)`,
        );
      },
    });
    // Every instance really took part, and the zombie was fenced: the group no longer knew it, so it had to join again.
    expect(bProcessed).toBeGreaterThan(0);
    expect(cProcessed).toBeGreaterThan(0);
    expect(aApplied).toBeGreaterThan(0);
    expect(rejoined).toBe(true);
  }, 300_000);
});
