/**
 * Prometheus metrics of the processor (`GET /metrics`). One registry per process; the
 * pipeline adapters record into it, nothing in the pure core knows about it.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'trustline_process_' });
  const ms = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
  return {
    registry,
    events: new Counter({ name: 'trustline_events_total', help: 'Input records by outcome (applied, skipped = already applied, dead = sent to the DLQ).', labelNames: ['outcome'] as const, registers: [registry] }),
    dlq: new Counter({ name: 'trustline_dlq_total', help: 'Records sent to the dead-letter topic, by reason code.', labelNames: ['code'] as const, registers: [registry] }),
    batchSize: new Histogram({ name: 'trustline_batch_size', help: 'Records per processed batch.', buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000], registers: [registry] }),
    emitLatency: new Histogram({ name: 'trustline_event_to_emit_ms', help: 'Event time to outputs acknowledged by Kafka, ms (needs synchronised clocks between gateway and processor).', buckets: [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 5000, 30000], registers: [registry] }),
    onnxMs: new Histogram({ name: 'trustline_onnx_ms', help: 'Model scoring time per batch, ms.', buckets: ms, registers: [registry] }),
    redisMs: new Histogram({ name: 'trustline_redis_ms', help: 'State load + save time per batch, ms.', buckets: ms, registers: [registry] }),
    lag: new Gauge({ name: 'trustline_consumer_lag', help: 'Offset lag of the last batch per partition.', labelNames: ['partition'] as const, registers: [registry] }),
    bands: new Counter({ name: 'trustline_trust_updates_total', help: 'Emitted trust updates by band.', labelNames: ['band'] as const, registers: [registry] }),
    circuits: new Counter({ name: 'trustline_circuit_transitions_total', help: 'Circuit state changes by new state.', labelNames: ['state'] as const, registers: [registry] }),
    staleSaves: new Counter({ name: 'trustline_stale_saves_total', help: 'State saves refused by the watermark compare-and-set (newer state already stored).', registers: [registry] }),
    redisErrors: new Counter({ name: 'trustline_redis_errors_total', help: 'Redis connection errors reported by the client.', registers: [registry] }),
    retries: new Counter({ name: 'trustline_batch_retries_total', help: 'Batches retried after a retriable failure (Redis or Kafka unavailable).', registers: [registry] }),
  };
}
