/**
 * A `trustline run` process paused (SIGSTOP) past its consumer-group session timeout, then
 * resumed (docs/reliability.md). No one evicts it by hand: the group coordinator drops it when
 * its 6 s session expires.
 * 1. With a second instance B running: A is frozen for 12 s; B must be given A's partitions
 *    (a new generation: B joins again) and carry on; thawed, A finds itself fenced (its in-flight
 *    chunk's saves lose the compare-and-set, its commit is refused), joins again and shares the work.
 * 2. Alone: B is stopped gracefully, A is frozen for 12 s past its session and resumed: it must
 *    re-join and continue itself.
 * Nothing lost, nothing applied twice: the delivery-scenario runner's full check must pass.
 */
import { afterAll, expect, it } from 'vitest';
import { cleanupScenarios, runDeliveryScenario } from '../../support/delivery-scenario.ts';
import { metricValue, sleep } from '../../support/processor-harness.ts';
import type { ChildProcessor } from '../../support/processor-harness.ts';
import { describeIntegration, waitFor } from '../../support/services.ts';

const SESSION_MS = 6_000;
const FROZEN_MS = 12_000;

const joins = (c: ChildProcessor): number => c.logs.filter((l) => l.msg === 'joined consumer group').length;
const processed = (metrics: string | null): number => metricValue(metrics, 'trustline_events_total');

describeIntegration('trustline run: paused past the session timeout', () => {
  afterAll(cleanupScenarios);

  it('SIGSTOP past the session timeout, with a peer and alone: the paused instance is evicted, the work goes on, nothing is lost or doubled', async () => {
    const seen = { bRejoinedWhileAFrozen: false, aRejoined: false, aAloneRejoined: false, aAloneProcessedAfter: false };
    await runDeliveryScenario({
      name: 'stop',
      seed: 0x5e5510,
      events: 9_000,
      skip: 27_000,
      produceMs: 40_000,
      env: { TRUSTLINE_SESSION_TIMEOUT_MS: String(SESSION_MS) },
      disrupt: async (s) => {
        const a = s.child('A');
        const b = s.child('B');
        await Promise.all([a.waitJoined(120_000), b.waitJoined(120_000)]);
        void s.feed();

        // 1. A frozen while B runs.
        await s.untilSent(0.2);
        await waitFor(async () => processed(await a.metricsText()) > 0, 'A to process records', 60_000);
        const [aJoins, bJoins] = [joins(a), joins(b)];
        a.kill('SIGSTOP');
        await sleep(FROZEN_MS);
        seen.bRejoinedWhileAFrozen = joins(b) > bJoins;
        a.kill('SIGCONT');
        await waitFor(() => joins(a) > aJoins, 'A to re-join after the thaw', 60_000);
        seen.aRejoined = true;
        s.note(
          `A frozen ${FROZEN_MS} ms with B running: B re-joined while A was frozen ${seen.bRejoinedWhileAFrozen}; A stale saves ${metricValue(await a.metricsText(), 'trustline_stale_saves_total')}`,
        );

        // 2. A alone, frozen and resumed.
        await s.untilSent(0.5);
        await s.stop(b);
        const aJoinsAlone = joins(a);
        const aBefore = processed(await a.metricsText());
        a.kill('SIGSTOP');
        await sleep(FROZEN_MS);
        a.kill('SIGCONT');
        await waitFor(() => joins(a) > aJoinsAlone, 'A (alone) to re-join after the thaw', 60_000);
        seen.aAloneRejoined = true;
        await waitFor(async () => processed(await a.metricsText()) > aBefore, 'A (alone) to go on', 60_000);
        seen.aAloneProcessedAfter = true;
        s.note(`A alone frozen ${FROZEN_MS} ms: re-joined and went on`);
      },
    });
    expect(seen).toEqual({ bRejoinedWhileAFrozen: true, aRejoined: true, aAloneRejoined: true, aAloneProcessedAfter: true });
  }, 300_000);
});
