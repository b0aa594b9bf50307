/**
 * The control relay: moves operator control records from `agent.control` into the agent's own
 * ordered stream on `agent.requests`.
 *
 * Guarantees:
 * - Only records that decode as an AgentControl and verify against the operator key ring
 *   (`control.keys`) are relayed, as their exact original bytes, keyed by `agentId` (the key
 *   gateways use), so control is sequenced with the agent's requests and a replay of the
 *   requests topic reproduces it. The request pipeline verifies them again.
 * - Everything else goes to the dead-letter topic with the original bytes and a reason code
 *   (`unsigned`, `bad_signature`, or a decoder code) and changes nothing.
 * - At-least-once: offsets are committed after the relayed records and dead letters are
 *   acknowledged; a re-relayed record is a duplicate the pipeline ignores (same `issuedAt`).
 */
import type { Consumer, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { decodeControl } from '../../contract/decode.ts';
import { toDlqKafkaMessage, type DlqInput } from '../../contract/dlq.ts';
import type { Verifier } from '../../outputs/sign.ts';
import type { Metrics } from '../../ops/metrics.ts';
import type { Logger } from '../../shared/logger.ts';
import { TrustlineError } from '../../shared/errors.ts';

/** Where one control record goes. */
export type RelayDecision = { relay: true; key: string } | { relay: false; dead: Omit<DlqInput, 'value' | 'key' | 'source'> };

/** Pure: decide what to do with one record of the control topic. */
export function routeControlRecord(value: Buffer | null, verifier: Verifier | null): RelayDecision {
  const r = decodeControl(value);
  if (!r.ok) return { relay: false, dead: { code: r.code, message: r.message, path: r.path } };
  if (!verifier || !verifier.verify(r.control))
    return { relay: false, dead: { code: 'bad_signature', message: 'control record signature does not verify against the operator key ring', path: '/sig' } };
  return { relay: true, key: r.control.agentId };
}

export type ControlRelayOptions = {
  kafka: Kafka;
  producer: Producer;
  groupId: string;
  topics: { control: string; requests: string; dlq: string };
  verifier: Verifier | null;
  log: Logger;
  sessionTimeoutMs: number;
  /** The processor's registry: relayed/rejected records, produce failures and the relay's lag (docs/operations.md). */
  metrics?: Pick<Metrics, 'relayRecords' | 'relayFailures' | 'relayLag' | 'signatureRejections'>;
};

export type ControlRelay = { stop(): Promise<void>; readonly counts: { relayed: number; rejected: number } };

/** Start the relay with its own consumer group (`<groupId>-control`); resolves once subscribed, before the group is joined. */
export async function startControlRelay(o: ControlRelayOptions): Promise<ControlRelay> {
  const counts = { relayed: 0, rejected: 0 };
  let stopping = false;
  const consumer: Consumer = o.kafka.consumer({
    // After stop() a failure (e.g. a disconnect while still joining) must not restart the relay.
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5_000, restartOnFailure: async () => !stopping },
    groupId: `${o.groupId}-control`,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(o.sessionTimeoutMs / 10)),
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: o.topics.control, fromBeginning: true });
  // Not awaited: joining the relay's group can wait for a crashed instance's session to expire,
  // and that must never delay the request consumer.
  const running = consumer.run({
    autoCommit: true,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
      const relay: Message[] = [];
      const dead: Message[] = [];
      const deadCodes: string[] = [];
      for (const m of batch.messages) {
        const d = routeControlRecord(m.value, o.verifier);
        if (d.relay) relay.push({ key: d.key, value: m.value });
        else {
          deadCodes.push(d.dead.code);
          dead.push(
            toDlqKafkaMessage({
              value: m.value,
              key: m.key,
              ...d.dead,
              source: { topic: batch.topic, partition: batch.partition, offset: m.offset },
            }) as Message,
          );
          o.log.warn({ topic: batch.topic, partition: batch.partition, offset: m.offset, code: d.dead.code }, 'control record rejected');
        }
      }
      const topicMessages: TopicMessages[] = [];
      if (relay.length) topicMessages.push({ topic: o.topics.requests, messages: relay });
      if (dead.length) topicMessages.push({ topic: o.topics.dlq, messages: dead });
      if (topicMessages.length) {
        try {
          await o.producer.sendBatch({ topicMessages, acks: -1 });
        } catch (cause) {
          o.metrics?.relayFailures.inc();
          // Not resolved: the batch is fetched again (kafkajs restarts the consumer on a thrown error).
          throw new TrustlineError('SINK_FAILED', `relaying control records failed: ${(cause as Error).message}`, { cause, retriable: true });
        }
      }
      counts.relayed += relay.length;
      counts.rejected += dead.length;
      if (o.metrics) {
        if (relay.length) o.metrics.relayRecords.inc({ outcome: 'relayed', code: '' }, relay.length);
        for (const code of deadCodes) {
          o.metrics.relayRecords.inc({ outcome: 'rejected', code });
          if (code === 'unsigned' || code === 'bad_signature') o.metrics.signatureRejections.inc({ where: 'relay', code });
        }
        o.metrics.relayLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
      }
      if (relay.length) o.log.info({ relayed: relay.length }, 'control records relayed');
      const last = batch.messages[batch.messages.length - 1];
      if (last) resolveOffset(last.offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    },
  });
  running.catch((err: unknown) => {
    if (!stopping) o.log.error({ err }, 'control relay stopped');
  });
  return {
    counts,
    stop: async () => {
      stopping = true;
      await consumer.disconnect();
    },
  };
}
