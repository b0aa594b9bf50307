/**
 * Reading a Kafka topic from its log start up to the end offsets it had when reading began,
 * partition by partition in offset order, with a consumer group of its own that never commits.
 */
import { randomBytes } from 'node:crypto';
import type { KafkaConfig } from 'kafkajs';
import { createKafkaClient } from '../shared/kafka.ts';
import { TrustlineError } from '../shared/errors.ts';

export type TopicSnapshotOptions = {
  brokers: string[];
  topic: string;
  clientId?: string;
  ssl?: KafkaConfig['ssl'];
  sasl?: KafkaConfig['sasl'];
  /** Give up when no batch arrived for this long while records are still expected, ms. Default 30 000. */
  idleTimeoutMs?: number;
};

/** Called for every record below the end offsets; return `false` to stop reading. */
export type TopicRecordHandler = (partition: number, offset: string, value: Buffer | null) => boolean | void;

/** Read the topic to its end offsets at start. Resolves with the number of records delivered. */
export async function readTopicToEnd(options: TopicSnapshotOptions, onRecord: TopicRecordHandler): Promise<number> {
  const kafka = createKafkaClient({
    brokers: options.brokers,
    clientId: options.clientId ?? 'trustline-audit',
    profile: 'command',
    ssl: options.ssl,
    sasl: options.sasl,
  });
  const admin = kafka.admin();
  await admin.connect();
  const end = new Map<number, number>();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(options.topic)) throw new TrustlineError('INPUT_INVALID', `topic ${options.topic} does not exist`);
    for (const o of await admin.fetchTopicOffsets(options.topic)) if (Number(o.high) > Number(o.low)) end.set(o.partition, Number(o.high));
  } finally {
    await admin.disconnect();
  }
  if (end.size === 0) return 0;

  const consumer = kafka.consumer({ groupId: `trustline-audit-${randomBytes(8).toString('hex')}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
  let delivered = 0;
  let stop = false;
  let lastProgress = performance.now();
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    const finished = new Promise<void>((resolve, reject) => {
      const reached = (partition: number, next: number): void => {
        lastProgress = performance.now();
        const target = end.get(partition);
        if (target !== undefined && next >= target) end.delete(partition);
        if (end.size === 0 || stop) resolve();
      };
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => reached(e.payload.partition, Number(e.payload.lastOffset) + 1));
      consumer
        .run({
          autoCommit: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: async ({ batch }) => {
            const target = end.get(batch.partition);
            if (target === undefined || stop) return;
            for (const m of batch.messages) {
              if (Number(m.offset) >= target) break;
              delivered++;
              if (onRecord(batch.partition, m.offset, m.value) === false) {
                stop = true;
                resolve();
                return;
              }
            }
          },
        })
        .catch(reject);
    });
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (performance.now() - lastProgress > idleTimeoutMs) {
          reject(
            new TrustlineError(
              'KAFKA_UNAVAILABLE',
              `no progress reading ${options.topic} for ${idleTimeoutMs} ms; partitions still expected: ${[...end.keys()].join(', ')}`,
            ),
          );
        }
      }, 250);
    });
    try {
      await Promise.race([finished, idle]);
    } finally {
      clearInterval(timer);
    }
  } finally {
    await consumer.disconnect();
  }
  return delivered;
}
