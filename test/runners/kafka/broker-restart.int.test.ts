/**
 * The Kafka broker killed and restarted mid-stream under `trustline run` (docs/reliability.md).
 * The scenario runs on a PRIVATE single-node broker launched for it from the jars
 * scripts/services.sh caches (the shared broker is never touched): the broker JVM is SIGKILLed
 * while a `trustline run` child process works through the stream and the input keeps coming,
 * stays down a few seconds, and is started again on the same ports and data. The processor must
 * ride it out (its producer and consumer retry; nothing is acknowledged that the broker did not
 * store), go on by itself, and the delivery-scenario runner's full check must pass.
 */
import { afterAll, expect, it } from 'vitest';
import { cleanupScenarios, runDeliveryScenario } from '../../support/delivery-scenario.ts';
import { metricValue, sleep } from '../../support/processor-harness.ts';
import { describeIntegration, waitFor } from '../../support/services.ts';

const DOWN_MS = 5_000;

describeIntegration('trustline run: Kafka broker restart', () => {
  afterAll(cleanupScenarios);

  it('the broker SIGKILLed and restarted mid-stream: the processor waits, reconnects and loses nothing', async () => {
    let before = 0;
    let after = 0;
    await runDeliveryScenario({
      name: 'broker',
      seed: 0xb40c3e,
      events: 6_000,
      skip: 29_500,
      privateKafka: true,
      produceMs: 30_000,
      allowConsumerRestarts: true,
      disrupt: async (s) => {
        const c = s.child('processor');
        await c.waitJoined(120_000);
        void s.feed();
        await s.untilSent(0.3);
        await waitFor(async () => metricValue(await c.metricsText(), 'trustline_events_total') > 0, 'the processor to be mid-stream', 60_000);
        before = metricValue(await c.metricsText(), 'trustline_events_total');
        const downAt = Date.now();
        await s.kafka!.crash();
        await sleep(DOWN_MS);
        await s.kafka!.launch();
        const upAt = Date.now();
        await waitFor(async () => metricValue(await c.metricsText(), 'trustline_events_total') > before, 'the processor to go on after the restart', 120_000);
        const resumedAt = Date.now();
        after = metricValue(await c.metricsText(), 'trustline_events_total');
        expect(c.alive, c.tail()).toBe(true);
        const warnings = [...new Set(c.problems().map((l) => l.msg))];
        s.note(
          `broker down ${upAt - downAt} ms (SIGKILL, ${DOWN_MS} ms pause, JVM start); processor went on ${resumedAt - upAt} ms after it answered; processed ${before} before; warnings: ${warnings.slice(0, 6).join(' | ')}`,
        );
      },
    });
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(before);
  }, 360_000);
});
