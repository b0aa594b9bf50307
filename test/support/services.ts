/**
 * Helpers for integration tests that talk to the real Kafka broker and Redis prepared by
 * test/setup/global-setup.ts (see docs/services.md).
 *
 * ```ts
 * import { describeIntegration, createTopic, uniqueName, withRedis } from './services.ts';
 *
 * describeIntegration('my adapter', () => {
 *   it('works', async () => {
 *     const topic = await createTopic(uniqueName('my-adapter'), 3);
 *     ...
 *   });
 * });
 * ```
 *
 * Every test must use its own topic / group / key names ({@link uniqueName}): the broker and
 * Redis are shared by all test files and survive between runs.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, KafkaConfig } from 'kafkajs';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { describe, inject } from 'vitest';
import type { ServicesContext } from '../setup/provided-context.ts';
import type { Cluster } from './cluster.ts';

function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * Reads one provided value; falls back to the environment when the test runs outside the
 * integration project's globalSetup (where `inject` has nothing).
 */
function provided<K extends keyof ServicesContext>(key: K): ServicesContext[K] | undefined {
  try {
    return inject(key) as ServicesContext[K] | undefined;
  } catch {
    return undefined;
  }
}

/** True when a real Kafka broker and a real Redis answered before the tests started. */
export function servicesAvailable(): boolean {
  const flag = provided('servicesAvailable');
  if (flag !== undefined) return flag;
  return Boolean(process.env.KAFKA_BROKERS && process.env.REDIS_URL);
}

/** Why the services are unavailable ('' when they are available). */
export function servicesUnavailableReason(): string {
  if (servicesAvailable()) return '';
  return provided('servicesUnavailableReason') || 'KAFKA_BROKERS / REDIS_URL are not set and the integration globalSetup did not run';
}

function requireAvailable(what: string): void {
  if (!servicesAvailable()) {
    throw new Error(`${what}: Kafka/Redis are not available: ${servicesUnavailableReason()}`);
  }
}

/** Broker list (`host:port` each) of the real Kafka cluster. Throws when unavailable. */
export function kafkaBrokers(): string[] {
  requireAvailable('kafkaBrokers()');
  const raw = provided('kafkaBrokers') || process.env.KAFKA_BROKERS || '';
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new Error('kafkaBrokers(): no broker address was provided');
  return brokers;
}

/** `redis://host:port` of the real Redis. Throws when unavailable. */
export function redisUrl(): string {
  requireAvailable('redisUrl()');
  const url = provided('redisUrl') || process.env.REDIS_URL || '';
  if (url === '') throw new Error('redisUrl(): no Redis URL was provided');
  return url;
}

let nameCounter = 0;

/**
 * A name no other test, test file, worker or earlier run uses: `<prefix>-<pid>-<n>-<random>`.
 * Only `[A-Za-z0-9._-]` survive, so it is valid as a Kafka topic or group id and as a Redis
 * key part.
 */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  const safePrefix = prefix.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 150) || 'test';
  return `${safePrefix}-${process.pid}-${nameCounter}-${randomBytes(4).toString('hex')}`;
}

let warned = false;

function warnSkipped(): void {
  if (warned) return;
  warned = true;
  const reason = servicesUnavailableReason();
  console.warn(
    [
      '',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '!! SKIPPING INTEGRATION TESTS: no real Kafka broker / Redis.',
      `!! ${reason}`,
      '!! Start them with `npm run services -- up` (docs/services.md). Under CI this fails.',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '',
    ].join('\n'),
  );
}

function mustSkip(): boolean {
  if (servicesAvailable()) return false;
  if (isCI()) {
    // globalSetup already fails the run in this case; this guards files run some other way.
    throw new Error(`Integration tests must run under CI, but: ${servicesUnavailableReason()}`);
  }
  warnSkipped();
  return true;
}

/**
 * `describe` for suites that need the real services: a plain `describe` when they are
 * available, otherwise (outside CI only) a skipped one, after a loud warning with the reason.
 * Supports the usual chain (`describeIntegration.each(...)`, `.sequential`, ...).
 */
export const describeIntegration = describe.skipIf(mustSkip());

/** A kafkajs client for the test broker; quiet except for errors. */
export function newKafka(clientId = uniqueName('trustline-test'), overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: kafkaBrokers(),
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    retry: { retries: 8, initialRetryTime: 200 },
    ...overrides,
  });
}

/** Runs `fn` with a connected kafkajs admin client and always disconnects it. */
export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = newKafka(uniqueName('trustline-test-admin')).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates topic `name` with `partitions` partitions (replication factor 1) and waits until
 * every partition has a leader. Fails if the topic already exists: names must be unique.
 * Returns `name`.
 */
export async function createTopic(name: string, partitions = 1, configEntries: Record<string, string> = {}): Promise<string> {
  return withAdmin(async (admin) => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      timeout: 30_000,
      topics: [
        {
          topic: name,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(configEntries).map(([n, value]) => ({ name: n, value })),
        },
      ],
    });
    if (!created) throw new Error(`createTopic(${name}): topic already exists; use uniqueName()`);
    const meta = await admin.fetchTopicMetadata({ topics: [name] });
    const got = meta.topics[0]?.partitions ?? [];
    if (got.length !== partitions || got.some((p) => p.leader < 0)) {
      throw new Error(`createTopic(${name}): expected ${partitions} partitions with leaders, got ${JSON.stringify(got)}`);
    }
    return name;
  });
}

/** Deletes topics a test created (best effort cleanup; keeps the local broker small). */
export async function deleteTopics(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await withAdmin((admin) => admin.deleteTopics({ topics: names, timeout: 30_000 }));
}

/** A new ioredis client for the test Redis. Close it with `quit()`; or use {@link withRedis}. */
export function newRedis(options: RedisOptions = {}): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: 3, connectTimeout: 5000, ...options });
}

/** Runs `fn` with a fresh Redis connection and always closes it. */
export async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = newRedis();
  try {
    return await fn(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The shared broker and Redis as a {@link Cluster} (for test/support/processor-harness.ts). */
export function sharedCluster(): Cluster {
  return { brokers: kafkaBrokers(), redisUrl: redisUrl() };
}
