/**
 * The Kafka enforcer: bootstraps from the compacted `agent.trust` and `agent.circuit` topics,
 * then follows them live, and decides in-process.
 *
 * Guarantees:
 * - Every instance reads every partition of both topics from the log start: it joins a
 *   consumer group of its own (`<groupId>-<random>`), subscribes from the beginning and never
 *   commits, so a restart reloads the whole snapshot.
 * - `ready()` resolves once, for every partition, the records below the high watermark read
 *   at start have been applied (the snapshot); later records are applied as they arrive.
 * - A successful fetch — even an empty one — counts as a feed heartbeat; when neither a record
 *   nor a fetch happened for `policy.feedTimeoutMs`, decisions are marked stale.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel as kafkaLogLevel, type Consumer, type KafkaConfig } from 'kafkajs';
import { TrustlineError } from '../shared/errors.ts';
import { createEnforcerLogger } from './logger.ts';
import { createEnforcerCore, type EnforcerCore, type EnforcerCoreOptions } from './core.ts';
import type { EnforcerPolicy } from './policy.ts';
import type { Decision, DecisionQuery, EnforcerMetrics, EscalationView, FeedKind } from './types.ts';

/** Options of {@link createEnforcer}. */
export type EnforcerOptions = EnforcerCoreOptions & {
  kafka: {
    brokers: string[];
    clientId?: string;
    /** Prefix of the enforcer's own consumer group; a random suffix is always added. Default `trustline-enforcer`. */
    groupId?: string;
    /**
     * Topic names. Default `agent.trust`, `agent.circuit` and `agent.escalations`. The
     * escalations feed is optional: when its topic does not exist at start it is not followed
     * (logged), and no action is ever held by an escalation.
     */
    topics?: { trust?: string; circuit?: string; escalations?: string };
    ssl?: KafkaConfig['ssl'];
    sasl?: KafkaConfig['sasl'];
    connectionTimeout?: number;
  };
};

/** An enforcement point's view of trustline. */
export type Enforcer = {
  /** Resolves when the snapshot (everything below the high watermarks at start) is loaded; rejects when startup fails. */
  ready(): Promise<void>;
  /** Decide one request, in-process. Before `ready()` resolves, decisions are stale (`rule: "not_ready"`). */
  decide(query: DecisionQuery): Decision;
  /** The latest escalation held for an agent and action name, or null. */
  escalation(query: { tenant?: string; agentId: string; actionName: string }): EscalationView | null;
  metrics(): EnforcerMetrics;
  /** The same counters as Prometheus text exposition (`trustline_enforcer_*`; serve with PROMETHEUS_CONTENT_TYPE). */
  prometheus(options?: { prefix?: string; labels?: Record<string, string> }): string;
  readonly policy: EnforcerPolicy;
  /** Replace the context policy (validated first; a bad one throws and the current one stays). */
  setContextPolicy: EnforcerCore['setContextPolicy'];
  /** Leave the group and disconnect. Safe to call twice. */
  close(): Promise<void>;
};

/** Create an enforcer and start loading the snapshot in the background. */
export function createEnforcer(options: EnforcerOptions): Enforcer {
  const log = options.logger ?? createEnforcerLogger({ name: 'trustline-enforcer' });
  const core = createEnforcerCore({ ...options, logger: log });
  const k = options.kafka;
  const topics = {
    trust: k.topics?.trust ?? 'agent.trust',
    circuit: k.topics?.circuit ?? 'agent.circuit',
    escalations: k.topics?.escalations ?? 'agent.escalations',
  };
  if (new Set([topics.trust, topics.circuit, topics.escalations]).size !== 3)
    throw new TrustlineError('CONFIG_INVALID', 'kafka.topics.trust, circuit and escalations must differ');
  const kindOf = new Map<string, FeedKind>([
    [topics.trust, 'trust'],
    [topics.circuit, 'circuit'],
    [topics.escalations, 'escalation'],
  ]);
  const followed: string[] = [topics.trust, topics.circuit];
  const kafka = new Kafka({
    clientId: k.clientId ?? 'trustline-enforcer',
    brokers: k.brokers,
    ...(k.ssl !== undefined ? { ssl: k.ssl } : {}),
    ...(k.sasl !== undefined ? { sasl: k.sasl } : {}),
    connectionTimeout: k.connectionTimeout ?? 5_000,
    logLevel: kafkaLogLevel.WARN,
    logCreator: () => (entry) => log.warn({ kafka: entry.namespace, ...entry.log }, String(entry.log.message ?? 'kafka')),
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  const groupId = `${k.groupId ?? 'trustline-enforcer'}-${randomBytes(8).toString('hex')}`;
  let consumer: Consumer | null = null;
  let closed = false;

  /** Offsets still to reach per `topic:partition` before the snapshot is complete. */
  const pending = new Map<string, number>();
  let resolveReady!: () => void;
  let rejectReady!: (err: Error) => void;
  const readyPromise = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  readyPromise.catch(() => undefined); // a caller that never awaits ready() must not see an unhandled rejection

  function reached(topic: string, partition: number, nextOffset: number): void {
    const key = `${topic}:${partition}`;
    const target = pending.get(key);
    if (target !== undefined && nextOffset >= target) pending.delete(key);
    checkReady();
  }

  function checkReady(): void {
    if (!core.isReady && pending.size === 0) {
      core.markReady();
      log.info({ groupId, agents: core.metrics().agents }, 'enforcer snapshot loaded');
      resolveReady();
    }
  }

  async function start(): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      for (const topic of [topics.trust, topics.circuit]) {
        if (!existing.has(topic))
          throw new TrustlineError(
            'CONFIG_INVALID',
            `enforcer could not start: topic ${topic} does not exist (check kafka.topics, or start the processor, which creates it)`,
          );
      }
      if (existing.has(topics.escalations)) followed.push(topics.escalations);
      else log.warn({ topic: topics.escalations }, 'escalations topic does not exist; escalations are not followed');
      for (const topic of followed) {
        const offsets = await admin.fetchTopicOffsets(topic);
        for (const o of offsets) {
          if (Number(o.high) > Number(o.low)) pending.set(`${topic}:${o.partition}`, Number(o.high));
        }
      }
    } finally {
      await admin.disconnect();
    }
    if (closed) return;
    const c = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 1_000, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    consumer = c;
    c.on(c.events.FETCH, () => core.feedAlive());
    // Emitted after every processed batch, including batches whose records were all filtered out.
    c.on(c.events.END_BATCH_PROCESS, (e) => reached(e.payload.topic, e.payload.partition, Number(e.payload.lastOffset) + 1));
    c.on(c.events.CRASH, (e) => {
      log.error({ err: e.payload.error, restart: e.payload.restart }, 'enforcer consumer crashed');
      if (!e.payload.restart)
        rejectReady(new TrustlineError('KAFKA_UNAVAILABLE', `enforcer consumer stopped: ${e.payload.error.message}`, { cause: e.payload.error }));
    });
    await c.connect();
    await c.subscribe({ topics: followed, fromBeginning: true });
    await c.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        const kind = kindOf.get(batch.topic);
        if (kind === undefined) return;
        for (const msg of batch.messages) core.ingest(kind, msg.value);
      },
    });
    checkReady(); // every partition was empty at start
  }

  const started = start().catch((err: unknown) => {
    const e =
      err instanceof TrustlineError ? err : new TrustlineError('KAFKA_UNAVAILABLE', `enforcer could not start: ${(err as Error).message}`, { cause: err });
    log.error({ err: e }, 'enforcer start failed');
    rejectReady(e);
  });

  let closing: Promise<void> | null = null;
  return {
    ready: () => readyPromise,
    decide: core.decide,
    escalation: core.escalation,
    metrics: core.metrics,
    prometheus: (options) => core.prometheus(options),
    policy: core.policy,
    setContextPolicy: core.setContextPolicy,
    close() {
      closing ??= (async () => {
        closed = true;
        rejectReady(new TrustlineError('KAFKA_UNAVAILABLE', 'enforcer closed before its snapshot was loaded'));
        await started;
        await consumer?.disconnect();
      })();
      return closing;
    },
  };
}
