/**
 * The one place kafkajs clients are made for trustline's own processes (docs/architecture.md):
 * the long-running processor and relay (`service`: patient retries, broker log lines through the
 * process logger) and the one-shot commands publish, control and audit (`command`: give up within
 * seconds, so an unreachable broker is one clear error instead of half a minute of retries).
 * The enforcer SDK builds its own client: it is a separate, light package.
 */
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { Logger } from './logger.ts';

export type KafkaClientOptions = {
  brokers: string[];
  clientId: string;
  /** `service`: retries for ~40 s, warnings logged; `command`: fails within a few seconds, silent. */
  profile: 'service' | 'command';
  /** Where broker warnings go (services only). */
  log?: Logger;
  ssl?: KafkaConfig['ssl'];
  sasl?: KafkaConfig['sasl'];
};

export function createKafkaClient(o: KafkaClientOptions): Kafka {
  const auth = { ...(o.ssl !== undefined ? { ssl: o.ssl } : {}), ...(o.sasl !== undefined ? { sasl: o.sasl } : {}) };
  if (o.profile === 'command') {
    return new Kafka({
      clientId: o.clientId,
      brokers: o.brokers,
      ...auth,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2_000 },
    });
  }
  const log = o.log;
  return new Kafka({
    clientId: o.clientId,
    brokers: o.brokers,
    ...auth,
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
    ...(log
      ? {
          logCreator: () => (entry: { namespace: string; log: { message?: unknown } & Record<string, unknown> }) =>
            log.warn({ kafka: entry.namespace, ...entry.log }, String(entry.log.message ?? 'kafka')),
        }
      : {}),
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
}
