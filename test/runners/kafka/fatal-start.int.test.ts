/**
 * How `trustline run` ends when it cannot go on (docs/operations.md, "Failures"):
 * - a non-retriable error in a batch makes the processor not ready, stop in order, and report the
 *   error (the CLI then exits 1) — instead of kafkajs restarting the consumer forever while
 *   /readyz keeps answering 200;
 * - a failed start (here: the HTTP port is taken) closes everything it had opened (model, Redis,
 *   Kafka producer, control relay) before the error reaches the caller.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startKafkaRunner, type KafkaRunnerHandle } from '../../../src/runners/kafka/run.ts';
import { TrustlineError } from '../../../src/shared/errors.ts';
import { ev } from '../../support/events.ts';
import { captureLogger, cleanupTest, connectProducer, processorConfig, processorEnv, sleep, uniqueNames, type Names } from '../../support/processor-harness.ts';
import { describeIntegration, sharedCluster } from '../../support/services.ts';

/** Open sockets, servers and timers of this process, by kind. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (r !== 'Timeout' && r !== 'Immediate') counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

describeIntegration('trustline run: fatal errors and failed starts', () => {
  const all: Names[] = [];
  const names = (tag: string): Names => {
    const n = uniqueNames(tag);
    all.push(n);
    return n;
  };
  let handle: KafkaRunnerHandle | null = null;

  beforeAll(() => undefined);
  afterAll(async () => {
    await handle?.stop('test end');
    for (const n of all) await cleanupTest(sharedCluster(), n);
  });

  it('a non-retriable error in a batch: not ready from then on, stopped within bounded time, error reported', { timeout: 120_000 }, async () => {
    const n = names('fatal');
    const config = processorConfig(processorEnv(sharedCluster(), n, { TRUSTLINE_PARTITIONS: '1' }));
    const { log, lines } = captureLogger('info');
    const injected = new TrustlineError('INTERNAL', 'injected non-retriable failure');
    handle = await startKafkaRunner(config, log, {
      onBatch: () => {
        throw injected;
      },
    });
    const url = `http://127.0.0.1:${handle.httpPort}/readyz`;
    // Poll readiness for the whole run: after the fatal error it must never answer 200 again.
    const seen: { at: number; status: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        // `at` = when the request was sent: a 200 sent after the fatal error is a failure.
        const at = Date.now();
        const status = await fetch(url).then(
          (r) => r.status,
          () => 0,
        );
        seen.push({ at, status });
        await sleep(50);
      }
    })();
    const producer = await connectProducer(sharedCluster());
    await producer.send({ topic: n.requests, messages: [{ key: 'agent-1', value: JSON.stringify(ev({ eventId: 'f-1', agent: { id: 'agent-1' } })) }] });
    await producer.disconnect();

    const stopped = await Promise.race([handle.done.then(() => true), sleep(60_000).then(() => false)]);
    polling = false;
    await poller;
    expect(stopped, 'the processor did not stop within 60 s of a non-retriable error').toBe(true);
    expect(handle.error).toBe(injected);
    const fatal = lines.find((l) => l.level === 60);
    expect(fatal?.msg).toMatch(/non-retriable error; stopping \(not ready from now on, exit 1/);
    const fatalAt = Number(fatal!.time);
    expect(seen.filter((s) => s.at > fatalAt && s.status === 200)).toEqual([]);
    // kafkajs was never asked to restart the consumer.
    expect(lines.filter((l) => l.msg === 'consumer crashed')).toEqual([]);
    handle = null;
  });

  it('a failed start (HTTP port taken) closes everything it had opened', { timeout: 120_000 }, async () => {
    const n = names('badstart');
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as AddressInfo).port;
    try {
      const config = processorConfig(processorEnv(sharedCluster(), n, { TRUSTLINE_PARTITIONS: '1', TRUSTLINE_HTTP_PORT: String(port) }));
      const { log } = captureLogger('info');
      await sleep(500);
      const before = handles();
      const err = await startKafkaRunner(config, log).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TrustlineError);
      expect((err as TrustlineError).message).toMatch(
        new RegExp(`cannot serve /healthz, /readyz and /metrics on 127\\.0\\.0\\.1:${port}: the port is already in use`),
      );
      // Sockets close asynchronously; give them a moment, then nothing may be left open.
      let after = handles();
      for (let i = 0; i < 40 && JSON.stringify(after) !== JSON.stringify(before); i++) {
        await sleep(250);
        after = handles();
      }
      expect(after).toEqual(before);
    } finally {
      blocker.close();
    }
  });
});
