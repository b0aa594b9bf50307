#!/usr/bin/env node
// Readiness probe used by scripts/services.sh. Exit 0 when the service really answers,
// 1 otherwise (one line of reason on stderr). It makes one attempt; the caller loops.
//
//   node scripts/kafka/probe.mjs kafka 127.0.0.1:39092   # Metadata + DescribeCluster via kafkajs admin
//   node scripts/kafka/probe.mjs kafka-warm 127.0.0.1:39092   # also create __consumer_offsets
//   node scripts/kafka/probe.mjs redis redis://127.0.0.1:36379   # PING via ioredis
//
// kafka-warm asks for a group coordinator once, which makes a fresh broker create its
// __consumer_offsets topic now rather than during the first test (where kafkajs would log
// "The group coordinator is not available" while it waits).
const [kind, address] = process.argv.slice(2);
const deadline = setTimeout(
  () => {
    process.stderr.write(`probe ${kind} ${address}: timed out\n`);
    process.exit(1);
  },
  kind === 'kafka-warm' ? 30000 : 8000,
);
deadline.unref();

async function probeKafka(brokers) {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({
    clientId: 'trustline-services-probe',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 4000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error('no broker registered yet');
    await admin.listTopics();
    return `cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), controller ${cluster.controller}`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function warmKafka(brokers) {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({
    clientId: 'trustline-services-warm',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeGroups(['trustline-services-warm']);
    return 'group coordinator ready';
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function probeRedis(url) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const pong = await redis.ping();
    if (pong !== 'PONG') throw new Error(`unexpected PING reply ${pong}`);
    return 'PONG';
  } finally {
    redis.disconnect();
  }
}

try {
  if (!address) throw new Error('usage: probe.mjs kafka|redis <address>');
  let info;
  if (kind === 'kafka') info = await probeKafka(address);
  else if (kind === 'kafka-warm') info = await warmKafka(address);
  else if (kind === 'redis') info = await probeRedis(address);
  else throw new Error(`unknown service kind ${kind}`);
  process.stdout.write(`${info}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`probe ${kind} ${address}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
