/**
 * Redis outages under `trustline run` (docs/reliability.md, docs/operations.md), on the real broker
 * and a PRIVATE Redis: the shared test Redis is never touched.
 *
 * How the outages are made: the processor's Redis is a `redis-server` of this test on its own
 * port, persisting every write to an append-only file (`appendfsync always`).
 * 1. Down for 30 s: mid-stream it is killed with SIGKILL (a crash: connections reset, replies in
 *    flight lost) and started again on the same port and directory 30 s later, so it comes back
 *    with every write it acknowledged. (A fresh, empty Redis would lose the saved states, which no
 *    processor can survive; SIGSTOP/SIGCONT keeps the sockets open and tests no reconnect.)
 * 2. Up but refusing writes because it lost its replicas (`min-replicas-to-write 1` with no
 *    replica: every state save answers NOREPLICAS) for ~3 s.
 * 3. Up but out of memory (`maxmemory 1` with `noeviction`: every save answers OOM, as a full
 *    Redis does) for ~3 s.
 * In 2 and 3 the client cannot absorb the error, so the processor's own retry loop must: back off,
 * log, count `trustline_batch_retries_total`, and re-run the chunk (byte-identical outputs).
 *
 * Expected in all three: the processor neither crashes nor skips anything; no chunk that applies
 * events is acknowledged while Redis is away or refusing; it goes on by itself afterwards; and the
 * delivery-scenario runner's full check passes.
 */
import { afterAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { cleanupScenarios, runDeliveryScenario } from '../../support/delivery-scenario.ts';
import { counterValue, sleep } from '../../support/processor-harness.ts';
import { describeIntegration, waitFor } from '../../support/services.ts';

const OUTAGE_MS = 30_000;
const REFUSAL_MS = 3_000;

describeIntegration('trustline run: Redis outage', () => {
  afterAll(cleanupScenarios);

  it('Redis down for 30 s, then refusing writes (NOREPLICAS), then out of memory (OOM), mid-stream: the processor waits, reconnects, retries and loses nothing', async () => {
    const seen: Record<string, number | boolean | string> = {};
    await runDeliveryScenario({
      name: 'outage',
      seed: 0x0e7a6e,
      events: 8_000,
      skip: 28_500,
      privateRedis: true,
      // The outage happens while the input keeps arriving: it is produced over the whole scenario.
      produceMs: 45_000,
      disrupt: async (s) => {
        const redis = s.redis!;
        const p = await s.inProcess();
        void s.feed();

        // 1. Mid-stream, while chunks are being acknowledged: crash Redis, bring it back after OUTAGE_MS.
        await waitFor(() => s.sent >= s.records.length * 0.1 && p.chunks.length > 5, 'the processor to be mid-stream', 60_000);
        const downAt = Date.now();
        await redis.crash();
        await sleep(OUTAGE_MS / 2);
        const readyDuringOutage = await fetch(`http://127.0.0.1:${p.handle.httpPort}/readyz`).then(
          (r) => r.status,
          () => -1,
        );
        await sleep(OUTAGE_MS / 2);
        // Chunks that applied events (a chunk of dead letters only needs no state and may pass).
        const during = p.chunks.filter((c) => c.at > downAt + 100 && c.applied > 0).length;
        expect(p.finished, 'the processor stopped during the outage').toBe(false);
        const upAt = Date.now();
        await redis.launch();
        await waitFor(() => p.chunks.some((c) => c.at > upAt && c.applied > 0), 'a chunk after Redis came back', 90_000);
        const firstAfter = p.chunks.find((c) => c.at > upAt && c.applied > 0)!;
        const admin = new Redis(redis.url, { maxRetriesPerRequest: 3 });
        try {
          // Every connection to the restarted server is a new one: the processor's is there only if it reconnected.
          const reconnected = ((await admin.client('LIST')) as string).split('\n').some((l) => /\bname=trustline\b/.test(l));
          const retriesAfterCrash = await counterValue(p.handle, 'trustline_batch_retries_total');
          s.note(
            `crash: down ${upAt - downAt} ms; ${during} chunks applied during; first one after came ${firstAfter.at - upAt} ms after the restart; reconnected ${reconnected}; batch retries ${retriesAfterCrash}; /readyz during the outage: ${readyDuringOutage}`,
          );
          expect(during).toBe(0);
          expect(reconnected).toBe(true);
          expect(readyDuringOutage).toBe(503);

          // 2. and 3.: Redis refuses every write for REFUSAL_MS, first for lack of replicas, then for lack of memory.
          const refusals: [string, [string, string][], [string, string][]][] = [
            ['NOREPLICAS', [['min-replicas-to-write', '1']], [['min-replicas-to-write', '0']]],
            [
              'OOM',
              [
                ['maxmemory-policy', 'noeviction'],
                ['maxmemory', '1'],
              ],
              [['maxmemory', '0']],
            ],
          ];
          for (const [kind, on, off] of refusals) {
            await waitFor(() => p.chunks.filter((c) => c.at > upAt && c.applied > 0).length > 3, 'chunks flowing again', 60_000);
            const before = await counterValue(p.handle, 'trustline_batch_retries_total');
            const linesBefore = p.lines.length;
            const refusedAt = Date.now();
            for (const [k, v] of on) await admin.config('SET', k, v);
            await sleep(REFUSAL_MS);
            const chunksDuring = p.chunks.filter((c) => c.at > refusedAt + 100 && c.applied > 0).length;
            const acceptedAt = Date.now();
            for (const [k, v] of off) await admin.config('SET', k, v);
            await waitFor(() => p.chunks.some((c) => c.at > acceptedAt && c.applied > 0), `a chunk after the ${kind} refusal`, 60_000);
            const retries = (await counterValue(p.handle, 'trustline_batch_retries_total')) - before;
            const retryLogs = p.lines.slice(linesBefore).filter((l) => l.msg === 'batch failed with a retriable error; retrying');
            const messages = retryLogs.map((l) => String((l.err as { message?: unknown } | undefined)?.message));
            s.note(
              `${kind}: refused ${acceptedAt - refusedAt} ms; chunks applied during ${chunksDuring}; batch retries ${retries}; retry log lines ${retryLogs.length}: ${[...new Set(messages.map((m) => m.slice(0, 100)))].join(' | ')}`,
            );
            expect(chunksDuring, kind).toBe(0);
            expect(retries, kind).toBeGreaterThan(0);
            expect(
              retryLogs.every((l) => (l.err as { code?: unknown }).code === 'STATE_UNAVAILABLE'),
              kind,
            ).toBe(true);
            seen[kind] = retries;
          }
        } finally {
          await admin.quit();
        }
      },
    });
    expect(Object.keys(seen)).toEqual(['NOREPLICAS', 'OOM']);
  }, 300_000);
});
