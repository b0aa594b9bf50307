/**
 * Kafka sink: trust updates, circuit signals, escalations, audit records and dead letters of
 * one batch in one `sendBatch` with acks from all in-sync replicas. Audit records go to the
 * partition their chain names (`record.partition`), in chain order. Resolves only when the broker acknowledged
 * every record, so the caller may then save state and commit.
 */
import type { Message, Producer, TopicMessages } from 'kafkajs';
import { toDlqKafkaMessage } from '../../contract/dlq.ts';
import { outputKey } from '../../outputs/records.ts';
import type { BatchOutputs, OutputSink } from '../../outputs/sink.ts';
import { TrustlineError } from '../../shared/errors.ts';

export type OutputTopics = { trust: string; circuit: string; dlq: string; escalations?: string; audit?: string };

export class KafkaSink implements OutputSink {
  constructor(
    private readonly producer: Producer,
    private readonly topics: OutputTopics,
  ) {}

  async write(o: BatchOutputs): Promise<void> {
    const topicMessages: TopicMessages[] = [];
    if (o.trust.length) topicMessages.push({ topic: this.topics.trust, messages: o.trust.map((r): Message => ({ key: outputKey(r.tenant, r.agentId), value: JSON.stringify(r) })) });
    if (o.circuit.length) topicMessages.push({ topic: this.topics.circuit, messages: o.circuit.map((r): Message => ({ key: outputKey(r.tenant, r.agentId), value: JSON.stringify(r) })) });
    if (o.escalations?.length && this.topics.escalations) {
      topicMessages.push({ topic: this.topics.escalations, messages: o.escalations.map((r): Message => ({ key: outputKey(r.tenant, r.agentId), value: JSON.stringify(r) })) });
    }
    if (o.audit?.length && this.topics.audit) {
      topicMessages.push({ topic: this.topics.audit, messages: o.audit.map((r): Message => ({ key: null, partition: r.partition, value: JSON.stringify(r) })) });
    }
    if (o.dlq.length) topicMessages.push({ topic: this.topics.dlq, messages: o.dlq.map((d) => toDlqKafkaMessage(d) as Message) });
    if (!topicMessages.length) return;
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1 });
    } catch (cause) {
      throw new TrustlineError('SINK_FAILED', `producing outputs failed: ${(cause as Error).message}`, { cause, retriable: true });
    }
  }

  async close(): Promise<void> {}
}
