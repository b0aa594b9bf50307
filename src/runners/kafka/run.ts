/**
 * `trustline run` — the production processor: a kafkajs consumer group on the requests topic,
 * Redis state, outputs to the trust, circuit and dead-letter topics.
 *
 * Per partition batch, in chunks of at most `kafka.maxBatchEvents`: process (outputs produced →
 * state saved by compare-and-set) → resolve the chunk's last offset, which kafkajs commits. A crash anywhere before
 * the commit re-delivers the chunk; already-applied events are skipped by the watermark and
 * outputs repeat byte for byte. Retriable failures (Redis or Kafka down) are retried with
 * backoff while heartbeats keep the group membership; the process never exits on bad input.
 */
import { Partitioners, type Consumer, type EachBatchPayload, type Producer } from 'kafkajs';
import { createKafkaClient } from '../../shared/kafka.ts';
import type { Config } from '../../config/config.ts';
import { FEATURE_NAMES } from '../../core/features.ts';
import { BatchProcessor, type BatchResult, type InputRecord } from '../../pipeline/batch-processor.ts';
import { configuredDeps } from '../../pipeline/configure.ts';
import { startControlRelay, type ControlRelay } from './control-relay.ts';
import { createMetrics, recordBatch, retainLag, setBuildInfo, setLag, type Metrics } from '../../ops/metrics.ts';
import { startHttp } from '../../ops/http.ts';
import { agentFromRedis } from '../../inspect/redis-source.ts';
import { loadAnomalyScorer } from '../../scoring/pipeline-scorer.ts';
import type { Logger } from '../../shared/logger.ts';
import { TrustlineError, isRetriable } from '../../shared/errors.ts';
import { RedisStateStore } from '../../state/redis-store.ts';
import { withDecisionCache } from './decision-cache.ts';
import { KafkaSink } from './kafka-sink.ts';
import { ensureTopics } from './topics.ts';

export type KafkaRunnerHandle = {
  /** Stop in layer order (fetching → current batch → producer → Redis → model → HTTP); safe to call twice. */
  stop(reason?: string): Promise<void>;
  readonly httpPort: number;
  readonly metrics: Metrics;
  /** Resolves when the consumer has stopped for good (after stop(), or on a fatal error). */
  readonly done: Promise<void>;
  /** The non-retriable error that stopped the processor, or null (still running, or stopped on request). */
  readonly error: unknown;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Instrumentation for benchmarks and tests: called after each chunk is produced and saved, before its commit. */
export type KafkaRunnerHooks = { onBatch?: (result: BatchResult, ackAt: number) => void };

type Opened = [name: string, close: () => Promise<unknown>][];

/**
 * Starts the processor. A failed start (model, Redis, Kafka, topics, HTTP port) closes everything it
 * had already opened, in reverse order, before the error is rethrown: nothing keeps the process alive.
 */
export async function startKafkaRunner(config: Config, log: Logger, hooks: KafkaRunnerHooks = {}): Promise<KafkaRunnerHandle> {
  const opened: Opened = [];
  try {
    return await start(config, log, hooks, opened);
  } catch (err) {
    for (const [name, close] of opened.reverse()) {
      try {
        await close();
      } catch (closeErr) {
        log.warn({ err: closeErr, step: name }, 'closing after a failed start failed');
      }
    }
    throw err;
  }
}

async function start(config: Config, log: Logger, hooks: KafkaRunnerHooks, opened: Opened): Promise<KafkaRunnerHandle> {
  const metrics = createMetrics();
  const scorer = await loadAnomalyScorer(config.model.card, config.model.intraOpThreads);
  opened.push(['model', () => scorer.close()]);
  log.info({ model: scorer.modelId, features: FEATURE_NAMES.length }, 'model loaded');
  setBuildInfo(metrics, scorer.modelId);
  // Connection errors are logged (at most every 5 s) and counted; ioredis keeps commands queued
  // through short outages, so the batch simply waits, and /readyz reports Redis as down.
  let lastRedisLog = 0;
  const store = new RedisStateStore({
    url: config.redis.url,
    keyPrefix: config.redis.keyPrefix,
    onError: (err) => {
      metrics.redisErrors.inc();
      const now = Date.now();
      if (now - lastRedisLog >= 5_000) {
        lastRedisLog = now;
        log.warn({ err: err.message }, 'redis connection error; state calls wait for it to come back');
      }
    },
  });
  opened.push(['redis', () => store.close()]);
  const kafka = createKafkaClient({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, profile: 'service', log });
  const admin = kafka.admin();
  opened.push(['admin', () => admin.disconnect()]);
  await admin.connect();
  const created = await ensureTopics(admin, config);
  if (created.length) log.info({ created }, 'created topics');
  // The audit chain of requests partition p is written to audit partition p.
  const meta = await admin.fetchTopicMetadata({ topics: [config.kafka.topics.requests, config.kafka.topics.audit] });
  await admin.disconnect();
  const partitionsOf = (topic: string): number => meta.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
  if (partitionsOf(config.kafka.topics.audit) < partitionsOf(config.kafka.topics.requests)) {
    throw new TrustlineError(
      'CONFIG_INVALID',
      `topic ${config.kafka.topics.audit} has fewer partitions than ${config.kafka.topics.requests}; the audit topic needs one partition per requests partition`,
    );
  }

  // An idempotent producer retries without limit; a batch waits for the broker rather than failing.
  // One per partition processed concurrently: an idempotent producer has one request in flight, so
  // chunks of different partitions sharing one would queue behind each other's acks (docs/benchmarks.md, latency).
  const producers: Producer[] = Array.from({ length: config.kafka.partitionsConcurrently }, () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
    }),
  );
  opened.push(['producers', () => Promise.all(producers.map((p) => p.disconnect()))]);
  await Promise.all(producers.map((p) => p.connect()));
  const producer = producers[0]!;
  const consumer: Consumer = kafka.consumer({
    groupId: config.kafka.groupId,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(config.kafka.sessionTimeoutMs / 10)),
    allowAutoTopicCreation: false,
  });
  const kafkaSink = new KafkaSink(producers, config.kafka.topics);
  // Stateless gateways read each agent's latest signed records from Redis (docs/enforcers.md, "Redis mode").
  const sink =
    config.redis.decisionTtlMs > 0
      ? withDecisionCache(kafkaSink, store.redis, { keyPrefix: config.redis.keyPrefix, ttlMs: config.redis.decisionTtlMs })
      : kafkaSink;
  const deps = configuredDeps(config);
  if (!deps.controlVerifier) log.warn('no operator keys (control.keys): every control record will be dead-lettered');
  const processor = new BatchProcessor({
    store,
    scorer,
    sink,
    ...deps,
    audit: { topic: config.kafka.topics.audit },
    // No analyst rows on the production path: latency is measured from the batch's event times.
    scoreRows: false,
  });
  const relay: ControlRelay = await startControlRelay({
    kafka,
    producer,
    groupId: config.kafka.groupId,
    topics: { control: config.kafka.topics.control, requests: config.kafka.topics.requests, dlq: config.kafka.topics.dlq },
    verifier: deps.controlVerifier ?? null,
    log,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    metrics,
  });
  opened.push(['control relay', () => Promise.race([relay.stop(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())])]);

  let joined = false;
  let stopping = false;
  let fatal: unknown = null;
  // Called from batches and crash events, which only start after `stop` below is defined
  // (consumer.run resolves once the group is joined, before the first fetch).
  function fail(err: unknown, msg: string): void {
    if (fatal !== null) return;
    fatal = err ?? new Error(msg);
    stopping = true;
    log.fatal({ err }, `${msg}; stopping (not ready from now on, exit 1 for the supervisor to restart the process)`);
    void stop('fatal error');
  }

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    retainLag(metrics, e.payload.memberAssignment);
    log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart) fail(e.payload.error, 'consumer crashed and will not restart');
  });

  let http: Awaited<ReturnType<typeof startHttp>>;
  try {
    http = await startHttp(
      config.http.host,
      config.http.port,
      metrics.registry,
      () => ({
        ready: joined && !stopping && store.redis.status === 'ready',
        detail: { joined, stopping, redis: store.redis.status, model: scorer.modelId },
      }),
      { lookup: (key) => agentFromRedis(store.redis, config.redis.keyPrefix, key, deps.policy), access: config.http.agents },
    );
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'permission denied' : (cause as Error).message;
    throw new TrustlineError(
      'CONFIG_INVALID',
      `cannot serve /healthz, /readyz and /metrics on ${config.http.host}:${config.http.port}: ${why} (TRUSTLINE_HTTP_HOST / TRUSTLINE_HTTP_PORT)`,
      { cause },
    );
  }
  opened.push(['http', () => http.close()]);

  async function processChunk(records: InputRecord[], payload: EachBatchPayload): Promise<boolean> {
    const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), 2_000);
    try {
      for (let attempt = 0; ; attempt++) {
        if (!payload.isRunning() || payload.isStale()) return false;
        try {
          const r = await processor.process(records);
          const ackAt = Date.now();
          recordBatch(metrics, r, records.length, ackAt);
          hooks.onBatch?.(r, ackAt);
          return true;
        } catch (err) {
          if (!isRetriable(err)) {
            // Not retriable: rethrowing would make kafkajs restart the consumer forever while /readyz
            // stays up. Instead: not ready at once, stop in order, exit non-zero (docs/operations.md).
            fail(err, 'batch failed with a non-retriable error');
            return false;
          }
          metrics.retries.inc();
          const wait = Math.min(5_000, 200 * 2 ** Math.min(attempt, 5));
          log.warn({ err, attempt, waitMs: wait }, 'batch failed with a retriable error; retrying');
          await sleep(wait);
        }
      }
    } finally {
      clearInterval(beat);
    }
  }

  opened.push(['consumer', () => consumer.disconnect()]);
  await consumer.connect();
  await consumer.subscribe({ topic: config.kafka.topics.requests, fromBeginning: config.kafka.fromBeginning });
  const max = config.kafka.maxBatchEvents;
  await consumer.run({
    // Offsets are resolved only after a chunk's outputs are acknowledged and its states saved;
    // kafkajs then commits resolved offsets (every second, after each batch and on stop).
    // Committing later than possible only means more re-processing after a crash, never loss.
    autoCommit: true,
    autoCommitInterval: 1_000,
    eachBatchAutoResolve: false,
    // Partitions hold disjoint agents, so their batches may overlap (I/O of one, CPU of another).
    partitionsConsumedConcurrently: config.kafka.partitionsConcurrently,
    eachBatch: async (payload) => {
      const { batch } = payload;
      const msgs = batch.messages;
      for (let i = 0; i < msgs.length; i += max) {
        const slice = msgs.slice(i, i + max);
        const records: InputRecord[] = slice.map((m) => ({
          value: m.value,
          key: m.key,
          position: Number(m.offset),
          source: { topic: batch.topic, partition: batch.partition, offset: m.offset },
        }));
        if (!(await processChunk(records, payload))) return;
        payload.resolveOffset(slice[slice.length - 1]!.offset);
        await payload.commitOffsetsIfNecessary();
        await payload.heartbeat();
      }
      setLag(metrics, batch.topic, batch.partition, Number(batch.offsetLag()));
    },
  });

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopPromise: Promise<void> | null = null;
  const stop = (reason = 'stop'): Promise<void> => {
    stopPromise ??= (async () => {
      stopping = true;
      log.info({ reason }, 'shutting down');
      const steps: [string, () => Promise<unknown>][] = [
        // Bounded: a relay still waiting for its group join must not hold up shutdown. Abandoning it is
        // safe: its re-published control records are at-least-once and deduplicated by issuedAt.
        ['control relay', () => Promise.race([relay.stop(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())])],
        ['consumer', () => consumer.disconnect()], // stops fetching and waits for the running batch
        ['producer', () => Promise.all(producers.map((p) => p.disconnect()))],
        ['redis', () => store.close()],
        ['model', () => scorer.close()],
        ['http', () => http.close()],
      ];
      for (const [name, fn] of steps) {
        try {
          await fn();
        } catch (err) {
          log.warn({ err, step: name }, 'shutdown step failed');
        }
      }
      log.info('stopped');
      resolveDone();
    })();
    return stopPromise;
  };
  return {
    stop,
    httpPort: http.port,
    metrics,
    done,
    get error() {
      return fatal;
    },
  };
}
