/**
 * Kafka and Redis helpers that name the cluster they talk to, for the delivery scenarios
 * (test/support/delivery-scenario.ts) and the reliability scripts (scripts/chaos.ts,
 * scripts/soak.ts). Unlike test/support/services.ts this module does not import vitest, so the
 * scripts can use it, and a scenario can point it at a private broker or a private Redis.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type KafkaConfig } from 'kafkajs';

/** Where a scenario's Kafka broker(s) and Redis are. */
export type Cluster = { brokers: string[]; redisUrl: string };

/** The cluster named by KAFKA_BROKERS and REDIS_URL (scripts). Throws when either is missing. */
export function clusterFromEnv(env: NodeJS.ProcessEnv = process.env): Cluster {
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const redisUrl = env.REDIS_URL ?? '';
  if (!brokers.length || !redisUrl) throw new Error('set KAFKA_BROKERS and REDIS_URL (e.g. eval "$(bash scripts/services.sh up)")');
  return { brokers, redisUrl };
}

let counter = 0;

/** A name no other test, script or earlier run uses; only `[A-Za-z0-9._-]`. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 150) || 'x'}-${process.pid}-${counter}-${randomBytes(4).toString('hex')}`;
}

/** A quiet kafkajs client for `cluster`. */
export function kafkaOf(cluster: Cluster, clientId = uniqueId('tl-test'), overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: cluster.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    retry: { retries: 8, initialRetryTime: 200 },
    ...overrides,
  });
}

/** Runs `fn` with a connected admin client of `cluster` and always disconnects it. */
export async function withAdminOf<T>(cluster: Cluster, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkaOf(cluster, uniqueId('tl-admin')).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates topic `name` (replication factor 1) on `cluster` and waits for its leaders; fails if it exists. */
export async function createTopicOn(cluster: Cluster, name: string, partitions: number, configEntries: Record<string, string> = {}): Promise<void> {
  await withAdminOf(cluster, async (admin) => {
    const created = await admin.createTopics({
      waitForLeaders: false,
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
    if (!created) throw new Error(`topic ${name} already exists`);
    // A busy broker may answer "does not host this topic-partition" for a moment: poll the metadata.
    await waitUntil(
      async () => {
        try {
          const meta = await admin.fetchTopicMetadata({ topics: [name] });
          const got = meta.topics[0]?.partitions ?? [];
          return got.length === partitions && got.every((p) => p.leader >= 0);
        } catch {
          await new Promise((r) => setTimeout(r, 200));
          return false;
        }
      },
      `leaders for every partition of ${name}`,
      60_000,
    );
  });
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
