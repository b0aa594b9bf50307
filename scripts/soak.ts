/**
 * Soak and overload runs (not in CI; docs/reliability.md):
 *
 *   npm run soak -- --minutes 60 [--rate 2000] [--warmup 5] [--out docs/results/soak.json]
 *   npm run soak -- --overload [--rate 1000] [--burst 300000] [--out docs/results/overload.json]
 *
 * Both run `trustline run` as a child process on the real broker (KAFKA_BROKERS; unique topics)
 * with a private `redis-server` of their own (its memory is then the processor's alone), fed
 * with fixture events at a steady `--rate` per second (the fixture traffic repeated round after
 * round with event time moving forward: a fixed agent population, as in production).
 *
 * Soak: every 2 s the processor's /metrics (RSS, heap used, event-loop lag p99), the consumer
 * group's lag (admin API) and Redis `used_memory` are read; each minute's sample keeps the
 * largest RSS, the smallest heap used (the heap after collection, not a point on the GC
 * sawtooth), the largest event-loop lag and consumer lag and the Redis memory. Pass: after the
 * warm-up minutes, the average RSS and heap of the last third of the minutes are within 10 % of
 * those of the first third (a trend, not one noisy minute against another: docs/reliability.md),
 * the consumer lag never exceeds 10 s of input (`10 × rate` records), and the processor never dies.
 *
 * Overload: steady input for a minute, then `--burst` records as fast as the producer can send
 * them (far faster than one processor can score), then steady input again until the lag is back
 * to its steady level. Samples every 5 s, including the processor's own `trustline_consumer_lag`.
 * Pass: the lag grew during the burst and was reported in /metrics, memory did not grow with the
 * lag (RSS at the peak lag within 10 % of RSS when the lag first passed a third of its peak: a
 * backlog stays in Kafka, the consumer fetches bounded batches; the step from steady input to
 * full batches is reported apart), the lag came back down within 10 minutes after the
 * burst, and the full delivery check (test/support/processor-harness.ts: state bytes, every
 * output topic, the audit chain, dead letters, against one uninterrupted run) passes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import { clusterFromEnv, type Cluster } from '../test/support/cluster.ts';
import {
  ChildProcessor,
  PrivateRedis,
  ROOT,
  checkDelivery,
  cleanupTest,
  connectAdmin,
  connectProducer,
  createProcessorTopics,
  deliveryProblems,
  describeReport,
  groupLag,
  loadManyEvents,
  metricValue,
  processorConfig,
  processorEnv,
  sleep,
  uniqueNames,
  waitForAllCommitted,
  type SourceRecord,
} from '../test/support/processor-harness.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    rate: { type: 'string' },
    warmup: { type: 'string' },
    overload: { type: 'boolean', default: false },
    burst: { type: 'string', default: '300000' },
    out: { type: 'string' },
  },
});
const OVERLOAD = args.overload!;
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate ?? (OVERLOAD ? 1000 : 2000));
const WARMUP = Number(args.warmup ?? Math.max(1, Math.min(5, Math.floor(MINUTES / 5))));
const BURST = Number(args.burst);
const OUT = args.out ?? path.join('docs', 'results', OVERLOAD ? 'overload.json' : 'soak.json');
if (![MINUTES, RATE, WARMUP, BURST].every((n) => Number.isFinite(n) && n > 0) || WARMUP >= MINUTES) {
  console.error('soak: --minutes, --rate, --warmup and --burst must be positive numbers, --warmup below --minutes');
  process.exit(2);
}
const log = (msg: string): void => console.log(`[${OVERLOAD ? 'overload' : 'soak'}] ${new Date().toISOString().slice(11, 19)} ${msg}`);

/** An endless supply of events: the fixtures, round after round, event time shifted forward each round. */
class EventSource {
  private i = 0;
  private round = 0;
  private constructor(
    private readonly base: { key: Buffer; event: Record<string, unknown> & { ts: number } }[],
    private readonly span: number,
  ) {}

  static async load(count: number): Promise<EventSource> {
    const recs = await loadManyEvents(count);
    const base = recs.map((r) => ({ key: r.key!, event: JSON.parse(r.value!.toString('utf8')) as Record<string, unknown> & { ts: number } }));
    let lo = Infinity;
    let hi = -Infinity;
    for (const b of base) {
      lo = Math.min(lo, b.event.ts);
      hi = Math.max(hi, b.event.ts);
    }
    return new EventSource(base, hi - lo + 60_000);
  }

  next(n: number): SourceRecord[] {
    const out: SourceRecord[] = [];
    for (let k = 0; k < n; k++) {
      if (this.i === this.base.length) {
        this.i = 0;
        this.round++;
      }
      const b = this.base[this.i++]!;
      const value =
        this.round === 0
          ? JSON.stringify(b.event)
          : JSON.stringify({ ...b.event, eventId: `${String(b.event.eventId)}~${this.round}`, ts: b.event.ts + this.round * this.span });
      out.push({ key: b.key, value: Buffer.from(value, 'utf8') });
    }
    return out;
  }
}

/** Produces `rate` records per second in 100 ms slices until `stop()`. */
function steadyFeed(producer: Producer, topic: string, source: EventSource, rate: number): { stop: () => Promise<void>; sent: () => number } {
  let running = true;
  let sent = 0;
  const done = (async () => {
    const start = Date.now();
    for (let slice = 0; running; slice++) {
      const due = start + slice * 100;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const want = Math.floor(((slice + 1) * rate) / 10) - sent;
      if (want > 0) {
        await producer.send({ topic, acks: -1, messages: source.next(want).map((m) => ({ key: m.key, value: m.value })) });
        sent += want;
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
    sent: () => sent,
  };
}

type Sample = { t: number; rssMb: number; heapMb: number; loopLagP99Ms: number; groupLag: number; reportedLag: number; redisMb: number; processed: number };

async function sampleOnce(
  child: ChildProcessor,
  cluster: Cluster,
  group: string,
  topic: string,
  redis: Redis,
  started: number,
  admin: Awaited<ReturnType<typeof connectAdmin>>,
): Promise<Sample> {
  const m = await child.metricsText();
  if (!child.alive) throw new Error(`the processor died: ${JSON.stringify(child.exitInfo)}\n${child.tail()}`);
  const info = (await redis.info('memory')).match(/used_memory:(\d+)/);
  return {
    t: Math.round((Date.now() - started) / 1000),
    rssMb: metricValue(m, 'trustline_process_process_resident_memory_bytes') / 2 ** 20,
    heapMb: metricValue(m, 'trustline_process_nodejs_heap_size_used_bytes') / 2 ** 20,
    loopLagP99Ms: metricValue(m, 'trustline_process_nodejs_eventloop_lag_p99_seconds') * 1000,
    groupLag: await groupLag(cluster, group, topic, admin),
    reportedLag: metricValue(m, 'trustline_consumer_lag'),
    redisMb: Number(info?.[1] ?? 0) / 2 ** 20,
    processed: metricValue(m, 'trustline_events_total'),
  };
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

async function main(): Promise<number> {
  const started = Date.now();
  const shared = clusterFromEnv();
  const privateRedis = await PrivateRedis.start();
  const cluster: Cluster = { brokers: shared.brokers, redisUrl: privateRedis.url };
  const names = uniqueNames(OVERLOAD ? 'overload' : 'soak');
  const redis = new Redis(privateRedis.url);
  let child: ChildProcessor | null = null;
  const admin = await connectAdmin(cluster);
  const producer = await connectProducer(cluster);
  try {
    await createProcessorTopics(cluster, names, 3);
    const env = processorEnv(cluster, names, { TRUSTLINE_PARTITIONS: '3', TRUSTLINE_MAX_BATCH_EVENTS: '1000' });
    const source = await EventSource.load(180_000);
    child = new ChildProcessor(env, 'processor');
    await child.waitForLog((l) => l.msg === 'processor running', 'processor running', 120_000);
    const sample = (): Promise<Sample> => sampleOnce(child!, cluster, names.group, names.requests, redis, started, admin);
    const result: Record<string, unknown> = {
      script: OVERLOAD ? 'npm run soak -- --overload' : 'npm run soak',
      at: new Date().toISOString(),
      commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
      host: { cpus: os.cpus().length, node: process.version },
    };
    const problems: string[] = [];

    if (!OVERLOAD) {
      log(`${MINUTES} min at ${RATE} events/s (warm-up ${WARMUP} min), processor ${child.pid}, private Redis on ${privateRedis.port}`);
      const feed = steadyFeed(producer, names.requests, source, RATE);
      const minutes: (Sample & { minute: number })[] = [];
      for (let minute = 1; minute <= MINUTES; minute++) {
        const within: Sample[] = [];
        const end = started + minute * 60_000;
        while (Date.now() < end) {
          within.push(await sample());
          await sleep(Math.min(2_000, Math.max(0, end - Date.now())));
        }
        const s: Sample & { minute: number } = {
          minute,
          t: within[within.length - 1]!.t,
          rssMb: r1(Math.max(...within.map((x) => x.rssMb))),
          heapMb: r1(Math.min(...within.map((x) => x.heapMb))),
          loopLagP99Ms: r1(Math.max(...within.map((x) => x.loopLagP99Ms))),
          groupLag: Math.max(...within.map((x) => x.groupLag)),
          reportedLag: Math.max(...within.map((x) => x.reportedLag)),
          redisMb: r1(within[within.length - 1]!.redisMb),
          processed: within[within.length - 1]!.processed,
        };
        minutes.push(s);
        log(
          `minute ${minute}: RSS ${s.rssMb} MB, heap ${s.heapMb} MB, loop lag p99 ${s.loopLagP99Ms} ms, consumer lag ≤ ${s.groupLag}, Redis ${s.redisMb} MB, processed ${s.processed} (sent ${feed.sent()})`,
        );
      }
      await feed.stop();
      await waitForAllCommitted(cluster, names.group, names.requests, 10 * 60_000);
      const after = minutes.filter((m) => m.minute > WARMUP);
      const first = after[0]!;
      const third = Math.max(1, Math.floor(after.length / 3));
      const avg = (xs: typeof after, k: 'rssMb' | 'heapMb'): number => r1(xs.reduce((a, m) => a + m[k], 0) / xs.length);
      const trend = (k: 'rssMb' | 'heapMb') => ({ firstThird: avg(after.slice(0, third), k), lastThird: avg(after.slice(-third), k) });
      const lagBound = RATE * 10;
      for (const k of ['rssMb', 'heapMb'] as const) {
        const t = trend(k);
        if (Math.abs(t.lastThird - t.firstThird) > t.firstThird * 0.1)
          problems.push(`${k}: last third averages ${t.lastThird}, first third ${t.firstThird} (more than 10 % apart): ${after.map((m) => m[k]).join(', ')}`);
      }
      if (minutes.some((m) => m.groupLag > lagBound)) problems.push(`consumer lag above ${lagBound}: ${minutes.map((m) => m.groupLag).join(', ')}`);
      Object.assign(result, {
        args: { minutes: MINUTES, rate: RATE, warmupMinutes: WARMUP },
        rule: `after ${WARMUP} warm-up minute(s): average RSS (per-minute max) and heap (per-minute min) of the last third of the minutes within ±10 % of the first third; consumer lag ≤ ${lagBound} (10 s of input) throughout; processor alive`,
        sent: feed.sent(),
        minutes,
        summary: {
          rssTrendMb: trend('rssMb'),
          heapTrendMb: trend('heapMb'),
          rssMb: {
            first: first.rssMb,
            last: after[after.length - 1]!.rssMb,
            min: Math.min(...after.map((m) => m.rssMb)),
            max: Math.max(...after.map((m) => m.rssMb)),
          },
          heapMb: {
            first: first.heapMb,
            last: after[after.length - 1]!.heapMb,
            min: Math.min(...after.map((m) => m.heapMb)),
            max: Math.max(...after.map((m) => m.heapMb)),
          },
          maxConsumerLag: Math.max(...minutes.map((m) => m.groupLag)),
          maxLoopLagP99Ms: Math.max(...minutes.map((m) => m.loopLagP99Ms)),
          redisMb: { first: first.redisMb, last: after[after.length - 1]!.redisMb },
        },
      });
    } else {
      log(`overload: ${RATE} events/s steady, a burst of ${BURST} records, then ${RATE}/s until the lag is back; processor ${child.pid}`);
      const samples: (Sample & { phase: string })[] = [];
      let phase = 'steady';
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          samples.push({ phase, ...(await sample()) });
          await sleep(5_000);
        }
      })();
      let feed = steadyFeed(producer, names.requests, source, RATE);
      await sleep(60_000);
      await feed.stop();
      const baseline = samples.filter((s) => s.phase === 'steady');
      phase = 'burst';
      const burstStart = Date.now();
      for (let sent = 0; sent < BURST; sent += 1000) {
        await producer.send({
          topic: names.requests,
          acks: -1,
          messages: source.next(Math.min(1000, BURST - sent)).map((m) => ({ key: m.key, value: m.value })),
        });
      }
      const burstSeconds = (Date.now() - burstStart) / 1000;
      log(`burst of ${BURST} records produced in ${r1(burstSeconds)} s (${Math.round(BURST / burstSeconds)}/s)`);
      phase = 'after';
      feed = steadyFeed(producer, names.requests, source, RATE);
      const steadyLag = Math.max(...baseline.map((s) => s.groupLag), RATE);
      const afterStart = Date.now();
      let recoveredAt = 0;
      while (Date.now() - afterStart < 10 * 60_000) {
        const lag = await groupLag(cluster, names.group, names.requests, admin);
        if (lag <= steadyLag) {
          recoveredAt = Date.now();
          break;
        }
        await sleep(1000);
      }
      await sleep(30_000);
      await feed.stop();
      sampling = false;
      await sampler;
      await waitForAllCommitted(cluster, names.group, names.requests, 10 * 60_000);
      const base = { rssMb: Math.max(...baseline.map((s) => s.rssMb)), heapMb: Math.max(...baseline.map((s) => s.heapMb)) };
      const loaded = samples.filter((s) => s.phase !== 'steady');
      const peakLag = Math.max(...loaded.map((s) => s.groupLag));
      const peakReported = Math.max(...loaded.map((s) => s.reportedLag));
      const highLag = loaded.filter((s) => s.groupLag > steadyLag);
      const peakRss = Math.max(...highLag.map((s) => s.rssMb), 0);
      const atPeak = loaded.find((s) => s.groupLag === peakLag)!;
      const atThird = loaded.find((s) => s.groupLag >= peakLag / 3)!;
      if (peakLag <= steadyLag * 5) problems.push(`the burst did not outrun the processor (peak lag ${peakLag}, steady ${steadyLag})`);
      if (peakReported <= 0) problems.push('trustline_consumer_lag never reported the lag');
      if (atPeak.rssMb > atThird.rssMb * 1.1)
        problems.push(`RSS grew with the lag: ${r1(atThird.rssMb)} MB at lag ${atThird.groupLag}, ${r1(atPeak.rssMb)} MB at lag ${peakLag}`);
      if (!recoveredAt) problems.push('the lag did not come back down within 10 minutes');
      child.kill('SIGTERM');
      const exit = await child.exited;
      if (exit.code !== 0) problems.push(`the processor exited ${JSON.stringify(exit)} on SIGTERM`);
      log('checking every output against one uninterrupted run');
      const report = await checkDelivery(cluster, names, processorConfig(env));
      console.log(describeReport(report));
      problems.push(...deliveryProblems(report));
      Object.assign(result, {
        args: { rate: RATE, burst: BURST },
        rule: 'the lag grows past 5× its steady level and is reported in trustline_consumer_lag; RSS at the peak lag ≤ 1.10 × RSS when the lag first passed a third of its peak; the lag is back to its steady level within 10 min; the full delivery check passes',
        burst: { records: BURST, seconds: r1(burstSeconds), perSecond: Math.round(BURST / burstSeconds) },
        steadyLag,
        peakLag,
        peakReportedLag: peakReported,
        rssMb: {
          beforeBurst: r1(base.rssMb),
          atAThirdOfPeakLag: r1(atThird.rssMb),
          lagThen: atThird.groupLag,
          atPeakLag: r1(atPeak.rssMb),
          peakWhileLagging: r1(peakRss),
        },
        heapMb: { beforeBurst: r1(base.heapMb), peakWhileLagging: r1(Math.max(...highLag.map((s) => s.heapMb), 0)) },
        recoverySecondsAfterBurst: recoveredAt ? Math.round((recoveredAt - afterStart) / 1000) : null,
        drainRatePerSecond: recoveredAt ? Math.round(peakLag / ((recoveredAt - burstStart) / 1000)) : null,
        delivery: {
          records: report.requests.length,
          applied: report.reference.applied,
          stateDigestEqual: report.state.storedDigest === report.state.referenceDigest,
          audit: report.audit.verdict,
          trust: { expected: report.trust.expected, read: report.trust.read },
          problems: deliveryProblems(report),
        },
        samples: samples.map((s) => ({ ...s, rssMb: r1(s.rssMb), heapMb: r1(s.heapMb), loopLagP99Ms: r1(s.loopLagP99Ms), redisMb: r1(s.redisMb) })),
      });
      log(
        `peak lag ${peakLag} (reported ${peakReported}), RSS ${r1(base.rssMb)} → ${r1(peakRss)} MB, back to steady ${recoveredAt ? Math.round((recoveredAt - afterStart) / 1000) : '—'} s after the burst`,
      );
    }
    result.seconds = Math.round((Date.now() - started) / 1000);
    result.problems = problems;
    result.pass = problems.length === 0;
    mkdirSync(path.dirname(path.resolve(ROOT, OUT)), { recursive: true });
    writeFileSync(path.resolve(ROOT, OUT), JSON.stringify(result, null, 2) + '\n');
    log(`${problems.length ? 'FAIL' : 'PASS'} in ${result.seconds} s; written to ${OUT}`);
    for (const p of problems) log(`problem: ${p}`);
    return problems.length ? 1 : 0;
  } finally {
    if (child?.alive) {
      child.kill('SIGTERM');
      await Promise.race([child.exited, sleep(30_000)]);
      child.kill('SIGKILL');
    }
    await producer.disconnect();
    await admin.disconnect();
    redis.disconnect();
    await cleanupTest(cluster, names).catch(() => undefined);
    await privateRedis.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`soak: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
