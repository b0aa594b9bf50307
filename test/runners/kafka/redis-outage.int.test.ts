/**
 * A Redis outage under `trustline run` (design §2, §5 "errors carry a retriable flag"), on the real
 * broker and a PRIVATE Redis: the shared test Redis is never touched.
 *
 * How the outage is made: the processor's Redis is a `redis-server` of this test on its own port,
 * persisting every write to an append-only file (`appendfsync always`). Mid-stream it is killed
 * with SIGKILL (a crash: connections reset, replies in flight lost) and started again on the same
 * port and directory ~4 s later, so it comes back with every write it acknowledged. Why not the
 * alternatives: a fresh, empty Redis would lose the saved states, which no processor can
 * survive and which the state digest would rightly flag; SIGSTOP/SIGCONT keeps the sockets open,
 * so the client only sees a slow server, which tests nothing about reconnecting.
 *
 * Then a second kind of outage: Redis up but refusing writes (`min-replicas-to-write 1` with no
 * replica: every state save answers NOREPLICAS, as a primary cut off from its replicas does) for
 * ~3 s. The client cannot absorb that one, so the processor's own retry loop must: back off, log,
 * count `trustline_batch_retries_total`, and re-run the chunk (re-producing byte-identical outputs).
 *
 * Expected in both: the processor neither crashes nor skips anything; no chunk is acknowledged
 * (outputs produced and state saved) while Redis is away; it goes on by itself afterwards; and the
 * result equals one uninterrupted run (byte-identical states and outputs, duplicates allowed).
 */
import { afterAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import {
  PrivateRedis,
  checkDelivery,
  cleanupTest,
  counterValue,
  createProcessorTopics,
  deliveryOk,
  describeReport,
  interleavePoison,
  loadFixtureRecords,
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
import { describeIntegration, waitFor } from '../../support/services.ts';

const SEED = 0x0e7a6e;
const EVENTS = 8_000;
/** A window of the training fixtures in which some agents trip their circuit breaker. */
const FIXTURE_SKIP = 28_500;
const PRODUCE_MS = 18_000;
const OUTAGE_MS = 4_000;
const REFUSAL_MS = 3_000;

describeIntegration('trustline run: Redis outage', () => {
  const cleanup: Names[] = [];
  const redises: PrivateRedis[] = [];
  const inProcess: InProcess[] = [];
  afterAll(async () => {
    for (const p of inProcess) await p.handle.stop('test cleanup');
    for (const r of redises) await r.destroy();
    for (const n of cleanup) await cleanupTest(n);
  });

  it(
    'Redis crashing and coming back, then refusing writes, mid-stream: the processor waits, reconnects, retries and loses nothing',
    async () => {
      const started = Date.now();
      const redis = await PrivateRedis.start();
      redises.push(redis);
      const names = uniqueNames('outage');
      cleanup.push(names);
      await createProcessorTopics(names, 3);
      const env = processorEnv(names, { REDIS_URL: redis.url, TRUSTLINE_MAX_BATCH_EVENTS: '100' });
      const config = processorConfig(env);
      const records = interleavePoison(await loadFixtureRecords(EVENTS, FIXTURE_SKIP), 400, SEED);

      const p = await startInProcess(config);
      inProcess.push(p);
      let sent = 0;
      const feeding = producePaced(names.requests, records, { durationMs: PRODUCE_MS, onProgress: (n) => (sent = n) });

      // 1. Mid-stream, while chunks are being acknowledged: crash Redis, bring it back after OUTAGE_MS.
      await waitFor(() => sent >= records.length * 0.3 && p.chunks.length > 5, 'the processor to be mid-stream', 60_000);
      const chunksBefore = p.chunks.length;
      const downAt = Date.now();
      await redis.crash();
      await sleep(OUTAGE_MS / 2);
      // For the report: does /readyz notice? (ops/http.ts documents it as "consuming, with Redis …")
      const readyDuringOutage = await fetch(`http://127.0.0.1:${p.handle.httpPort}/readyz`).then(
        (r) => r.status,
        () => -1,
      );
      await sleep(OUTAGE_MS / 2);
      // Chunks that applied events (a chunk of dead letters only needs no state and may pass).
      const chunksDuringOutage = p.chunks.filter((c) => c.at > downAt + 100 && c.applied > 0).length;
      expect(p.finished, 'the processor stopped during the outage').toBe(false);
      const upAt = Date.now();
      await redis.launch();
      await waitFor(() => p.chunks.some((c) => c.at > upAt), 'a chunk after Redis came back', 60_000);
      const firstAfter = p.chunks.find((c) => c.at > upAt)!;
      const admin = new Redis(redis.url, { maxRetriesPerRequest: 3 });
      const clients = (await admin.client('LIST')) as string;
      // Every connection to the restarted server is a new one: the processor's is there only if it reconnected.
      const reconnected = clients.split('\n').some((l) => /\bname=trustline\b/.test(l));
      const retriesAfterCrash = await counterValue(p.handle, 'trustline_batch_retries_total');

      // 2. Later, still mid-stream: Redis refuses every write for REFUSAL_MS.
      await waitFor(() => sent >= records.length * 0.7, '70 % produced', 60_000);
      const refusedAt = Date.now();
      await admin.config('SET', 'min-replicas-to-write', '1');
      await sleep(REFUSAL_MS);
      const chunksDuringRefusal = p.chunks.filter((c) => c.at > refusedAt + 100 && c.applied > 0).length;
      const acceptedAt = Date.now();
      await admin.config('SET', 'min-replicas-to-write', '0');
      await admin.quit();

      await feeding;
      await waitForAllCommitted(names.group, names.requests, 120_000);

      // Still running, never crashed.
      expect(p.finished, 'the processor stopped by itself').toBe(false);
      expect(p.lines.filter((l) => l.msg === 'consumer crashed'), 'consumer crashes').toEqual([]);
      const retries = await counterValue(p.handle, 'trustline_batch_retries_total');
      const retryLogs = p.lines.filter((l) => l.msg === 'batch failed with a retriable error; retrying');
      const retryCodes = [...new Set(retryLogs.map((l) => String((l.err as { code?: unknown } | undefined)?.code)))];
      const chunksAfterRefusal = p.chunks.filter((c) => c.at > acceptedAt).length;
      await p.handle.stop('test done');

      const report = await checkDelivery(names, config, redis.url);
      console.info(
        [
          `[processor-redis-outage] ${records.length} records, private Redis on port ${redis.port}, ${Math.round((Date.now() - started) / 1000)} s`,
          `[processor-redis-outage] crash: down ${upAt - downAt} ms; chunks ${chunksBefore} before, ${chunksDuringOutage} during; first one after came ${firstAfter.at - upAt} ms after the restart; reconnected ${reconnected}; batch retries ${retriesAfterCrash} (the client waited and resent by itself); /readyz during the outage: ${readyDuringOutage}`,
          `[processor-redis-outage] write refusal: ${acceptedAt - refusedAt} ms; chunks during ${chunksDuringRefusal}, after ${chunksAfterRefusal}; batch retries ${retries - retriesAfterCrash}, retry log lines ${retryLogs.length} (codes ${retryCodes.join(', ')})`,
          describeReport(report),
        ].join('\n'),
      );

      // Crash: it waited (nothing acknowledged while Redis was away), reconnected by itself and went on.
      expect(chunksDuringOutage).toBe(0);
      expect(reconnected).toBe(true);
      // Write refusal: nothing acknowledged meanwhile; the processor retried (metric and log) and went on.
      expect(chunksDuringRefusal).toBe(0);
      expect(retries - retriesAfterCrash).toBeGreaterThan(0);
      expect(retryCodes).toEqual(['STATE_UNAVAILABLE']);
      expect(chunksAfterRefusal).toBeGreaterThan(0);

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
      expect(deliveryOk(report)).toBe(true);
    },
    240_000,
  );
});
