/**
 * Machinery for the `trustline run` delivery scenarios (test/support/delivery-scenario.ts, used by
 * test/runners/kafka/*.int.test.ts) and the long runs (scripts/chaos.ts, scripts/soak.ts): run the
 * processor as a child process or in process, feed it fixture events, crash it, crash a private
 * broker or Redis, read every topic back, compute the uninterrupted reference and compare.
 * No vitest import (the scripts use it); every Kafka/Redis call names its {@link Cluster}.
 *
 * The oracle is always the same: one uninterrupted in-process run of `BatchProcessor` over the
 * records exactly as they sit in the requests topic (partition by partition, in offset order,
 * position = Kafka offset), with a `MemoryStateStore`, the real model and the signer, policy,
 * escalation rules, mode, TTL and audit chain of the configuration the processor under test was
 * given. `deliveryProblems` lists every way a run differs from it (docs/reliability.md).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Admin, IHeaders, Producer } from 'kafkajs';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { fromDlqKafkaMessage } from '../../src/contract/dlq.ts';
import { startKafkaRunner, type KafkaRunnerHandle } from '../../src/runners/kafka/run.ts';
import type { CircuitSignal, DlqRecord, Escalation, TrustUpdate } from '../../src/contract/schemas.ts';
import { createAuditChainVerifier, type AuditRecord } from '../../src/audit/chain.ts';
import { outputKey } from '../../src/outputs/records.ts';
import type { BatchOutputs, DeadLetter, OutputSink } from '../../src/outputs/sink.ts';
import { BatchProcessor, type InputRecord } from '../../src/pipeline/batch-processor.ts';
import { configuredDeps } from '../../src/pipeline/configure.ts';
import { loadAnomalyScorer } from '../../src/scoring/pipeline-scorer.ts';
import { createLogger, type Logger } from '../../src/shared/logger.ts';
import { readLines } from '../../src/runners/replay/file-source.ts';
import { agentKeyPattern } from '../../src/state/keys.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import type { AgentKey } from '../../src/state/store.ts';
import { rng as prng } from './prng.ts';
import { createTopicOn, kafkaOf, uniqueId as uniqueName, waitUntil as waitFor, withAdminOf, type Cluster } from './cluster.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MODEL_CARD = path.join(ROOT, 'models', 'trustline-tailsum.json');
export const TRAIN_DIR = path.join(ROOT, 'fixtures', 'train');
const BIN = path.join(ROOT, 'bin', 'trustline.js');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The suite's seeded PRNG (test/support/prng.ts): kill delays and poison positions are reproducible. */
export { rng as prng } from './prng.ts';

// ---------------------------------------------------------------------------------------------
// Input

/** A record to produce to the requests topic. `tag` is test bookkeeping, never sent. */
export type SourceRecord = { key: Buffer | null; value: Buffer | null; tag?: string; partition?: number };

/**
 * `count` consecutive events of the training fixtures (fixtures/train/*.jsonl.gz, files in name
 * order, after the first `skip`), as raw bytes keyed by `agent.id`, the way a gateway publishes them.
 */
export async function loadFixtureRecords(count: number, skip = 0, dir = TRAIN_DIR): Promise<SourceRecord[]> {
  const files = readdirSync(dir)
    .filter((f) => /\.jsonl(\.gz)?$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
  if (!files.length) throw new Error(`no fixture files in ${dir} (run npm run fixtures)`);
  const out: SourceRecord[] = [];
  let seen = 0;
  for (const file of files) {
    for await (const { bytes } of readLines(file)) {
      if (bytes.length === 0 || seen++ < skip) continue;
      const value = Buffer.from(bytes);
      const id = (JSON.parse(value.toString('utf8')) as { agent: { id: string } }).agent.id;
      out.push({ key: Buffer.from(id, 'utf8'), value });
      if (out.length >= count) return out;
    }
  }
  if (out.length < count) throw new Error(`fixtures hold only ${out.length} events, ${count} wanted`);
  return out;
}

/**
 * `count` events for the long runs (scripts/chaos.ts, scripts/soak.ts): the training then the
 * validation fixtures, and as many further rounds of them as needed with agent and event ids
 * suffixed `~r<round>` (new agents with the same behaviour), keyed by `agent.id`.
 */
export async function loadManyEvents(count: number): Promise<SourceRecord[]> {
  const dirs = [TRAIN_DIR, path.join(ROOT, 'fixtures', 'validation')];
  const out: SourceRecord[] = [];
  for (let round = 0; out.length < count; round++) {
    const before = out.length;
    for (const dir of dirs) {
      const files = readdirSync(dir)
        .filter((f) => /\.jsonl(\.gz)?$/.test(f))
        .sort()
        .map((f) => path.join(dir, f));
      for (const file of files) {
        for await (const { bytes } of readLines(file)) {
          if (bytes.length === 0) continue;
          const event = JSON.parse(Buffer.from(bytes).toString('utf8')) as { eventId: string; agent: { id: string } };
          if (round > 0) {
            event.agent.id = `${event.agent.id}~r${round}`;
            event.eventId = `${event.eventId}~r${round}`;
          }
          out.push({ key: Buffer.from(event.agent.id, 'utf8'), value: round > 0 ? Buffer.from(JSON.stringify(event), 'utf8') : Buffer.from(bytes) });
          if (out.length >= count) return out;
        }
      }
    }
    if (out.length === before) throw new Error('no fixture events (run npm run fixtures)');
  }
  return out;
}

/** One malformed record of each kind the decoder must dead-letter, with the code it must get. */
export type PoisonKind = 'invalid_json' | 'invalid_utf8' | 'unsupported_version' | 'missing_field' | 'too_large' | 'tombstone' | 'not_an_object' | 'wrong_type';

export const POISON_KINDS: readonly PoisonKind[] = [
  'invalid_json',
  'invalid_utf8',
  'unsupported_version',
  'missing_field',
  'too_large',
  'tombstone',
  'not_an_object',
  'wrong_type',
];

/** DLQ error code and JSON Pointer each poison kind must be rejected with. */
export const POISON_EXPECT: Record<PoisonKind, { code: string; path: string }> = {
  invalid_json: { code: 'invalid_json', path: '' },
  invalid_utf8: { code: 'invalid_utf8', path: '' },
  unsupported_version: { code: 'unsupported_version', path: '/v' },
  missing_field: { code: 'missing_field', path: '/request/route' },
  too_large: { code: 'too_large', path: '' },
  tombstone: { code: 'invalid_json', path: '' },
  not_an_object: { code: 'not_an_object', path: '' },
  wrong_type: { code: 'wrong_type', path: '/ts' },
};

/**
 * A malformed record built from a good one (same key, so it lands on the agent's partition,
 * between its good events). `n` makes the bytes unique. `tag` is `poison:<kind>`.
 */
export function poisonRecord(kind: PoisonKind, good: SourceRecord, n: number): SourceRecord {
  const event = JSON.parse(good.value!.toString('utf8')) as Record<string, unknown> & { agent: Record<string, unknown>; request: Record<string, unknown> };
  const tag = `poison:${kind}`;
  const marker = `poison-${kind}-${n}`;
  let value: Buffer | null;
  switch (kind) {
    case 'invalid_json':
      value = Buffer.from(`{"v":1,"eventId":"${marker}","ts":`, 'utf8');
      break;
    case 'invalid_utf8': {
      // Valid JSON structure, but the eventId string holds 0xC3 0x28 (a broken 2-byte sequence) and 0xFF.
      const text = JSON.stringify({ ...event, eventId: `${marker}-@@` });
      const at = text.indexOf('@@');
      value = Buffer.concat([Buffer.from(text.slice(0, at), 'utf8'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(text.slice(at + 2), 'utf8')]);
      break;
    }
    case 'unsupported_version':
      value = Buffer.from(JSON.stringify({ ...event, v: 2, eventId: marker }), 'utf8');
      break;
    case 'missing_field': {
      const { route: _route, ...request } = event.request;
      value = Buffer.from(JSON.stringify({ ...event, eventId: marker, request }), 'utf8');
      break;
    }
    case 'too_large':
      value = Buffer.from(JSON.stringify({ ...event, eventId: marker, agent: { ...event.agent, userAgent: 'x'.repeat(70 * 1024) } }), 'utf8');
      break;
    case 'tombstone':
      value = null;
      break;
    case 'not_an_object':
      value = Buffer.from(JSON.stringify([marker, event]), 'utf8');
      break;
    case 'wrong_type':
      value = Buffer.from(JSON.stringify({ ...event, eventId: marker, ts: String(event.ts) }), 'utf8');
      break;
  }
  return { key: good.key, value, tag };
}

/**
 * Inserts one poison record after roughly every `every` good ones (kinds in rotation, seeded
 * positions), returning the mixed stream. Good records keep their relative order.
 */
export function interleavePoison(good: readonly SourceRecord[], every: number, seed: number): SourceRecord[] {
  const r = prng(seed);
  const out: SourceRecord[] = [];
  let n = 0;
  let next = Math.floor(r() * every);
  for (let i = 0; i < good.length; i++) {
    out.push(good[i]!);
    if (i === next) {
      out.push(poisonRecord(POISON_KINDS[n % POISON_KINDS.length]!, good[i]!, n));
      n++;
      next = i + 1 + Math.floor(every / 2 + r() * every);
    }
  }
  return out;
}

/** A connected idempotent producer on the test broker. */
export async function connectProducer(cluster: Cluster): Promise<Producer> {
  const producer = kafkaOf(cluster, uniqueName('tl-feed')).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return producer;
}

/**
 * Produces `records` to `topic` in order, spread evenly over about `durationMs` (slices every
 * `sliceMs`), each slice acknowledged by the broker before the next. Keys are hashed by the
 * default (Java-compatible murmur2) partitioner, so one agent stays on one partition.
 * `onProgress` gets the number of records acknowledged so far.
 */
export async function producePaced(
  cluster: Cluster,
  topic: string,
  records: readonly SourceRecord[],
  opts: { durationMs: number; sliceMs?: number; onProgress?: (sent: number) => void; producer?: Producer },
): Promise<void> {
  const producer = opts.producer ?? (await connectProducer(cluster));
  const sliceMs = opts.sliceMs ?? 200;
  const slices = Math.max(1, Math.ceil(opts.durationMs / sliceMs));
  const per = Math.ceil(records.length / slices);
  const start = Date.now();
  try {
    for (let s = 0, i = 0; i < records.length; s++, i += per) {
      const due = start + s * sliceMs;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const slice = records.slice(i, i + per);
      await producer.send({
        topic,
        acks: -1,
        messages: slice.map((m) => ({ key: m.key, value: m.value, ...(m.partition !== undefined ? { partition: m.partition } : {}) })),
      });
      opts.onProgress?.(i + slice.length);
    }
  } finally {
    if (!opts.producer) await producer.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Topics and offsets

/** Unique topic names, group, key prefix and client id for one test. */
export type Names = {
  requests: string;
  trust: string;
  circuit: string;
  dlq: string;
  escalations: string;
  control: string;
  audit: string;
  group: string;
  prefix: string;
  clientId: string;
};

export function uniqueNames(tag: string): Names {
  const base = uniqueName(`tl-${tag}`);
  return {
    requests: `${base}.requests`,
    trust: `${base}.trust`,
    circuit: `${base}.circuit`,
    dlq: `${base}.dlq`,
    escalations: `${base}.escalations`,
    control: `${base}.control`,
    audit: `${base}.audit`,
    group: `${base}.group`,
    // Redis key prefixes are limited to 32 characters.
    prefix: uniqueName(tag.slice(0, 6)).slice(0, 32),
    clientId: `${base}.client`,
  };
}

/** Creates the requests, trust (compacted), circuit and DLQ topics, like `ensureTopics` would. */
export async function createProcessorTopics(cluster: Cluster, names: Names, partitions: number): Promise<void> {
  await createTopicOn(cluster, names.requests, partitions);
  await createTopicOn(cluster, names.trust, partitions, { 'cleanup.policy': 'compact' });
  await createTopicOn(cluster, names.circuit, partitions, { 'cleanup.policy': 'compact,delete' });
  await createTopicOn(cluster, names.dlq, partitions);
  await createTopicOn(cluster, names.escalations, partitions, { 'cleanup.policy': 'compact,delete' });
  // One audit chain per requests partition (src/runners/kafka/run.ts).
  await createTopicOn(cluster, names.audit, partitions);
  await createTopicOn(cluster, names.control, 1);
}

/** Best effort: deletes the test's topics and consumer group, and its agent states in the shared Redis. */
export async function cleanupTest(cluster: Cluster, names: Names): Promise<void> {
  await withAdminOf(cluster, async (admin) => {
    await admin.deleteGroups([names.group, `${names.group}.control`]).catch(() => undefined);
    await admin
      .deleteTopics({ topics: [names.requests, names.trust, names.circuit, names.dlq, names.escalations, names.audit, names.control], timeout: 30_000 })
      .catch(() => undefined);
  }).catch(() => undefined);
  const store = new RedisStateStore({ url: cluster.redisUrl, keyPrefix: names.prefix, maxRetriesPerRequest: 2 });
  await store.clear().catch(() => undefined);
  await store.close();
}

/** partition → next offset to be written (high watermark). `admin`: a connected admin to reuse. */
export async function endOffsets(cluster: Cluster, topic: string, admin?: Admin): Promise<Map<number, number>> {
  const run = async (a: Admin): Promise<Map<number, number>> => new Map((await a.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  return admin ? run(admin) : withAdminOf(cluster, run);
}

/** partition → committed offset of `group` on `topic` (-1 = none). `admin`: a connected admin to reuse. */
export async function committedOffsets(cluster: Cluster, group: string, topic: string, admin?: Admin): Promise<Map<number, number>> {
  const run = async (a: Admin): Promise<Map<number, number>> => {
    const res = await a.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map((res[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  };
  return admin ? run(admin) : withAdminOf(cluster, run);
}

/** Sum over partitions of the committed offsets (a partition without a commit counts 0). */
export function totalOf(offsets: Map<number, number>): number {
  let n = 0;
  for (const v of offsets.values()) n += Math.max(0, v);
  return n;
}

/**
 * Records not yet committed by `group`: sum over partitions of high watermark − committed. The
 * commits are read first, so the figure is never negative (it may include records that arrived
 * while it was being measured).
 */
export async function groupLag(cluster: Cluster, group: string, topic: string, admin?: Admin): Promise<number> {
  const committed = await committedOffsets(cluster, group, topic, admin);
  const ends = await endOffsets(cluster, topic, admin);
  let lag = 0;
  for (const [p, end] of ends) lag += end - Math.max(0, committed.get(p) ?? -1);
  return lag;
}

/** A connected admin client for tight polling loops; close it with `disconnect()`. */
export async function connectAdmin(cluster: Cluster): Promise<Admin> {
  const admin = kafkaOf(cluster, uniqueName('tl-watch')).admin();
  await admin.connect();
  return admin;
}

/** Waits until `group` has committed every offset of `topic` (each partition's committed = high watermark). */
export async function waitForAllCommitted(cluster: Cluster, group: string, topic: string, timeoutMs: number): Promise<void> {
  let last = -1;
  await waitFor(
    async () => {
      last = await groupLag(cluster, group, topic).catch(() => -1);
      if (last === -1) return false;
      if (last > 0) await sleep(250);
      return last === 0;
    },
    `group ${group} to commit every offset of ${topic} (last lag ${last})`,
    timeoutMs,
  );
}

/** A record read back from a topic, with its position. */
export type TopicRecord = { partition: number; offset: string; key: Buffer | null; value: Buffer | null; headers: IHeaders };

/**
 * Every record of `topic` from the beginning up to its current high watermarks, sorted by
 * (partition, offset). Uses a throw-away consumer group that never commits.
 */
export async function readTopic(cluster: Cluster, topic: string, timeoutMs = 60_000): Promise<TopicRecord[]> {
  const offsets = await withAdminOf(cluster, (admin) => admin.fetchTopicOffsets(topic));
  const ends = new Map(offsets.map((p) => [p.partition, Number(p.high)]));
  // Partitions to read to their end; one whose records were all removed (retention) has low = high.
  const pending = new Set(offsets.filter((p) => Number(p.high) > Number(p.low)).map((p) => p.partition));
  const out: TopicRecord[] = [];
  if (pending.size === 0) return out;
  const consumer = kafkaOf(cluster, uniqueName('tl-reader')).consumer({
    groupId: uniqueName('tl-reader'),
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
  });
  await consumer.connect();
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (Number(m.offset) >= ends.get(batch.partition)!) continue;
          out.push({ partition: batch.partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers ?? {} });
          if (Number(m.offset) >= ends.get(batch.partition)! - 1) pending.delete(batch.partition);
        }
        if (pending.size === 0) finish();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`readTopic(${topic}): partitions ${[...pending].join(',')} not read to their end within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
}

// ---------------------------------------------------------------------------------------------
// Group membership

/** Encodes a Kafka protocol string (int16 length + UTF-8). */
function kString(s: string | null): Buffer {
  if (s === null) return Buffer.from([0xff, 0xff]);
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** One request/response exchange of the Kafka wire protocol (non-flexible versions, request header v1). */
function kafkaRequest(host: string, port: number, apiKey: number, apiVersion: number, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const head = Buffer.alloc(8);
    head.writeInt16BE(apiKey, 0);
    head.writeInt16BE(apiVersion, 2);
    head.writeInt32BE(1, 4); // correlation id
    const payload = Buffer.concat([head, kString('trustline-test-admin'), body]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    let got = Buffer.alloc(0);
    socket.setTimeout(10_000, () => socket.destroy(new Error('kafka request timed out')));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        socket.end();
        resolve(got.subarray(8, 4 + got.readInt32BE(0))); // skip size and correlation id
      }
    });
    socket.on('connect', () => socket.write(Buffer.concat([size, payload])));
  });
}

function readKString(buf: Buffer, at: number): [string | null, number] {
  const len = buf.readInt16BE(at);
  if (len < 0) return [null, at + 2];
  return [buf.toString('utf8', at + 2, at + 2 + len), at + 2 + len];
}

/**
 * Removes members from a consumer group right away (a LeaveGroup request sent on their behalf
 * to the group coordinator), as the coordinator itself does when their session times out.
 *
 * Why: `trustline run` uses a 30 s session timeout (src/runners/kafka/run.ts). After a SIGKILL the
 * dead member stays in the group until then, and a restarted instance's join waits for it, so
 * ten crash/restart cycles would spend minutes waiting for session expiry. Evicting the dead
 * member is exactly the coordinator's expiry, only earlier; nothing about delivery changes.
 * Returns the member ids the coordinator removed.
 */
export async function evictGroupMembers(cluster: Cluster, group: string, memberIds?: readonly string[]): Promise<string[]> {
  const ids = memberIds ?? (await withAdminOf(cluster, async (admin) => (await admin.describeGroups([group])).groups[0]?.members.map((m) => m.memberId) ?? []));
  if (!ids.length) return [];
  const [bootHost, bootPort] = cluster.brokers[0]!.split(':') as [string, string];
  // Retriable group errors: COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
  const transient = new Set([14, 15, 16]);
  let lg: Buffer | null = null;
  for (let attempt = 0; lg === null; attempt++) {
    // FindCoordinator v1: key, key_type (0 = group) → throttle, error, message, node, host, port.
    const fc = await kafkaRequest(bootHost, Number(bootPort), 10, 1, Buffer.concat([kString(group), Buffer.from([0])]));
    let at = 4;
    const fcError = fc.readInt16BE(at);
    at += 2;
    [, at] = readKString(fc, at);
    at += 4; // node id
    const [host, afterHost] = readKString(fc, at);
    const port = fc.readInt32BE(afterHost);
    let error = fcError;
    if (fcError === 0 && host !== null) {
      // LeaveGroup v3: group, [member_id, group_instance_id] → throttle, error, [member_id, instance, error].
      const count = Buffer.alloc(4);
      count.writeInt32BE(ids.length);
      const members = ids.map((id) => Buffer.concat([kString(id), kString(null)]));
      const res = await kafkaRequest(host, port, 13, 3, Buffer.concat([kString(group), count, ...members]));
      error = res.readInt16BE(4);
      if (error === 0) lg = res;
    }
    if (lg === null && (!transient.has(error) || attempt >= 20)) throw new Error(`evicting members of ${group} failed with Kafka error ${error}`);
    if (lg === null) await sleep(250);
  }
  const removed: string[] = [];
  let p = 6;
  const n = lg.readInt32BE(p);
  p += 4;
  for (let i = 0; i < n; i++) {
    const [id, a1] = readKString(lg, p);
    const [, a2] = readKString(lg, a1);
    const err = lg.readInt16BE(a2);
    p = a2 + 2;
    if (err === 0 && id !== null) removed.push(id);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// The processor

/** Every high or critical action is escalated, in any band: delivery scenarios and the chaos run exercise the escalation topic. */
export const SCENARIO_ESCALATION = { rules: [{ sensitivities: ['high', 'critical'], bands: ['trusted', 'watch', 'restrict', 'block'] }], ttlMs: 120_000 };

/** Environment for `trustline run` (and, through `processorConfig`, the in-process twin). */
export function processorEnv(cluster: Cluster, names: Names, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: cluster.brokers.join(','),
    REDIS_URL: cluster.redisUrl,
    TRUSTLINE_CLIENT_ID: names.clientId,
    TRUSTLINE_GROUP_ID: names.group,
    TRUSTLINE_TOPIC_REQUESTS: names.requests,
    TRUSTLINE_TOPIC_TRUST: names.trust,
    TRUSTLINE_TOPIC_CIRCUIT: names.circuit,
    TRUSTLINE_TOPIC_DLQ: names.dlq,
    TRUSTLINE_TOPIC_ESCALATIONS: names.escalations,
    TRUSTLINE_TOPIC_CONTROL: names.control,
    TRUSTLINE_TOPIC_AUDIT: names.audit,
    TRUSTLINE_REDIS_PREFIX: names.prefix,
    TRUSTLINE_PARTITIONS: '3',
    TRUSTLINE_MAX_BATCH_EVENTS: '200',
    TRUSTLINE_HTTP_PORT: '0',
    TRUSTLINE_MODEL_CARD: MODEL_CARD,
    TRUSTLINE_LOG_LEVEL: 'info',
    TRUSTLINE_SHUTDOWN_DEADLINE_MS: '20000',
    // `trustline run` refuses to start without signing keys (docs/operations.md, "Signing keys").
    TRUSTLINE_SIGNING_KEYS: 'harness:trustline-test-harness-signing-secret',
    ...extra,
  };
}

/** The configuration `trustline run` parses from `env` (nothing else of this process's environment). */
export function processorConfig(env: Record<string, string>): Config {
  return loadConfig({ env });
}

/** One parsed log line of the processor (pino JSON). */
export type LogLine = { level: number; msg: string; [k: string]: unknown };

/** `trustline run` as a child process (`node bin/trustline.js run`), logs captured. */
export class ChildProcessor {
  readonly proc: ChildProcess;
  readonly logs: LogLine[] = [];
  /** Raw output that was not a JSON log line (stack traces, tsx errors). */
  readonly rawOutput: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Member id of the consumer group member, once joined. */
  memberId: string | null = null;
  httpPort: number | null = null;
  private readonly waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(
    readonly env: Record<string, string>,
    readonly label = 'child',
  ) {
    // Only the variables given: an unrelated TRUSTLINE_* variable in the test's environment would be rejected.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRUSTLINE_') && k !== 'KAFKA_BROKERS' && k !== 'REDIS_URL'));
    this.proc = spawn(process.execPath, [BIN, 'run'], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (stream: NodeJS.ReadableStream): void => {
      let carry = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (carry + chunk).split('\n');
        carry = lines.pop() ?? '';
        for (const line of lines) this.onLine(line);
      });
      stream.on('end', () => {
        if (carry) this.onLine(carry);
      });
    };
    onData(this.proc.stdout!);
    onData(this.proc.stderr!);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve({ code, signal });
      });
    });
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let parsed: LogLine | null = null;
    try {
      const j = JSON.parse(line) as unknown;
      if (j && typeof j === 'object' && 'msg' in j) parsed = j as LogLine;
    } catch {
      // not a log line
    }
    if (!parsed) {
      this.rawOutput.push(line);
      return;
    }
    this.logs.push(parsed);
    if (parsed.msg === 'joined consumer group' && typeof parsed.memberId === 'string') this.memberId = parsed.memberId;
    if (parsed.msg === 'processor running' && typeof parsed.httpPort === 'number') this.httpPort = parsed.httpPort;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.pred(parsed)) {
        this.waiters[i]!.resolve(parsed);
        this.waiters.splice(i, 1);
      }
    }
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** Resolves with the first log line (already seen or coming) matching `pred`; rejects on exit or timeout. */
  waitForLog(pred: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no "${what}" within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
      const waiter = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      this.waiters.push(waiter);
      void this.exited.then((e) => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`${this.label} exited (${JSON.stringify(e)}) before "${what}"\n${this.tail()}`));
        }
      });
    });
  }

  /** Waits until the child has joined the consumer group (and so owns partitions, if any are left for it). */
  waitJoined(timeoutMs = 60_000): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === 'joined consumer group', 'joined consumer group', timeoutMs);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  /** Prometheus text of the child's /metrics, or null if it does not answer. */
  async metricsText(): Promise<string | null> {
    if (this.httpPort === null || !this.alive) return null;
    try {
      const res = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? await res.text() : null;
    } catch {
      return null;
    }
  }

  /** Log lines at level warn (40) or above. */
  problems(): LogLine[] {
    return this.logs.filter((l) => l.level >= 40);
  }

  /** The last lines of output, for failure messages. */
  tail(n = 30): string {
    const lines = [...this.logs.map((l) => JSON.stringify(l)), ...this.rawOutput];
    return lines.slice(-n).join('\n');
  }
}

/** Sum of a Prometheus counter over all its label sets, from exposition text. */
export function metricValue(text: string | null, name: string, labels: Record<string, string> = {}): number {
  if (!text) return 0;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** A pino logger whose lines are kept in memory (for in-process processors). */
export function captureLogger(level: 'info' | 'warn' | 'debug' = 'info'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  let carry = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const parts = (carry + chunk.toString('utf8')).split('\n');
      carry = parts.pop() ?? '';
      for (const p of parts) {
        try {
          lines.push(JSON.parse(p) as LogLine);
        } catch {
          // ignore
        }
      }
      cb();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

// ---------------------------------------------------------------------------------------------
// Reference run

/** Everything an uninterrupted run produced. */
export type Reference = {
  store: MemoryStateStore;
  trust: TrustUpdate[];
  circuit: CircuitSignal[];
  escalations: Escalation[];
  audit: AuditRecord[];
  dlq: DeadLetter[];
  records: number;
  applied: number;
  skipped: number;
};

class CapturingSink implements OutputSink {
  readonly trust: TrustUpdate[] = [];
  readonly circuit: CircuitSignal[] = [];
  readonly escalations: Escalation[] = [];
  readonly audit: AuditRecord[] = [];
  readonly dlq: DeadLetter[] = [];
  async write(o: BatchOutputs): Promise<void> {
    this.trust.push(...o.trust);
    this.circuit.push(...o.circuit);
    this.escalations.push(...(o.escalations ?? []));
    this.audit.push(...(o.audit ?? []));
    this.dlq.push(...o.dlq);
  }
  async close(): Promise<void> {}
}

/**
 * The uninterrupted run: `records` (as read back from `topic`) through one `BatchProcessor`,
 * partition by partition in offset order, batches of `batchSize`, with the same scorer, signer,
 * policy, mode and TTL as `config`, an in-memory store and a capturing sink.
 */
export async function runReference(config: Config, topic: string, records: readonly TopicRecord[], batchSize = 500): Promise<Reference> {
  // Like `trustline run`: the audit chain of requests partition p is written to audit partition p.
  const scorer = await loadAnomalyScorer(config.model.card, config.model.intraOpThreads);
  const store = new MemoryStateStore();
  const sink = new CapturingSink();
  const processor = new BatchProcessor({
    store,
    scorer,
    sink,
    ...configuredDeps(config),
    audit: { topic: config.kafka.topics.audit },
  });
  let applied = 0;
  let skipped = 0;
  try {
    const partitions = [...new Set(records.map((r) => r.partition))].sort((a, b) => a - b);
    for (const p of partitions) {
      const inputs: InputRecord[] = records
        .filter((r) => r.partition === p)
        .sort((a, b) => Number(a.offset) - Number(b.offset))
        .map((r) => ({ value: r.value, key: r.key, position: Number(r.offset), source: { topic, partition: p, offset: r.offset } }));
      for (let i = 0; i < inputs.length; i += batchSize) {
        const res = await processor.process(inputs.slice(i, i + batchSize));
        applied += res.applied;
        skipped += res.skipped;
      }
    }
  } finally {
    await scorer.close();
  }
  return {
    store,
    trust: sink.trust,
    circuit: sink.circuit,
    escalations: sink.escalations,
    audit: sink.audit,
    dlq: sink.dlq,
    records: records.length,
    applied,
    skipped,
  };
}

// ---------------------------------------------------------------------------------------------
// Checks

function agentKeyOf(id: string): AgentKey {
  const i = id.indexOf('\u0000');
  return { tenant: id.slice(0, i), agentId: id.slice(i + 1) };
}

/** sha256 over the sorted (key, state bytes) pairs; a missing state counts as distinct from any bytes. */
export function stateDigest(entries: readonly (readonly [string, Uint8Array | null])[]): string {
  const h = createHash('sha256');
  for (const [k, v] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const kb = Buffer.from(k, 'utf8');
    const len = Buffer.alloc(8);
    len.writeUInt32BE(kb.length, 0);
    len.writeInt32BE(v === null ? -1 : v.byteLength, 4);
    h.update(len).update(kb);
    if (v) h.update(v);
  }
  return h.digest('hex');
}

export type StateComparison = {
  agents: number;
  referenceDigest: string;
  storedDigest: string;
  /** Agents whose stored bytes differ from the reference (or are missing), `tenant/agentId`. */
  differing: string[];
  /** Agent keys under the prefix in Redis that the reference does not have. */
  extraKeys: number;
};

/** Loads every reference agent's state from Redis (`RedisStateStore.loadMany`) and compares bytes. */
export async function compareStoredStates(ref: Reference, url: string, keyPrefix: string): Promise<StateComparison> {
  const entries = ref.store.entries();
  const store = new RedisStateStore({ url, keyPrefix });
  try {
    const stored: [string, Uint8Array | null][] = [];
    for (let i = 0; i < entries.length; i += 1000) {
      const chunk = entries.slice(i, i + 1000);
      const got = await store.loadMany(chunk.map(([id]) => agentKeyOf(id)));
      chunk.forEach(([id], j) => stored.push([id, got[j] ?? null]));
    }
    const differing: string[] = [];
    for (let i = 0; i < entries.length; i++) {
      const [id, want] = entries[i]!;
      const got = stored[i]![1];
      if (!got || Buffer.compare(Buffer.from(want), Buffer.from(got)) !== 0) differing.push(id.replace('\u0000', '/'));
    }
    let keys = 0;
    let cursor = '0';
    do {
      const [next, found] = await store.redis.scan(cursor, 'MATCH', agentKeyPattern(keyPrefix), 'COUNT', 1000);
      cursor = next;
      // States live in bucket hashes (src/state/keys.ts): count their fields; any other key counts once.
      for (const k of found) keys += (await store.redis.type(k)) === 'hash' ? await store.redis.hlen(k) : 1;
    } while (cursor !== '0');
    const present = stored.filter(([, v]) => v !== null).length;
    return { agents: entries.length, referenceDigest: stateDigest(entries), storedDigest: stateDigest(stored), differing, extraKeys: keys - present };
  } finally {
    await store.close();
  }
}

export type OutputComparison = {
  topic: string;
  expected: number;
  /** Records read from the topic (duplicates included). */
  read: number;
  /** Records read more than once (same (tenant, agentId, seq), same bytes). */
  duplicates: number;
  /** Reference records absent from the topic, `tenant/agentId#seq`. */
  missing: string[];
  /** Topic records whose bytes differ from the reference record of the same (tenant, agentId, seq). */
  different: string[];
  /** Topic records with no reference record of that (tenant, agentId, seq). */
  unexpected: string[];
  /** Topic records whose Kafka key is not the agent's output key. */
  wrongKey: string[];
};

/**
 * Compares the trust or circuit records in a topic with the reference: every reference record
 * present with byte-identical JSON (as `KafkaSink` writes it), duplicates allowed, nothing else.
 */
export function compareOutputs(
  topic: string,
  reference: readonly (TrustUpdate | CircuitSignal | Escalation)[],
  read: readonly TopicRecord[],
): OutputComparison {
  // An escalation is decided by a later record of the same seq: its identity includes the status.
  const id = (r: { tenant: string; agentId: string; seq: number; status?: unknown }): string =>
    `${r.tenant}/${r.agentId}#${r.seq}${typeof r.status === 'string' ? `:${r.status}` : ''}`;
  const want = new Map<string, string>();
  for (const r of reference) {
    const k = id(r);
    if (want.has(k)) throw new Error(`reference has two ${topic} records for ${k}`);
    want.set(k, JSON.stringify(r));
  }
  const seen = new Map<string, number>();
  const res: OutputComparison = { topic, expected: want.size, read: read.length, duplicates: 0, missing: [], different: [], unexpected: [], wrongKey: [] };
  for (const m of read) {
    const text = m.value?.toString('utf8') ?? '';
    let rec: { tenant: string; agentId: string; seq: number; status?: unknown };
    try {
      rec = JSON.parse(text) as typeof rec;
    } catch {
      res.unexpected.push(`unparseable @${m.partition}:${m.offset}`);
      continue;
    }
    const k = id(rec);
    const expected = want.get(k);
    if (expected === undefined) res.unexpected.push(k);
    else if (expected !== text) res.different.push(`${k} @${m.partition}:${m.offset}`);
    if (m.key?.toString('utf8') !== outputKey(rec.tenant, rec.agentId)) res.wrongKey.push(k);
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    if (n > 1) res.duplicates++;
  }
  for (const k of want.keys()) if (!seen.has(k)) res.missing.push(k);
  return res;
}

export type DlqComparison = {
  expected: number;
  read: number;
  /** Distinct source positions found in the DLQ topic. */
  distinct: number;
  missing: string[];
  unexpected: string[];
  /** DLQ records whose code, bytes or headers differ from the reference dead letter of that source position. */
  different: string[];
  /** First DLQ message per source position: parsed, and its raw value, key and headers. */
  records: Map<string, { dlq: DlqRecord; value: Buffer | null; key: Buffer | null; headers: IHeaders }>;
};

/** Compares the DLQ topic with the reference dead letters, by source position (duplicates allowed). */
export function compareDlq(reference: readonly DeadLetter[], read: readonly TopicRecord[]): DlqComparison {
  const pos = (s: { topic: string; partition: number; offset: string }): string => `${s.topic}/${s.partition}@${s.offset}`;
  const want = new Map(reference.map((d) => [pos(d.source), d]));
  const res: DlqComparison = { expected: want.size, read: read.length, distinct: 0, missing: [], unexpected: [], different: [], records: new Map() };
  for (const m of read) {
    let dlq: DlqRecord;
    try {
      dlq = fromDlqKafkaMessage({ key: m.key, value: m.value, headers: m.headers });
    } catch (err) {
      res.different.push(`unparseable DLQ record @${m.partition}:${m.offset}: ${(err as Error).message}`);
      continue;
    }
    const k = pos(dlq.source);
    if (!res.records.has(k)) res.records.set(k, { dlq, value: m.value, key: m.key, headers: m.headers });
    const d = want.get(k);
    if (!d) {
      res.unexpected.push(k);
      continue;
    }
    const sameValue = d.value === null ? m.value === null : m.value !== null && Buffer.compare(d.value, m.value) === 0;
    const sameKey = d.key === null ? m.key === null : m.key !== null && Buffer.compare(d.key, m.key) === 0;
    if (!sameValue || !sameKey || dlq.code !== d.code || dlq.path !== d.path)
      res.different.push(
        `${k}: code ${dlq.code} (want ${d.code}), path ${dlq.path} (want ${d.path}), value ${sameValue ? 'same' : 'DIFFERENT'}, key ${sameKey ? 'same' : 'DIFFERENT'}`,
      );
  }
  res.distinct = res.records.size;
  for (const k of want.keys()) if (!res.records.has(k)) res.missing.push(k);
  return res;
}

export type AuditComparison = {
  /** The project's verifier (src/audit) over the topic, partition by partition in offset order. */
  verdict: string;
  ok: boolean;
  /** Exact re-emissions the verifier skipped (a chunk re-processed after a crash). */
  duplicates: number;
  expected: number;
  /** Distinct links read. */
  links: number;
  /** Reference links absent from the topic, or present with other bytes, `partition:index`. */
  missing: string[];
  different: string[];
  /** Links in the topic beyond the reference chain. */
  unexpected: string[];
};

/**
 * The audit topic against the reference chains: the project's chain verifier must accept the
 * topic as read (re-emissions of a link, byte for byte, are allowed), and the distinct links must
 * be exactly the reference's, byte for byte.
 */
export function compareAudit(reference: readonly AuditRecord[], read: readonly TopicRecord[]): AuditComparison {
  const verifier = createAuditChainVerifier();
  const links = new Map<string, string>();
  let parseError = '';
  for (const m of read) {
    const text = m.value?.toString('utf8') ?? '';
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      parseError ||= `unparseable audit record @${m.partition}:${m.offset}`;
      continue;
    }
    if (verifier.add(rec, { partition: m.partition })) break;
    const r = rec as AuditRecord;
    links.set(`${r.partition}:${r.index}`, text);
  }
  const v = verifier.finish();
  const want = new Map(reference.map((r) => [`${r.partition}:${r.index}`, JSON.stringify(r)]));
  const res: AuditComparison = {
    verdict:
      parseError ||
      (v.ok ? `ok: ${v.count} links${v.duplicates ? `, ${v.duplicates} re-emitted` : ''}` : `broken at record ${v.index}: ${v.reason} (${v.detail})`),
    ok: v.ok && !parseError,
    duplicates: v.ok ? (v.duplicates ?? 0) : 0,
    expected: want.size,
    links: links.size,
    missing: [],
    different: [],
    unexpected: [],
  };
  for (const [k, text] of want) {
    const got = links.get(k);
    if (got === undefined) res.missing.push(k);
    else if (got !== text) res.different.push(k);
  }
  for (const k of links.keys()) if (!want.has(k)) res.unexpected.push(k);
  return res;
}

/** The full set of delivery checks (docs/reliability.md), computed in one go. */
export type DeliveryReport = {
  state: StateComparison;
  trust: OutputComparison;
  circuit: OutputComparison;
  escalations: OutputComparison;
  audit: AuditComparison;
  dlq: DlqComparison;
  reference: Reference;
  requests: TopicRecord[];
};

/** Reads back the requests topic, runs the reference and compares Redis state and every output topic. */
export async function checkDelivery(cluster: Cluster, names: Names, config: Config): Promise<DeliveryReport> {
  const requests = await readTopic(cluster, names.requests);
  const reference = await runReference(config, names.requests, requests);
  const [trustRead, circuitRead, escalationsRead, auditRead, dlqRead] = await Promise.all([
    readTopic(cluster, names.trust),
    readTopic(cluster, names.circuit),
    readTopic(cluster, names.escalations),
    readTopic(cluster, names.audit),
    readTopic(cluster, names.dlq),
  ]);
  const state = await compareStoredStates(reference, cluster.redisUrl, names.prefix);
  return {
    state,
    trust: compareOutputs(names.trust, reference.trust, trustRead),
    circuit: compareOutputs(names.circuit, reference.circuit, circuitRead),
    escalations: compareOutputs(names.escalations, reference.escalations, escalationsRead),
    audit: compareAudit(reference.audit, auditRead),
    dlq: compareDlq(reference.dlq, dlqRead),
    reference,
    requests,
  };
}

const few = (xs: readonly string[]): string => (xs.length ? `${xs.length} [${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', …' : ''}]` : '0');

/** A compact, readable summary of a report for failure messages and logs. */
export function describeReport(r: DeliveryReport): string {
  const out = (o: OutputComparison): string =>
    `${o.topic.split('.').pop()}: expected ${o.expected}, read ${o.read} (dup ${o.duplicates}), missing ${few(o.missing)}, different ${few(o.different)}, unexpected ${few(o.unexpected)}, wrong key ${few(o.wrongKey)}`;
  return [
    `requests: ${r.requests.length} records, reference applied ${r.reference.applied}, dead ${r.reference.dlq.length}`,
    `state: ${r.state.agents} agents, digest ref ${r.state.referenceDigest.slice(0, 16)} vs stored ${r.state.storedDigest.slice(0, 16)}, differing ${few(r.state.differing)}, extra keys ${r.state.extraKeys}`,
    out(r.trust),
    out(r.circuit),
    out(r.escalations),
    `audit: verifier ${r.audit.verdict}; expected ${r.audit.expected} links, read ${r.audit.links}, missing ${few(r.audit.missing)}, different ${few(r.audit.different)}, unexpected ${few(r.audit.unexpected)}`,
    `dlq: expected ${r.dlq.expected}, read ${r.dlq.read}, distinct ${r.dlq.distinct}, missing ${few(r.dlq.missing)}, unexpected ${few(r.dlq.unexpected)}, different ${few(r.dlq.different)}`,
  ].join('\n');
}

/**
 * Every failed delivery check of a report, one line each; empty when the run equals the
 * uninterrupted reference: byte-identical Redis states (exactly-once apply), every trust, circuit
 * and escalation record byte-identical in its topic (at-least-once: duplicates allowed, nothing
 * missing, nothing else), the audit chain verified and equal to the reference chain, and every
 * dead letter present, once per source record, with its original bytes and a reason.
 */
export function deliveryProblems(r: DeliveryReport): string[] {
  const p: string[] = [];
  if (r.state.storedDigest !== r.state.referenceDigest)
    p.push(`state digest ${r.state.storedDigest.slice(0, 16)} ≠ reference ${r.state.referenceDigest.slice(0, 16)}`);
  if (r.state.differing.length) p.push(`state: ${few(r.state.differing)} agents differ`);
  if (r.state.extraKeys) p.push(`state: ${r.state.extraKeys} agent keys not in the reference`);
  for (const o of [r.trust, r.circuit, r.escalations]) {
    const t = o.topic.split('.').pop();
    if (o.missing.length) p.push(`${t}: missing ${few(o.missing)}`);
    if (o.different.length) p.push(`${t}: different ${few(o.different)}`);
    if (o.unexpected.length) p.push(`${t}: unexpected ${few(o.unexpected)}`);
    if (o.wrongKey.length) p.push(`${t}: wrong key ${few(o.wrongKey)}`);
  }
  if (!r.audit.ok) p.push(`audit: ${r.audit.verdict}`);
  if (r.audit.missing.length) p.push(`audit: missing ${few(r.audit.missing)}`);
  if (r.audit.different.length) p.push(`audit: different ${few(r.audit.different)}`);
  if (r.audit.unexpected.length) p.push(`audit: unexpected ${few(r.audit.unexpected)}`);
  if (r.dlq.missing.length) p.push(`dlq: missing ${few(r.dlq.missing)}`);
  if (r.dlq.unexpected.length) p.push(`dlq: unexpected ${few(r.dlq.unexpected)}`);
  if (r.dlq.different.length) p.push(`dlq: different ${few(r.dlq.different)}`);
  if (r.dlq.distinct !== r.reference.dlq.length) p.push(`dlq: ${r.dlq.distinct} distinct source records, reference ${r.reference.dlq.length}`);
  const noReason = [...r.dlq.records].filter(([, d]) => !d.dlq.code || !d.dlq.message).map(([k]) => k);
  if (noReason.length) p.push(`dlq: without a reason ${few(noReason)}`);
  // The reference must really cover the input: every record either applied or dead-lettered.
  if (r.reference.applied + r.reference.dlq.length !== r.requests.length)
    p.push(`reference: ${r.reference.applied} applied + ${r.reference.dlq.length} dead ≠ ${r.requests.length} records`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// A private Redis (for outage tests: the shared one must never be stopped)

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = '';
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        socket.end();
        resolve(got.startsWith('+PONG'));
      }
    });
  });
}

/** A server process of a test's own (private Redis or Kafka) with its data directory. */
abstract class PrivateServer {
  proc: ChildProcess | null = null;
  constructor(readonly dir: string) {}

  /** Kills the process (SIGKILL: a crash) and waits until it is gone; its data stays for a restart. */
  async crash(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await gone;
  }

  /** Stops the server for good and deletes its directory. */
  async destroy(): Promise<void> {
    await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A `redis-server` of this test's own on a free loopback port (36400 + random), persisting every
 * write to an append-only file (`appendfsync always`) in a temporary directory, so that a crash
 * (SIGKILL) and a restart on the same port and directory come back with every acknowledged write.
 */
export class PrivateRedis extends PrivateServer {
  private constructor(
    readonly port: number,
    dir: string,
  ) {
    super(dir);
  }

  static async start(): Promise<PrivateRedis> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'trustline-redis-'));
    for (let i = 0; i < 50; i++) {
      const port = 36400 + Math.floor(Math.random() * 1000);
      if (!(await portFree(port))) continue;
      const r = new PrivateRedis(port, dir);
      await r.launch();
      return r;
    }
    throw new Error('no free port for a private redis-server');
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the server (again) on the same port and directory and waits until it answers PING. */
  async launch(): Promise<void> {
    const args = [
      '--bind',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--daemonize',
      'no',
      '--logfile',
      path.join(this.dir, 'redis.log'),
    ];
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    this.proc = proc;
    await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`redis-server on ${this.port} exited during start-up (see ${this.dir}/redis.log)`);
        return redisPing(this.port);
      },
      `redis-server on port ${this.port}`,
      15_000,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// A private Kafka broker (for broker-restart tests: the shared one must never be stopped)

/** Where scripts/services.sh caches the Kafka jars (override with KAFKA_LIBS). */
/**
 * The Kafka jars a private broker is launched from: KAFKA_LIBS, or this checkout's cache, fetched
 * by `scripts/services.sh kafka-libs` when missing (shared services reused from elsewhere never
 * filled it).
 */
export function kafkaLibsDir(): string {
  if (process.env.KAFKA_LIBS) return process.env.KAFKA_LIBS;
  const dir = path.join(ROOT, '.cache', 'kafka', 'libs');
  if (!existsSync(dir)) execFileSync('bash', [path.join(ROOT, 'scripts', 'services.sh'), 'kafka-libs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}

/**
 * A single-node KRaft broker of this test's own, launched from the jars scripts/services.sh
 * caches (same settings as the shared one: one replica, few threads), on two free loopback ports
 * (39200 + random) with its data in a temporary directory. `crash()` SIGKILLs the JVM and
 * `launch()` starts it again on the same ports and data: what it acknowledged survives, as on a
 * real broker restart (the OS keeps the written pages).
 */
export class PrivateKafka extends PrivateServer {
  private constructor(
    readonly port: number,
    readonly controllerPort: number,
    dir: string,
  ) {
    super(dir);
  }

  static async start(): Promise<PrivateKafka> {
    const libs = kafkaLibsDir();
    if (!existsSync(libs)) throw new Error(`no Kafka jars in ${libs}: run scripts/services.sh up kafka once (or set KAFKA_LIBS)`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'trustline-kafka-'));
    for (let i = 0; i < 50; i++) {
      const port = 39200 + 2 * Math.floor(Math.random() * 400);
      if (!(await portFree(port)) || !(await portFree(port + 1))) continue;
      const k = new PrivateKafka(port, port + 1, dir);
      await k.format();
      await k.launch();
      return k;
    }
    throw new Error('no free ports for a private Kafka broker');
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  private java(args: string[], extra: string[] = []): ChildProcess {
    const props = [
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${path.join(ROOT, 'scripts', 'kafka', 'log4j.properties')}`,
      `-Dkafka.logs.dir=${this.dir}`,
    ];
    return spawn('java', [...extra, ...props, '-cp', `${kafkaLibsDir()}/*`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  private async format(): Promise<void> {
    const props = path.join(this.dir, 'server.properties');
    writeFileSync(
      props,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${this.port}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        `log.dirs=${path.join(this.dir, 'data')}`,
        'num.partitions=1',
        'default.replication.factor=1',
        'min.insync.replicas=1',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=3',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'transaction.state.log.num.partitions=3',
        'auto.create.topics.enable=false',
        'group.initial.rebalance.delay.ms=0',
        'num.network.threads=2',
        'num.io.threads=2',
        'background.threads=2',
        'num.recovery.threads.per.data.dir=1',
        'log.cleaner.threads=1',
        'log.cleaner.dedupe.buffer.size=16777216',
        '',
      ].join('\n'),
    );
    const clusterId = randomBytes(16).toString('base64url');
    const tool = this.java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--ignore-formatted'], ['-Xmx256m', '-XX:TieredStopAtLevel=1']);
    let err = '';
    tool.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => tool.on('exit', r));
    if (code !== 0) throw new Error(`formatting the private Kafka storage failed (${code}): ${err.slice(-500)}`);
  }

  /** Starts the broker (again) on the same ports and data and waits until it serves metadata. */
  async launch(timeoutMs = 120_000): Promise<void> {
    const proc = this.java(
      ['kafka.Kafka', path.join(this.dir, 'server.properties')],
      ['-Xms128m', '-Xmx384m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExitOnOutOfMemoryError'],
    );
    proc.stderr!.resume();
    this.proc = proc;
    const cluster: Cluster = { brokers: this.brokers, redisUrl: '' };
    await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`private Kafka on ${this.port} exited during start-up (see ${this.dir}/server.log)`);
        const admin = kafkaOf(cluster, uniqueName('tl-probe'), { retry: { retries: 0 }, connectionTimeout: 1000 }).admin();
        try {
          await admin.connect();
          await admin.describeCluster();
          return true;
        } catch {
          await sleep(500);
          return false;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      `private Kafka broker on port ${this.port}`,
      timeoutMs,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// In-process processor

/** `startKafkaRunner` in this process, with captured logs and a record of every acknowledged chunk. */
export type InProcess = {
  handle: KafkaRunnerHandle;
  lines: LogLine[];
  /** One entry per chunk whose outputs were produced and states saved: when, and how many records. */
  chunks: { at: number; applied: number; skipped: number; dead: number; staleSaves: number }[];
  /** True once `handle.done` resolved (the consumer stopped for good). */
  readonly finished: boolean;
};

export async function startInProcess(config: Config): Promise<InProcess> {
  const { log, lines } = captureLogger('info');
  const chunks: InProcess['chunks'] = [];
  const handle = await startKafkaRunner(config, log, {
    onBatch: (r, ackAt) => chunks.push({ at: ackAt, applied: r.applied, skipped: r.skipped, dead: r.dead, staleSaves: r.staleSaves }),
  });
  let finished = false;
  void handle.done.then(() => (finished = true));
  return {
    handle,
    lines,
    chunks,
    get finished() {
      return finished;
    },
  };
}

/** Current value of a counter of an in-process processor (sum over labels). */
export async function counterValue(handle: KafkaRunnerHandle, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await handle.metrics.registry.metrics(), name, labels);
}
