/**
 * Topic bootstrap: creates missing topics with the configured partition count; the trust topic
 * is compacted (latest record per agent), the others keep a time-based retention. The audit
 * topic is created with the same partition count as the requests topic (one chain per requests
 * partition); an existing audit topic with fewer partitions is an error at start.
 */
import type { Admin } from 'kafkajs';
import type { Config } from '../../config/config.ts';

export async function ensureTopics(admin: Admin, config: Config, replicationFactor = 1): Promise<string[]> {
  const t = config.kafka.topics;
  const wanted = [
    { topic: t.requests, configEntries: [] },
    { topic: t.trust, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    { topic: t.circuit, configEntries: [{ name: 'cleanup.policy', value: 'compact,delete' }] },
    { topic: t.dlq, configEntries: [] },
    // Not compacted: a decided escalation must not erase its pending record before enforcers saw it.
    { topic: t.escalations, configEntries: [] },
    { topic: t.control, configEntries: [] },
    // One hash chain per partition, the same partition number as the requests partition it audits.
    { topic: t.audit, configEntries: [] },
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((w) => !existing.has(w.topic));
  // The audit topic needs at least as many partitions as an existing requests topic.
  let auditPartitions = config.kafka.partitions;
  if (existing.has(t.requests) && !existing.has(t.audit)) {
    const meta = await admin.fetchTopicMetadata({ topics: [t.requests] });
    auditPartitions = Math.max(auditPartitions, meta.topics[0]?.partitions.length ?? 0);
  }
  if (missing.length) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((m) => ({
        topic: m.topic,
        numPartitions: m.topic === t.audit ? auditPartitions : config.kafka.partitions,
        replicationFactor,
        configEntries: m.configEntries,
      })),
    });
  }
  return missing.map((m) => m.topic);
}
