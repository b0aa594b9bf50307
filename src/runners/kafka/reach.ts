/**
 * Startup check shared by `trustline run`, `publish` and `control`: can the brokers be reached at
 * all? Asked once, quietly (no kafkajs log lines), with a short bound, so an unreachable or wrong
 * `KAFKA_BROKERS` gives one line — which brokers, and why — within seconds instead of half a
 * minute of retry warnings and a stack trace (docs/operations.md, "Startup and failure").
 */
import { TrustlineError } from '../../shared/errors.ts';
import { createKafkaClient } from '../../shared/kafka.ts';

/**
 * Resolves once a broker answered a metadata request; throws a non-retriable `KAFKA_UNAVAILABLE`
 * error naming the brokers otherwise.
 */
export async function assertKafkaReachable(brokers: readonly string[], clientId = 'trustline'): Promise<void> {
  // The `command` profile: silent, gives up within seconds.
  const kafka = createKafkaClient({ brokers: [...brokers], clientId: `${clientId}-probe`, profile: 'command' });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (cause) {
    const why = describeKafkaError(cause);
    throw new TrustlineError('KAFKA_UNAVAILABLE', `cannot reach Kafka at ${brokers.join(',')}: ${why} (check KAFKA_BROKERS / kafka.brokers)`, {
      cause,
      retriable: false,
    });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The innermost useful message of a kafkajs error (retries wrap the real cause). */
export function describeKafkaError(err: unknown): string {
  let e = err as { message?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let i = 0; i < 5 && e && (e.originalError || e.cause); i++) e = (e.originalError ?? e.cause) as typeof e;
  return e?.message ?? String(err);
}
