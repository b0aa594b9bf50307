/**
 * Kafka sink: trust updates, circuit signals, escalations, audit records and dead letters of
 * one batch in one `sendBatch` with acks from all in-sync replicas. Audit records go to the
 * partition their chain names (`record.partition`), in chain order. Resolves only when the broker acknowledged
 * every record, so the caller may then save state and commit. Values are the records' wire JSON,
 * serialised once when they were built (src/outputs/wire.ts).
 */
import type { Message, Producer, TopicMessages } from 'kafkajs';
import { toDlqKafkaMessage } from '../../contract/dlq.ts';
import { outputKey } from '../../outputs/records.ts';
import type { BatchOutputs, OutputSink } from '../../outputs/sink.ts';
import { wireJson } from '../../outputs/wire.ts';
import { TrustlineError } from '../../shared/errors.ts';

export type OutputTopics = { trust: string; circuit: string; dlq: string; escalations?: string; audit?: string };

export class KafkaSink implements OutputSink {
  private readonly producers: readonly Producer[];
  private readonly inFlight: number[];

  /**
   * With several producers, each write goes to the one with the fewest writes in flight, so the
   * chunks of partitions processed concurrently do not queue behind each other's acknowledgements
   * (an idempotent producer has one request in flight). Order is unaffected: a partition's next
   * chunk is written only after its previous chunk's write resolved.
   */
  constructor(
    producer: Producer | readonly Producer[],
    private readonly topics: OutputTopics,
  ) {
    this.producers = Array.isArray(producer) ? producer : [producer as Producer];
    if (this.producers.length === 0) throw new TrustlineError('INTERNAL', 'KafkaSink needs at least one producer');
    this.inFlight = this.producers.map(() => 0);
  }

  async write(o: BatchOutputs): Promise<void> {
    const topicMessages = kafkaMessages(o, this.topics);
    if (!topicMessages.length) return;
    let i = 0;
    for (let k = 1; k < this.inFlight.length; k++) if (this.inFlight[k]! < this.inFlight[i]!) i = k;
    this.inFlight[i]!++;
    try {
      await this.producers[i]!.sendBatch({ topicMessages, acks: -1 });
    } catch (cause) {
      throw new TrustlineError('SINK_FAILED', `producing outputs failed: ${(cause as Error).message}`, { cause, retriable: true });
    } finally {
      this.inFlight[i]!--;
    }
  }

  async close(): Promise<void> {}
}

/** The messages `KafkaSink.write` sends for a batch's outputs, per topic (also what the benchmark encodes). */
export function kafkaMessages(o: BatchOutputs, topics: OutputTopics): TopicMessages[] {
  const topicMessages: TopicMessages[] = [];
  const keyed = (r: { tenant: string; agentId: string }): Message => ({ key: outputKey(r.tenant, r.agentId), value: wireJson(r) });
  if (o.trust.length) topicMessages.push({ topic: topics.trust, messages: o.trust.map(keyed) });
  if (o.circuit.length) topicMessages.push({ topic: topics.circuit, messages: o.circuit.map(keyed) });
  if (o.escalations?.length && topics.escalations) topicMessages.push({ topic: topics.escalations, messages: o.escalations.map(keyed) });
  if (o.audit?.length && topics.audit) {
    topicMessages.push({ topic: topics.audit, messages: o.audit.map((r): Message => ({ key: null, partition: r.partition, value: wireJson(r) })) });
  }
  if (o.dlq.length) topicMessages.push({ topic: topics.dlq, messages: o.dlq.map((d) => toDlqKafkaMessage(d) as Message) });
  return topicMessages;
}
