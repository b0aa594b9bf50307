/**
 * `npm run bench` — measures trustline and writes `bench/results/latest.json`.
 *
 * Every figure is measured in this run beside its baseline (docs/benchmarks.md):
 * - in-process production path: exactly what `trustline run` does per chunk (decode, state load,
 *   features, ONNX, step, signing, audit chain, encoding to the Kafka messages the sink would
 *   send, state save) on the memory store and on the real Redis, one core, after a warm-up
 *   that runs — vs a JSON parse → stringify passthrough of the same records;
 * - a CPU profile of the in-process path (memory store) in a child `node --cpu-prof`, summarised
 *   as the top functions by self time (bench/profile-summary.ts);
 * - end-to-end on the real broker and Redis, draining a pre-loaded topic: `trustline run` vs a
 *   plain kafkajs consume → produce passthrough on the same broker;
 * - event-to-emit latency p50/p99 at a fixed offered rate of half the measured maximum, for
 *   trustline and for the passthrough at the same rate;
 * - Redis memory per tracked agent (INFO memory before/after 100k agents, and MEMORY USAGE).
 *
 * Bounded: every loop has a count and a time limit. Services: KAFKA_BROKERS / REDIS_URL, or
 * started with scripts/services.sh. `--quick` runs smaller sizes (for a smoke check) and writes
 * `bench/results/quick.json` instead (git-ignored);
 * `--only in-process` runs the in-process section alone (what the profile child runs).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { createKafkaClient } from '../src/shared/kafka.ts';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config/config.ts';
import { decodeEvent } from '../src/contract/decode.ts';
import { encodeState, newAgentState, D, F } from '../src/core/agent-state.ts';
import { FEATURE_COUNT } from '../src/core/features.ts';
import { startKafkaRunner } from '../src/runners/kafka/run.ts';
import { kafkaMessages } from '../src/runners/kafka/kafka-sink.ts';
import type { BatchOutputs, OutputSink } from '../src/outputs/sink.ts';
import { BatchProcessor, type InputRecord, type StageTimes } from '../src/pipeline/batch-processor.ts';
import { configuredDeps } from '../src/pipeline/configure.ts';
import { loadAnomalyScorer } from '../src/scoring/pipeline-scorer.ts';
import { createLogger } from '../src/shared/logger.ts';
import { readLines } from '../src/runners/replay/file-source.ts';
import { MemoryStateStore } from '../src/state/memory-store.ts';
import { RedisStateStore } from '../src/state/redis-store.ts';
import type { StateStore } from '../src/state/store.ts';
import { profileMarkdown, summariseProfile } from './profile-summary.ts';
import { extraSections } from './sections.ts';

const QUICK = process.argv.includes('--quick');
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const SIZES = QUICK
  ? { inProcess: 20_000, e2e: 20_000, latencySeconds: 5, agents: 10_000 }
  : { inProcess: 100_000, e2e: 100_000, latencySeconds: 15, agents: 100_000 };
const run = Date.now().toString(36);
const log = createLogger({ level: 'warn' });

function services(): { brokers: string[]; redisUrl: string } {
  let brokers = process.env.KAFKA_BROKERS;
  let redisUrl = process.env.REDIS_URL;
  if (!brokers || !redisUrl) {
    const out = execFileSync('bash', ['scripts/services.sh', 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    brokers = /^KAFKA_BROKERS=(.+)$/m.exec(out)?.[1];
    redisUrl = /^REDIS_URL=(.+)$/m.exec(out)?.[1];
  }
  if (!brokers || !redisUrl) throw new Error('bench: could not start or find Kafka and Redis');
  return { brokers: brokers.split(','), redisUrl };
}

/** Fixture events (train set) as raw lines, repeated with fresh agent ids until `n`. */
async function loadEvents(n: number): Promise<Buffer[]> {
  const dir = 'fixtures/train';
  const files = readdirSync(dir)
    .filter((f) => /\.jsonl(\.gz)?$/.test(f))
    .sort();
  const base: Buffer[] = [];
  for (const f of files) for await (const { bytes } of readLines(join(dir, f))) if (bytes.length) base.push(Buffer.from(bytes));
  const out: Buffer[] = [];
  for (let round = 0; out.length < n; round++) {
    for (const b of base) {
      if (out.length >= n) break;
      if (round === 0) out.push(b);
      else {
        const ev = JSON.parse(b.toString());
        ev.agent.id = `${ev.agent.id}-r${round}`;
        ev.eventId = `${ev.eventId}-r${round}`;
        out.push(Buffer.from(JSON.stringify(ev)));
      }
    }
  }
  return out;
}

/** Encodes outputs into exactly the Kafka messages `KafkaSink` sends (values as the bytes kafkajs writes), and drops them. */
class EncodingSink implements OutputSink {
  bytes = 0;
  messages = 0;
  constructor(private readonly topics: Config['kafka']['topics']) {}
  async write(o: BatchOutputs): Promise<void> {
    for (const t of kafkaMessages(o, this.topics)) {
      for (const m of t.messages) {
        this.bytes += Buffer.from(m.value as string | Buffer).length;
        this.messages++;
      }
    }
  }
  async close(): Promise<void> {}
}

const IN_PROCESS_BATCH = 1000;

/**
 * The production path in process: a BatchProcessor configured as `trustline run` configures it
 * (audit chain on, no analyst score rows, the configured escalation rules and signer), the real
 * ONNX model, `store`, and a sink that encodes every message. Warm-up: the first `warm` records run
 * through a separate processor on a separate memory store first (same code, JIT and model warmed).
 */
async function productionPath(config: Config, events: Buffer[], store: StateStore, warm: number, profileTo: string | null = null) {
  const scorer = await loadAnomalyScorer(config.model.card, 1);
  const deps = { scorer, ...configuredDeps(config), audit: { topic: config.kafka.topics.audit }, scoreRows: false };
  // Keyed by agent onto 3 partitions, as the gateway's producer does.
  const records: InputRecord[] = events.map((value, i) => ({
    value,
    key: null,
    position: i + 1,
    source: { topic: 'bench', partition: partitionOf(decodeKey(value)), offset: String(i + 1) },
  }));
  const chunks: InputRecord[][] = [];
  // Chunks come from one partition each, as kafkajs delivers them.
  for (let p = 0; p < 3; p++) {
    const part = records.filter((r) => r.source.partition === p);
    for (let i = 0; i < part.length; i += IN_PROCESS_BATCH) chunks.push(part.slice(i, i + IN_PROCESS_BATCH));
  }
  chunks.sort((a, b) => a[0]!.position - b[0]!.position);
  const warmup = new BatchProcessor({ ...deps, store: new MemoryStateStore(), sink: new EncodingSink(config.kafka.topics) });
  let warmed = 0;
  for (const c of chunks) {
    if (warmed >= warm) break;
    await warmup.process(c);
    warmed += c.length;
  }
  const sink = new EncodingSink(config.kafka.topics);
  const processor = new BatchProcessor({ ...deps, store, sink });
  let applied = 0;
  let trust = 0;
  let audit = 0;
  // The profile covers exactly the timed loop (after the warm-up), nothing of loading or set-up.
  const session = profileTo ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const c of chunks) {
    const r = await processor.process(c);
    applied += r.applied;
    trust += r.outputs.trust.length;
    audit += r.outputs.audit?.length ?? 0;
  }
  const ms = performance.now() - t0;
  if (session && profileTo) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileTo, JSON.stringify(profile));
    session.disconnect();
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  await scorer.close();
  const us = (x: number): number => Math.round((x / events.length) * 1000 * 100) / 100;
  const t = processor.times;
  const stages: Record<keyof StageTimes, number> = {
    decode: us(t.decode),
    load: us(t.load),
    features: us(t.features),
    score: us(t.score),
    step: us(t.step),
    sign: us(t.sign),
    audit: us(t.audit),
    emit: us(t.emit),
    save: us(t.save),
  };
  return {
    events: events.length,
    batchSize: IN_PROCESS_BATCH,
    warmupEvents: warmed,
    applied,
    outputs: { trust, audit, kafkaMessages: sink.messages, kafkaBytes: sink.bytes },
    eventsPerSec: Math.round(events.length / (ms / 1000)),
    /** Events per second of CPU time used by the whole process (all threads): robust to other load on a shared machine. */
    eventsPerCpuSec: Math.round(events.length / (cpuMs / 1000)),
    usPerEvent: { total: us(ms), ...stages },
  };
}

/** A stable partition for an agent id (3 partitions). */
function partitionOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return (h >>> 0) % 3;
}

/** Baseline: JSON parse → stringify of the same bytes (warmed on the first 20k first). */
function jsonPassthrough(events: Buffer[]) {
  let sink = 0;
  for (let i = 0; i < Math.min(events.length, 20_000); i++) sink += JSON.stringify(JSON.parse(events[i]!.toString())).length;
  const cpu0 = process.cpuUsage();
  const b0 = performance.now();
  for (const e of events) sink += Buffer.from(JSON.stringify(JSON.parse(e.toString()))).length;
  const ms = performance.now() - b0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    name: 'JSON parse → stringify → bytes passthrough',
    eventsPerSec: Math.round(events.length / (ms / 1000)),
    eventsPerCpuSec: Math.round(events.length / (cpuMs / 1000)),
    usPerEvent: Math.round((ms / events.length) * 1000 * 100) / 100,
    checksum: sink,
  };
}

async function inProcess(config: Config, events: Buffer[], redisUrl: string | null) {
  const warm = Math.min(events.length, 20_000);
  const baseline = jsonPassthrough(events);
  const memory = await productionPath(config, events, new MemoryStateStore(), warm);
  let redis: Awaited<ReturnType<typeof productionPath>> | null = null;
  if (redisUrl) {
    const store = new RedisStateStore({ url: redisUrl, keyPrefix: `ip${run}` });
    try {
      redis = await productionPath(config, events, store, warm);
    } finally {
      await store.clear();
      await store.close();
    }
  }
  const ratio = (x: number): number => Math.round((baseline.eventsPerSec / x) * 100) / 100;
  const cpuRatio = (x: number): number => Math.round((baseline.eventsPerCpuSec / x) * 100) / 100;
  return {
    memoryStore: memory,
    redisStore: redis,
    baseline,
    slowdownVsBaseline: {
      memoryStore: ratio(memory.eventsPerSec),
      memoryStoreCpu: cpuRatio(memory.eventsPerCpuSec),
      ...(redis ? { redisStore: ratio(redis.eventsPerSec), redisStoreCpu: cpuRatio(redis.eventsPerCpuSec) } : {}),
    },
    target: { eventsPerSec: 160_000, maxSlowdownVsBaseline: 1.2, met: memory.eventsPerSec >= 160_000 && ratio(memory.eventsPerSec) <= 1.2 },
  };
}

/**
 * The in-process path (memory store) again in a child process that records a V8 CPU profile
 * (the same `.cpuprofile` as `node --cpu-prof`, through the inspector, limited to the timed loop
 * after the warm-up), summarised: top functions by self time.
 */
function profileInProcess(): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'trustline-prof-'));
  try {
    const file = join(dir, 'in-process.cpuprofile');
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--only', 'in-process', '--profile-out', file, ...(QUICK ? ['--quick'] : [])], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')), 25);
    return { ...summary, markdown: profileMarkdown(summary) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function preload(producer: Producer, topic: string, events: Buffer[]): Promise<void> {
  for (let i = 0; i < events.length; i += 2000) {
    const slice = events.slice(i, i + 2000);
    await producer.send({ topic, acks: -1, messages: slice.map((value) => ({ key: decodeKey(value), value })) });
  }
}

function decodeKey(value: Buffer): string {
  const r = decodeEvent(value);
  return r.ok ? r.event.agent.id : 'invalid';
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

async function passthrough(kafka: Kafka, topic: string, n: number) {
  const out = `bench-pass-out-${run}`;
  await createTopic(kafka, out);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `bench-pass-${run}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  let first = 0;
  let last = 0;
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    // As trustline run (kafka.partitionsConcurrently default 3): the same concurrency on both sides.
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (!first) first = performance.now();
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: out, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) }] });
      const lastOffset = batch.messages[batch.messages.length - 1]!.offset;
      resolveOffset(lastOffset);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(lastOffset) + 1) }]);
      count += batch.messages.length;
      last = performance.now();
    },
  });
  const ok = await waitFor(() => count >= n, 180_000);
  await consumer.disconnect();
  await producer.disconnect();
  return { drained: ok, events: count, eventsPerSec: Math.round(count / ((last - first) / 1000)) };
}

async function trustlineDrain(base: Config, topic: string, n: number) {
  const config: Config = {
    ...base,
    kafka: {
      ...base.kafka,
      groupId: `bench-tl-${run}`,
      topics: { ...base.kafka.topics, requests: topic, trust: `bench-trust-${run}`, circuit: `bench-circuit-${run}`, dlq: `bench-dlq-${run}` },
      partitions: 3,
    },
    redis: { ...base.redis, keyPrefix: `b${run}` },
    http: { ...base.http, port: 0 },
  };
  let count = 0;
  let first = 0;
  let last = 0;
  const startedAt = performance.now();
  const handle = await startKafkaRunner(config, log, {
    onBatch: (r) => {
      if (!first) first = performance.now();
      count += r.applied + r.dead + r.skipped;
      last = performance.now();
    },
  });
  const ok = await waitFor(() => count >= n, 300_000);
  await handle.stop('bench');
  const redis = new Redis(config.redis.url);
  await new RedisStateStore({ redis, keyPrefix: config.redis.keyPrefix }).clear();
  redis.disconnect();
  return { drained: ok, events: count, eventsPerSec: Math.round(count / ((last - first) / 1000)), startupMs: Math.round(first - startedAt) };
}

/**
 * Offers `rate` events/s for `seconds` to `topic` (fresh event ids, event time = now), keyed by
 * agent. Paced by elapsed time (a slow tick sends what is due), so a loaded machine delays events
 * rather than dropping the rate; returns how many were sent and the rate actually achieved.
 */
async function offerLoad(kafka: Kafka, topic: string, events: Buffer[], rate: number, seconds: number): Promise<{ sent: number; achievedPerSec: number }> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const keys = events.map(decodeKey);
  const tickMs = 10;
  const start = Date.now();
  const end = start + seconds * 1000;
  let sent = 0;
  const maxEvents = Math.ceil(rate * seconds);
  while (Date.now() < end && sent < maxEvents) {
    const due = Math.min(maxEvents, Math.floor(((Date.now() - start) / 1000) * rate));
    if (due > sent) {
      const now = Date.now();
      const msgs = [];
      for (; sent < due; sent++) msgs.push({ key: keys[sent % events.length]!, value: restamp(events[sent % events.length]!, `lat-${sent}`, now) });
      await producer.send({ topic, acks: 1, messages: msgs });
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  const elapsed = (Date.now() - start) / 1000;
  await producer.disconnect();
  return { sent, achievedPerSec: Math.round(sent / elapsed) };
}

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return { measured: samples.length, p50Ms: q(0.5), p90Ms: q(0.9), p99Ms: q(0.99), maxMs: sorted[sorted.length - 1] ?? NaN };
}

async function createTopic(kafka: Kafka, topic: string, partitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();
}

/** Event-to-emit latency of `trustline run` at `rate`: from the event's time to the broker's acknowledgement of its outputs (and the state save). */
async function latency(base: Config, kafka: Kafka, events: Buffer[], rate: number, seconds: number) {
  const topic = `bench-lat-in-${run}`;
  await createTopic(kafka, topic);
  const config: Config = {
    ...base,
    kafka: {
      ...base.kafka,
      groupId: `bench-lat-${run}`,
      topics: { ...base.kafka.topics, requests: topic, trust: `bench-lat-trust-${run}`, circuit: `bench-lat-circuit-${run}`, dlq: `bench-lat-dlq-${run}` },
      partitions: 3,
    },
    redis: { ...base.redis, keyPrefix: `l${run}` },
    http: { ...base.http, port: 0 },
  };
  const samples: number[] = [];
  // Where the time of each event went: waiting before its chunk started (fetch, queueing behind
  // other partitions' chunks on two cores), the chunk's CPU stages, the broker ack, the Redis save.
  const parts: { total: number; wait: number; cpu: number; load: number; emit: number; save: number }[] = [];
  let joined = false;
  const handle = await startKafkaRunner(config, log, {
    onBatch: (r, ackAt) => {
      joined = true;
      const t = r.times;
      const cpu = t.decode + t.features + t.score + t.step + t.sign + t.audit;
      const busy = cpu + t.load + t.emit + t.save;
      for (const ts of r.eventTimes) {
        samples.push(ackAt - ts);
        parts.push({ total: ackAt - ts, wait: Math.max(0, ackAt - ts - busy), cpu, load: t.load, emit: t.emit, save: t.save });
      }
    },
  });
  // Prime: one event so the consumer is assigned and fetching before the clock starts.
  const primer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await primer.connect();
  await primer.send({ topic, messages: [{ key: 'prime', value: restamp(events[0]!, 'prime', Date.now()) }] });
  await primer.disconnect();
  await waitFor(() => joined, 60_000);
  samples.length = 0;
  const { sent, achievedPerSec } = await offerLoad(kafka, topic, events, rate, seconds);
  await waitFor(() => samples.length >= sent, 30_000);
  await handle.stop('bench');
  const redis = new Redis(config.redis.url);
  await new RedisStateStore({ redis, keyPrefix: config.redis.keyPrefix }).clear();
  redis.disconnect();
  // Mean breakdown of the slowest 1 % of events (those at or above p99).
  const p99 = percentiles(samples).p99Ms;
  const tail = parts.filter((x) => x.total >= p99);
  const mean = (k: keyof (typeof parts)[number]): number => Math.round((tail.reduce((a, x) => a + x[k], 0) / Math.max(1, tail.length)) * 10) / 10;
  const p99Breakdown = {
    events: tail.length,
    totalMs: mean('total'),
    waitBeforeChunkMs: mean('wait'),
    chunkCpuMs: mean('cpu'),
    redisLoadMs: mean('load'),
    brokerAckMs: mean('emit'),
    redisSaveMs: mean('save'),
  };
  return { offeredPerSec: Math.round(rate), achievedPerSec, seconds, sent, ...percentiles(samples), p99Breakdown };
}

/** The same measurement for the kafkajs consume → produce passthrough (parses each event for its time, produces it with acks from all replicas). */
async function passthroughLatency(kafka: Kafka, events: Buffer[], rate: number, seconds: number) {
  const topic = `bench-plat-in-${run}`;
  const out = `bench-plat-out-${run}`;
  await createTopic(kafka, topic);
  await createTopic(kafka, out);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `bench-plat-${run}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const samples: number[] = [];
  let joined = false;
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 1_000,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch, resolveOffset }) => {
      const times = batch.messages.map((m) => (JSON.parse(m.value!.toString()) as { ts: number }).ts);
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: out, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) }] });
      const ackAt = Date.now();
      joined = true;
      for (const ts of times) samples.push(ackAt - ts);
      resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
    },
  });
  const primer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await primer.connect();
  await primer.send({ topic, messages: [{ key: 'prime', value: restamp(events[0]!, 'prime', Date.now()) }] });
  await primer.disconnect();
  await waitFor(() => joined, 60_000);
  samples.length = 0;
  const { sent, achievedPerSec } = await offerLoad(kafka, topic, events, rate, seconds);
  await waitFor(() => samples.length >= sent, 30_000);
  await consumer.disconnect();
  await producer.disconnect();
  return { name: 'kafkajs consume → produce passthrough (acks all)', offeredPerSec: Math.round(rate), achievedPerSec, seconds, sent, ...percentiles(samples) };
}

/** The event with a new id and event time `ts` (wall clock: the latency benchmark offers live traffic). */
function restamp(src: Buffer, eventId: string, ts: number): Buffer {
  const ev = JSON.parse(src.toString());
  ev.eventId = eventId;
  ev.ts = ts;
  return Buffer.from(JSON.stringify(ev));
}

/** A private redis-server with the production settings (docs/operations.md, Redis) on a free loopback port; the shared one is never reconfigured. */
async function privateRedis(): Promise<{ url: string; stop: () => void } | null> {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  let child;
  try {
    child = spawn(
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--save',
        '',
        '--appendonly',
        'no',
        '--hash-max-listpack-value',
        '512',
        '--hash-max-listpack-entries',
        '512',
      ],
      { stdio: 'ignore' },
    );
  } catch {
    return null;
  }
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined); // refused until the server listens
  for (let i = 0; i < 50; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return { url, stop: () => child.kill('SIGTERM') };
    } catch {
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  return null;
}

function benchState(j: number): Buffer {
  const s = newAgentState();
  s.d[D.watermark] = 1000 + j;
  s.d[D.seq] = 1 + (j % 5000);
  s.d[D.firstTs] = 1_767_225_600_000 + j;
  s.d[D.lastTs] = 1_767_225_600_000 + j * 7;
  for (let k = 0; k < 31; k++) s.f[k] = ((j * 31 + k) % 97) / 97;
  s.f[F.trust] = 0.8;
  return encodeState(s);
}

/**
 * Redis bytes per tracked agent: `agents` realistic states saved through the store (bucket
 * hashes), measured with INFO memory (used_memory before/after) and MEMORY USAGE of every key;
 * baseline: the layout before buckets (one string key per agent, `<prefix>:{<tenant>:<agentId>}`)
 * on the same server in the same run.
 */
async function redisMemory(sharedUrl: string, agents: number) {
  const own = await privateRedis();
  const url = own?.url ?? sharedUrl;
  const redis = new Redis(url);
  try {
    const config = Object.fromEntries(
      ((await redis.config('GET', 'hash-max-listpack-*')) as string[]).reduce<[string, string][]>((a, v, i, all) => (i % 2 ? a : [...a, [v, all[i + 1]!]]), []),
    );
    const used = async (): Promise<number> => {
      await redis.call('MEMORY', 'PURGE').catch(() => undefined);
      return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    };
    const id = (j: number): string => `agent-${j.toString(16).padStart(8, '0')}`;
    const scanUsage = async (pattern: string, limit = Infinity): Promise<{ keys: number; bytes: number; encodings: Record<string, number> }> => {
      let cursor = '0';
      let keys = 0;
      let bytes = 0;
      const encodings: Record<string, number> = {};
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const k of found) {
          keys++;
          bytes += Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
          const enc = String(await redis.object('ENCODING', k));
          encodings[enc] = (encodings[enc] ?? 0) + 1;
        }
      } while (cursor !== '0' && keys < limit);
      return { keys, bytes, encodings };
    };
    // trustline: bucket hashes through the store.
    const prefix = `m${run}`;
    const store = new RedisStateStore({ redis, keyPrefix: prefix });
    const before = await used();
    for (let i = 0; i < agents; i += 1000) {
      const entries = [];
      for (let j = i; j < Math.min(agents, i + 1000); j++)
        entries.push({ key: { tenant: 'default', agentId: id(j) }, watermark: 1000 + j, state: benchState(j) });
      await store.saveMany(entries);
    }
    const after = await used();
    const usage = await scanUsage(`${prefix}:{*`);
    await store.clear();
    // Baseline: one string key per agent.
    const legacy = `g${run}`;
    const lBefore = await used();
    for (let i = 0; i < agents; i += 1000) {
      const p = redis.pipeline();
      for (let j = i; j < Math.min(agents, i + 1000); j++) p.set(`${legacy}:{default:${id(j)}}`, benchState(j));
      await p.exec();
    }
    const lAfter = await used();
    const lUsage = await scanUsage(`${legacy}:{*`, 5000); // a sample: one key per agent
    for (let cursor = '0'; ;) {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${legacy}:{*`, 'COUNT', 1000);
      if (found.length) await redis.unlink(...found);
      cursor = next;
      if (cursor === '0') break;
    }
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    const perAgent = r1((after - before) / agents);
    return {
      agents,
      server: own
        ? 'private redis-server with the documented settings (bench-owned, same binary as the shared one)'
        : 'the shared Redis (no redis-server binary for a private one)',
      serverConfig: config,
      agentIdExample: id(123456),
      stateBytes: benchState(0).length,
      stateBuckets: store.stateBuckets,
      trustline: {
        layout: 'bucket hashes (listpack)',
        usedMemoryBefore: before,
        usedMemoryAfter: after,
        bytesPerAgent: perAgent,
        memoryUsage: { keys: usage.keys, bytesPerAgent: r1(usage.bytes / agents), encodings: usage.encodings },
      },
      baseline: {
        layout: 'one string key per agent (before this change)',
        bytesPerAgent: r1((lAfter - lBefore) / agents),
        memoryUsage: { sampledKeys: lUsage.keys, bytesPerAgent: r1(lUsage.bytes / lUsage.keys) },
      },
      target: { bytesPerAgent: 256, met: perAgent <= 256 },
    };
  } finally {
    redis.disconnect();
    own?.stop();
  }
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  if (ONLY === 'in-process') {
    // The profile child: the in-process production path on the memory store, nothing else.
    const config = loadConfig({ env: {}, overrides: { log: { level: 'warn' } } });
    const events = await loadEvents(SIZES.inProcess);
    const out = process.argv.includes('--profile-out') ? process.argv[process.argv.indexOf('--profile-out') + 1]! : null;
    const r = await productionPath(config, events, new MemoryStateStore(), Math.min(events.length, 20_000), out);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  if (ONLY === 'redis-memory') {
    process.stdout.write(JSON.stringify(await redisMemory(process.env.REDIS_URL ?? 'redis://127.0.0.1:36379', SIZES.agents), null, 2) + '\n');
    return;
  }
  const { brokers, redisUrl } = services();
  const config = loadConfig({ env: {}, overrides: { kafka: { brokers }, redis: { url: redisUrl }, log: { level: 'warn' } } });
  const events = await loadEvents(Math.max(SIZES.inProcess, SIZES.e2e));
  const result: Record<string, unknown> = {
    startedAt: started,
    quick: QUICK,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    },
    features: FEATURE_COUNT,
  };
  process.stderr.write('bench: in-process production path (memory store, Redis)…\n');
  result.inProcess = await inProcess(config, events.slice(0, SIZES.inProcess), redisUrl);
  process.stderr.write('bench: CPU profile of the in-process path…\n');
  result.profile = profileInProcess();

  const kafka = createKafkaClient({ brokers, clientId: 'trustline-bench', profile: 'service' });
  const topic = `bench-in-${run}`;
  await createTopic(kafka, topic);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  process.stderr.write(`bench: pre-loading ${SIZES.e2e} events…\n`);
  const e2eEvents = events.slice(0, SIZES.e2e);
  await preload(producer, topic, e2eEvents);
  await producer.disconnect();
  process.stderr.write('bench: passthrough drain…\n');
  const pass = await passthrough(kafka, topic, e2eEvents.length);
  process.stderr.write('bench: trustline drain…\n');
  const tl = await trustlineDrain(config, topic, e2eEvents.length);
  const ratio = Math.round((tl.eventsPerSec / pass.eventsPerSec) * 100) / 100;
  result.endToEnd = { events: e2eEvents.length, partitions: 3, passthrough: pass, trustline: tl, ratio, target: { ratio: 0.85, met: ratio >= 0.85 } };
  const rate = tl.eventsPerSec / 2;
  process.stderr.write('bench: latency at half load (passthrough, then trustline)…\n');
  const passLat = await passthroughLatency(kafka, e2eEvents, rate, SIZES.latencySeconds);
  const tlLat = await latency(config, kafka, e2eEvents, rate, SIZES.latencySeconds);
  result.latency = {
    trustline: tlLat,
    baseline: passLat,
    target: { p99Ms: passLat.p99Ms + 10, rule: 'p99 ≤ passthrough p99 + 10 ms', met: tlLat.p99Ms <= passLat.p99Ms + 10 },
  };
  process.stderr.write('bench: redis memory…\n');
  result.redisMemory = await redisMemory(redisUrl, SIZES.agents);
  const extra = await extraSections(config);
  result.signing = extra.signing;
  result.decide = { ...(extra.decide as Record<string, unknown>), target: { us: 0.2, met: (extra.decide as { decideUs: number }).decideUs <= 0.2 } };
  result.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  result.finishedAt = new Date().toISOString();
  mkdirSync('bench/results', { recursive: true });
  const text = JSON.stringify(result, null, 2) + '\n';
  // A --quick run never replaces the committed figures of the last full run.
  writeFileSync(QUICK ? 'bench/results/quick.json' : 'bench/results/latest.json', text);
  process.stdout.write(text);
}

await main();
process.exit(0);
