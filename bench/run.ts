/**
 * `npm run bench` — measures trustline and writes `bench/results/latest.json`.
 *
 * Every figure is measured in this run beside its baseline:
 * - in-process pipeline (memory state, file records in memory, real ONNX model, one core) vs a
 *   JSON parse → stringify passthrough of the same records;
 * - end-to-end on the real broker and Redis, draining a pre-loaded topic: `trustline run` vs a
 *   plain kafkajs consume → produce passthrough on the same broker;
 * - event-to-emit latency p50/p99 at a fixed offered rate of half the measured maximum;
 * - Redis memory per tracked agent (INFO memory before/after 100k agents).
 *
 * Bounded: every loop has a count and a time limit. Services: KAFKA_BROKERS / REDIS_URL, or
 * started with scripts/services.sh. `--quick` runs smaller sizes (for a smoke check).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { createKafkaClient } from '../src/shared/kafka.ts';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config/config.ts';
import { decodeEvent } from '../src/contract/decode.ts';
import { encodeState, newAgentState, D, F } from '../src/core/agent-state.ts';
import { FEATURE_COUNT } from '../src/core/features.ts';
import { startKafkaRunner } from '../src/runners/kafka/run.ts';
import type { BatchOutputs, OutputSink } from '../src/outputs/sink.ts';
import { BatchProcessor, type InputRecord } from '../src/pipeline/batch-processor.ts';
import { configuredDeps } from '../src/pipeline/configure.ts';
import { loadAnomalyScorer } from '../src/scoring/pipeline-scorer.ts';
import { createLogger } from '../src/shared/logger.ts';
import { readLines } from '../src/runners/replay/file-source.ts';
import { MemoryStateStore } from '../src/state/memory-store.ts';
import { RedisStateStore } from '../src/state/redis-store.ts';
import { extraSections } from './sections.ts';

const QUICK = process.argv.includes('--quick');
const SIZES = QUICK ? { inProcess: 20_000, e2e: 20_000, latencySeconds: 5, agents: 10_000 } : { inProcess: 100_000, e2e: 100_000, latencySeconds: 15, agents: 100_000 };
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
  const files = readdirSync(dir).filter((f) => /\.jsonl(\.gz)?$/.test(f)).sort();
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

/** Serialises outputs like a sink would, and drops them. */
class NullSink implements OutputSink {
  bytes = 0;
  async write(o: BatchOutputs): Promise<void> {
    for (const r of o.trust) this.bytes += JSON.stringify(r).length;
    for (const r of o.circuit) this.bytes += JSON.stringify(r).length;
  }
  async close(): Promise<void> {}
}

async function inProcess(config: Config, events: Buffer[]) {
  const scorer = await loadAnomalyScorer(config.model.card, 1);
  const processor = new BatchProcessor({
    store: new MemoryStateStore(),
    scorer,
    sink: new NullSink(),
    ...configuredDeps(config),
  });
  const batch = 1000;
  const records: InputRecord[] = events.map((value, i) => ({ value, key: null, position: i + 1, source: { topic: 'bench', partition: 0, offset: String(i + 1) } }));
  // Warm-up on a copy of the first batch under other positions is not possible without state reuse; warm the JIT on a separate processor instead.
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += batch) await processor.process(records.slice(i, i + batch));
  const ms = performance.now() - t0;
  await scorer.close();
  // Baseline: parse → stringify passthrough of the same bytes.
  const b0 = performance.now();
  let sink = 0;
  for (const e of events) sink += JSON.stringify(JSON.parse(e.toString())).length;
  const baseMs = performance.now() - b0;
  const us = (x: number): number => Math.round((x / events.length) * 1000 * 100) / 100;
  const t = processor.times;
  return {
    events: events.length,
    batchSize: batch,
    eventsPerSec: Math.round(events.length / (ms / 1000)),
    usPerEvent: { total: us(ms), decode: us(t.decode), load: us(t.load), features: us(t.features), onnx: us(t.score), step: us(t.step), sign: us(t.sign), audit: us(t.audit), emit: us(t.emit), save: us(t.save) },
    baseline: { name: 'JSON parse+stringify passthrough', eventsPerSec: Math.round(events.length / (baseMs / 1000)), checksum: sink },
    target: { eventsPerSec: 100_000, met: events.length / (ms / 1000) >= 100_000 },
  };
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
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: out, numPartitions: 3 }] });
  await admin.disconnect();
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
    kafka: { ...base.kafka, groupId: `bench-tl-${run}`, topics: { ...base.kafka.topics, requests: topic, trust: `bench-trust-${run}`, circuit: `bench-circuit-${run}`, dlq: `bench-dlq-${run}` }, partitions: 3 },
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

async function latency(base: Config, kafka: Kafka, events: Buffer[], rate: number, seconds: number) {
  const topic = `bench-lat-in-${run}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
  await admin.disconnect();
  const config: Config = {
    ...base,
    kafka: { ...base.kafka, groupId: `bench-lat-${run}`, topics: { ...base.kafka.topics, requests: topic, trust: `bench-lat-trust-${run}`, circuit: `bench-lat-circuit-${run}`, dlq: `bench-lat-dlq-${run}` }, partitions: 3 },
    redis: { ...base.redis, keyPrefix: `l${run}` },
    http: { ...base.http, port: 0 },
  };
  const samples: number[] = [];
  let joined = false;
  const handle = await startKafkaRunner(config, log, {
    onBatch: (r, ackAt) => {
      joined = true;
      for (const ts of r.eventTimes) samples.push(ackAt - ts);
    },
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  // Prime: one event so the consumer is assigned and fetching before the clock starts.
  await producer.send({ topic, messages: [{ key: 'prime', value: restamp(events[0]!, 'prime', Date.now()) }] });
  await waitFor(() => joined, 60_000);
  samples.length = 0;
  const tickMs = 10;
  const perTick = rate / (1000 / tickMs);
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  let owed = 0;
  const maxEvents = Math.ceil(rate * seconds) + 1;
  while (Date.now() < end && sent < maxEvents) {
    owed += perTick;
    const k = Math.floor(owed);
    owed -= k;
    if (k > 0) {
      const now = Date.now();
      const msgs = [];
      for (let i = 0; i < k; i++, sent++) {
        const src = events[sent % events.length]!;
        const id = decodeKey(src);
        msgs.push({ key: id, value: restamp(src, `lat-${sent}`, now) });
      }
      await producer.send({ topic, acks: 1, messages: msgs });
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await waitFor(() => samples.length >= sent, 30_000);
  await producer.disconnect();
  await handle.stop('bench');
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return { offeredPerSec: Math.round(rate), seconds, sent, measured: samples.length, p50Ms: q(0.5), p90Ms: q(0.9), p99Ms: q(0.99), maxMs: sorted[sorted.length - 1] ?? NaN, target: { p99Ms: 50, met: q(0.99) <= 50 } };
}

/** The event with a new id and event time `ts` (wall clock: the latency benchmark offers live traffic). */
function restamp(src: Buffer, eventId: string, ts: number): Buffer {
  const ev = JSON.parse(src.toString());
  ev.eventId = eventId;
  ev.ts = ts;
  return Buffer.from(JSON.stringify(ev));
}

async function redisMemory(url: string, agents: number) {
  const redis = new Redis(url);
  const prefix = `m${run}`;
  const store = new RedisStateStore({ redis, keyPrefix: prefix });
  await redis.call('MEMORY', 'PURGE').catch(() => undefined);
  const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const before = await used();
  const chunk = 1000;
  for (let i = 0; i < agents; i += chunk) {
    const entries = [];
    for (let j = i; j < Math.min(agents, i + chunk); j++) {
      const s = newAgentState();
      s.d[D.watermark] = 1000 + j;
      s.d[D.seq] = 1 + (j % 5000);
      s.d[D.firstTs] = 1_767_225_600_000 + j;
      s.d[D.lastTs] = 1_767_225_600_000 + j * 7;
      for (let k = 0; k < 31; k++) s.f[k] = ((j * 31 + k) % 97) / 97;
      s.f[F.trust] = 0.8;
      entries.push({ key: { tenant: 'default', agentId: `agent-${j.toString(16).padStart(8, '0')}` }, watermark: 1000 + j, state: encodeState(s) });
    }
    await store.saveMany(entries);
  }
  const after = await used();
  await store.clear();
  redis.disconnect();
  const perAgent = Math.round(((after - before) / agents) * 10) / 10;
  return { agents, agentIdExample: 'agent-0001e240', stateBytes: encodeState(newAgentState()).length, usedMemoryBefore: before, usedMemoryAfter: after, bytesPerAgent: perAgent, target: { bytesPerAgent: 400, met: perAgent <= 400 } };
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const { brokers, redisUrl } = services();
  const config = loadConfig({ env: {}, overrides: { kafka: { brokers }, redis: { url: redisUrl }, log: { level: 'warn' } } });
  const events = await loadEvents(Math.max(SIZES.inProcess, SIZES.e2e));
  const result: Record<string, unknown> = {
    startedAt: started,
    quick: QUICK,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    features: FEATURE_COUNT,
  };
  process.stderr.write('bench: in-process pipeline…\n');
  result.inProcess = await inProcess(config, events.slice(0, SIZES.inProcess));

  const kafka = createKafkaClient({ brokers, clientId: 'trustline-bench', profile: 'service' });
  const topic = `bench-in-${run}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
  await admin.disconnect();
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
  result.endToEnd = {
    events: e2eEvents.length,
    partitions: 3,
    passthrough: pass,
    trustline: tl,
    ratio: Math.round((tl.eventsPerSec / pass.eventsPerSec) * 100) / 100,
    target: { ratio: 0.5, met: tl.eventsPerSec / pass.eventsPerSec >= 0.5 },
  };
  process.stderr.write('bench: latency at half load…\n');
  result.latency = await latency(config, kafka, e2eEvents, tl.eventsPerSec / 2, SIZES.latencySeconds);
  process.stderr.write('bench: redis memory…\n');
  result.redisMemory = await redisMemory(redisUrl, SIZES.agents);
  Object.assign(result, await extraSections(config));
  result.finishedAt = new Date().toISOString();
  mkdirSync('bench/results', { recursive: true });
  const text = JSON.stringify(result, null, 2) + '\n';
  writeFileSync('bench/results/latest.json', text);
  process.stdout.write(text);
}

await main();
process.exit(0);
