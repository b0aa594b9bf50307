/**
 * Topic bootstrap: creates missing topics with the configured partition count; the trust topic
 * is compacted (latest record per agent), the others keep a time-based retention.
 */
import type { Admin } from 'kafkajs';
import type { Config } from '../config/config.ts';

export async function ensureTopics(admin: Admin, config: Config, replicationFactor = 1): Promise<string[]> {
  const t = config.kafka.topics;
  const wanted = [
    { topic: t.requests, configEntries: [] },
    { topic: t.trust, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    { topic: t.circuit, configEntries: [{ name: 'cleanup.policy', value: 'compact,delete' }] },
    { topic: t.dlq, configEntries: [] },
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((w) => !existing.has(w.topic));
  if (missing.length) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((m) => ({ topic: m.topic, numPartitions: config.kafka.partitions, replicationFactor, configEntries: m.configEntries })),
    });
  }
  return missing.map((m) => m.topic);
}
