/**
 * The one delivery-scenario runner behind every delivery test of `trustline run`
 * (test/runners/kafka/*.int.test.ts; docs/reliability.md):
 *
 *   await runDeliveryScenario({ name: 'crash', seed, events, skip, produceMs, disrupt: async (s) => { … } });
 *
 * Each test gives only its disruption — a small function that starts processors (child
 * processes running `trustline run`, or in process), feeds the seeded input with `s.feed()`, and
 * kills, freezes, evicts or starves them, or crashes the broker or Redis. The runner does the
 * rest the same way for every test:
 * - unique topics (requests, trust, circuit, escalations, audit, DLQ, control), group and key
 *   prefix; the shared broker and Redis, or private ones the scenario may crash;
 * - the seeded input: `events` fixture events (after `skip`) with poison records interleaved;
 * - escalation rules that escalate every high/critical action (so escalations flow);
 * - after the disruption: the rest of the feed, a drain (a fresh child if nothing is left
 *   running), every remaining processor stopped gracefully (exit 0), no processor dead by itself;
 * - the full check against one uninterrupted in-process run (`checkDelivery` → `deliveryProblems`):
 *   Redis state bytes (digest), trust/circuit/escalation records, the audit chain (the project's
 *   verifier) and dead letters (present, once per source record, with a reason).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { Config } from '../../src/config/config.ts';
import { kafkaOf, uniqueId, type Cluster } from './cluster.ts';
import {
  ChildProcessor,
  PrivateKafka,
  PrivateRedis,
  SCENARIO_ESCALATION,
  checkDelivery,
  cleanupTest,
  createProcessorTopics,
  deliveryProblems,
  describeReport,
  evictGroupMembers,
  interleavePoison,
  loadFixtureRecords,
  processorConfig,
  processorEnv,
  producePaced,
  startInProcess,
  uniqueNames,
  waitForAllCommitted,
  type DeliveryReport,
  type InProcess,
  type Names,
  type SourceRecord,
} from './processor-harness.ts';
import { kafkaBrokers, redisUrl, waitFor } from './services.ts';

export type ScenarioOptions = {
  /** Short tag: topic names, log prefix. */
  name: string;
  seed: number;
  /** Good fixture events, taken after `skip` (pick a window in which some circuit breakers trip). */
  events: number;
  skip: number;
  /** One poison record after about every `poisonEvery` good ones (default 400); or build the input with `input`. */
  poisonEvery?: number;
  input?: (good: SourceRecord[], partitions: number) => SourceRecord[];
  partitions?: number;
  /** `TRUSTLINE_MAX_BATCH_EVENTS` (default 100). */
  maxBatch?: number;
  /** How long `s.feed()` spreads the input over. */
  produceMs: number;
  /** Extra processor environment. */
  env?: Record<string, string>;
  /** Private Redis / Kafka of this scenario, which its disruption may crash (default: the shared ones). */
  privateRedis?: boolean;
  privateKafka?: boolean;
  /** The consumer may report crashes it restarts from (broker outages); default: none allowed. */
  allowConsumerRestarts?: boolean;
  disrupt: (s: Scenario) => Promise<void>;
};

/** What a disruption works with. */
export type Scenario = {
  readonly cluster: Cluster;
  readonly names: Names;
  readonly env: Record<string, string>;
  readonly config: Config;
  readonly records: readonly SourceRecord[];
  readonly redis: PrivateRedis | null;
  readonly kafka: PrivateKafka | null;
  /** Records acknowledged by the broker so far. */
  readonly sent: number;
  /** Starts producing the input (once; later calls return the same promise). */
  feed(): Promise<void>;
  /** Waits until `share` (0–1) of the input is produced. */
  untilSent(share: number): Promise<void>;
  /** A `trustline run` child process. */
  child(label: string, env?: Record<string, string>): ChildProcessor;
  /** `trustline run` in this process. */
  inProcess(env?: Record<string, string>): Promise<InProcess>;
  /** SIGKILLs a child and waits for it; it is not expected to exit cleanly. */
  sigkill(c: ChildProcessor): Promise<void>;
  /** SIGTERMs a child; it must exit 0. */
  stop(c: ChildProcessor): Promise<void>;
  /** Removes members from the group now, as the coordinator does at session expiry. */
  evict(memberIds?: readonly string[]): Promise<string[]>;
  /** A line for the scenario's report. */
  note(line: string): void;
};

export type ScenarioResult = { report: DeliveryReport; scenario: Scenario; seconds: number };

const live: { children: ChildProcessor[]; inProcess: InProcess[] } = { children: [], inProcess: [] };

/** Kills whatever a failed scenario left running (call from afterAll). */
export async function cleanupScenarios(): Promise<void> {
  for (const c of live.children) {
    c.kill('SIGCONT');
    c.kill('SIGKILL');
  }
  for (const p of live.inProcess) await p.handle.stop('test cleanup').catch(() => undefined);
  live.children.length = 0;
  live.inProcess.length = 0;
}

export async function runDeliveryScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const partitions = opts.partitions ?? 3;
  const redis = opts.privateRedis ? await PrivateRedis.start() : null;
  let kafka: PrivateKafka | null = null;
  const names = uniqueNames(opts.name);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trustline-scenario-'));
  let cluster: Cluster = { brokers: kafkaBrokers(), redisUrl: redisUrl() };
  const killed = new Set<ChildProcessor>();
  const notes: string[] = [];
  try {
    kafka = opts.privateKafka ? await PrivateKafka.start() : null;
    cluster = { brokers: kafka?.brokers ?? cluster.brokers, redisUrl: redis?.url ?? cluster.redisUrl };
    await createProcessorTopics(cluster, names, partitions);
    const configFile = path.join(dir, 'trustline.json');
    writeFileSync(configFile, JSON.stringify({ escalation: SCENARIO_ESCALATION }));
    const env = processorEnv(cluster, names, {
      TRUSTLINE_CONFIG: configFile,
      TRUSTLINE_PARTITIONS: String(partitions),
      TRUSTLINE_MAX_BATCH_EVENTS: String(opts.maxBatch ?? 100),
      ...opts.env,
    });
    const config = processorConfig(env);
    const good = await loadFixtureRecords(opts.events, opts.skip);
    const records = opts.input ? opts.input(good, partitions) : interleavePoison(good, opts.poisonEvery ?? 400, opts.seed);

    let sent = 0;
    let feeding: Promise<void> | null = null;
    const children: ChildProcessor[] = [];
    const inProcs: InProcess[] = [];
    const s: Scenario = {
      cluster,
      names,
      env,
      config,
      records,
      redis,
      kafka,
      get sent() {
        return sent;
      },
      feed() {
        feeding ??= (async () => {
          // The producer waits out broker outages (kafkajs retries; a produce is acknowledged or retried).
          // Patient retries: the producer waits out a broker restart (an idempotent produce is acknowledged or retried).
          const producer = kafkaOf(cluster, uniqueId('tl-feed'), { retry: { retries: 100, initialRetryTime: 200, maxRetryTime: 2_000 } }).producer({
            idempotent: true,
            maxInFlightRequests: 1,
            allowAutoTopicCreation: false,
          });
          await producer.connect();
          try {
            await producePaced(cluster, names.requests, records, { durationMs: opts.produceMs, producer, onProgress: (n) => (sent = n) });
          } finally {
            await producer.disconnect();
          }
        })();
        return feeding;
      },
      untilSent(share) {
        const n = Math.floor(records.length * share);
        return waitFor(() => sent >= n, `${n} records produced`, opts.produceMs * 4 + 60_000);
      },
      child(label, extra = {}) {
        const c = new ChildProcessor({ ...env, ...extra }, label);
        children.push(c);
        live.children.push(c);
        return c;
      },
      async inProcess(extra = {}) {
        const p = await startInProcess(processorConfig({ ...env, ...extra }));
        inProcs.push(p);
        live.inProcess.push(p);
        return p;
      },
      async sigkill(c) {
        killed.add(c);
        c.kill('SIGCONT');
        c.kill('SIGKILL');
        await c.exited;
      },
      async stop(c) {
        c.kill('SIGCONT');
        c.kill('SIGTERM');
        const exit = await c.exited;
        expect(exit, `${c.label} on SIGTERM:\n${c.tail()}`).toEqual({ code: 0, signal: null });
        expect(
          c.logs.some((l) => l.msg === 'stopped'),
          `${c.label} logged "stopped"`,
        ).toBe(true);
      },
      evict(ids) {
        return evictGroupMembers(cluster, names.group, ids);
      },
      note(line) {
        notes.push(line);
      },
    };

    await opts.disrupt(s);
    await s.feed();
    expect(sent).toBe(records.length);

    // Drain: whoever is still running finishes the input; a fresh child if nobody is.
    const running = children.filter((c) => c.alive && !killed.has(c)).length + inProcs.filter((p) => !p.finished).length;
    for (const c of children)
      if (!killed.has(c)) expect(c.alive || c.exitInfo?.code === 0, `${c.label} died by itself (${JSON.stringify(c.exitInfo)}):\n${c.tail()}`).toBe(true);
    if (running === 0) await s.child('final run').waitJoined(90_000);
    await waitForAllCommitted(cluster, names.group, names.requests, 180_000);
    const restarts = [...children.flatMap((c) => c.logs), ...inProcs.flatMap((p) => p.lines)].filter((l) => l.msg === 'consumer crashed').length;
    for (const p of inProcs) {
      expect(p.finished, 'an in-process processor stopped by itself').toBe(false);
      await p.handle.stop('scenario done');
    }
    for (const c of children) if (c.alive) await s.stop(c);
    if (!opts.allowConsumerRestarts) expect(restarts, 'consumer crashes').toBe(0);

    const report = await checkDelivery(cluster, names, config);
    const seconds = Math.round((Date.now() - started) / 1000);
    console.info(
      [
        `[${opts.name}] ${records.length} records (${opts.events} events) over ${partitions} partitions, ${seconds} s${restarts ? `, ${restarts} consumer restarts` : ''}`,
        ...notes.map((n) => `[${opts.name}] ${n}`),
        describeReport(report),
      ].join('\n'),
    );

    // The reference really covers the input, and the input exercises every output.
    expect(report.requests.length).toBe(records.length);
    expect(report.reference.applied).toBe(opts.events);
    expect(report.reference.dlq.length).toBe(records.length - opts.events);
    expect(report.reference.trust.length).toBeGreaterThan(0);
    expect(report.reference.escalations.length, 'escalations in the fixture window').toBeGreaterThan(0);
    expect(report.reference.audit.length).toBeGreaterThan(0);
    // If this fails after the fixtures were regenerated, move `skip` to a window with circuit changes.
    expect(report.reference.circuit.length, 'circuit signals in the fixture window').toBeGreaterThan(0);
    // The full check: state bytes, every output topic, the audit chain, the dead letters.
    expect(deliveryProblems(report), describeReport(report)).toEqual([]);
    return { report, scenario: s, seconds };
  } finally {
    await cleanupScenarios();
    await cleanupTest(cluster, names).catch(() => undefined);
    await redis?.destroy();
    await kafka?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
