/**
 * Prometheus metrics of the processor (`GET /metrics`). One registry per process; the runner
 * records into it (see {@link recordBatch}), nothing in the pure core knows about it.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/): base units in the name
 * (`_seconds`, `_bytes`), `_total` on counters, `trustline_` on everything of ours; the default
 * process and Node.js metrics keep their standard names (`process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds`, …) so stock dashboards work. The list is in docs/operations.md.
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchResult } from '../pipeline/batch-processor.ts';

export type Metrics = ReturnType<typeof createMetrics>;

/** The package version (package.json), `unknown` when it cannot be read. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Latency buckets in seconds: 0.5 ms … 2.5 s (model and Redis calls per chunk). */
const STAGE_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Event time → acknowledged outputs, seconds: 1 ms … 30 s. */
const EMIT_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const r = [registry];
  const m = {
    registry,
    buildInfo: new Gauge({
      name: 'trustline_build_info',
      help: 'Always 1; the labels name the running build and the loaded model.',
      labelNames: ['version', 'model'] as const,
      registers: r,
    }),
    events: new Counter({
      name: 'trustline_events_total',
      help: 'Input records by outcome (applied, skipped = already applied, dead = sent to the DLQ).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    dlq: new Counter({
      name: 'trustline_dlq_total',
      help: 'Records sent to the dead-letter topic by the processor, by reason code.',
      labelNames: ['code'] as const,
      registers: r,
    }),
    batchSize: new Histogram({
      name: 'trustline_batch_size',
      help: 'Records per processed chunk.',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
      registers: r,
    }),
    emitLatency: new Histogram({
      name: 'trustline_event_to_emit_seconds',
      help: 'Event time to outputs acknowledged by Kafka, seconds (needs synchronised clocks between gateway and processor).',
      buckets: EMIT_BUCKETS,
      registers: r,
    }),
    scoreSeconds: new Histogram({
      name: 'trustline_onnx_seconds',
      help: 'Model scoring time per chunk (one ONNX call), seconds.',
      buckets: STAGE_BUCKETS,
      registers: r,
    }),
    redisSeconds: new Histogram({
      name: 'trustline_redis_seconds',
      help: 'State round trip per chunk, seconds: op="load" (one MGET), op="save" (one compare-and-set pipeline).',
      labelNames: ['op'] as const,
      buckets: STAGE_BUCKETS,
      registers: r,
    }),
    lag: new Gauge({
      name: 'trustline_consumer_lag',
      help: 'Offset lag of the requests consumer at its last batch, per assigned partition (removed when the partition is revoked).',
      labelNames: ['topic', 'partition'] as const,
      registers: r,
    }),
    bands: new Counter({ name: 'trustline_trust_updates_total', help: 'Emitted trust updates by band.', labelNames: ['band'] as const, registers: r }),
    circuits: new Counter({
      name: 'trustline_circuit_transitions_total',
      help: 'Circuit state changes by new state.',
      labelNames: ['state'] as const,
      registers: r,
    }),
    control: new Counter({
      name: 'trustline_control_total',
      help: 'Authentic operator control records reaching the processor, by action and outcome (applied, ignored; duplicates are not counted).',
      labelNames: ['action', 'outcome'] as const,
      registers: r,
    }),
    escalations: new Counter({
      name: 'trustline_escalations_total',
      help: 'Escalation records emitted, by status (pending, approved, denied).',
      labelNames: ['status'] as const,
      registers: r,
    }),
    audit: new Counter({
      name: 'trustline_audit_records_total',
      help: 'Records appended to the audit hash chains, by entry kind.',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    signatures: new Counter({
      name: 'trustline_signatures_total',
      help: 'Output records signed, by record kind (trust, circuit, escalation).',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    signatureRejections: new Counter({
      name: 'trustline_signature_rejections_total',
      help: 'Control records rejected for their signature (code unsigned or bad_signature), by where (relay, processor).',
      labelNames: ['where', 'code'] as const,
      registers: r,
    }),
    staleSaves: new Counter({
      name: 'trustline_stale_saves_total',
      help: 'State saves refused by the watermark compare-and-set (newer state already stored).',
      registers: r,
    }),
    redisErrors: new Counter({ name: 'trustline_redis_errors_total', help: 'Redis connection errors reported by the client.', registers: r }),
    retries: new Counter({
      name: 'trustline_batch_retries_total',
      help: 'Batches retried after a retriable failure (Redis or Kafka unavailable).',
      registers: r,
    }),
    relayRecords: new Counter({
      name: 'trustline_control_relay_records_total',
      help: 'Records of the control topic handled by the control relay: outcome relayed (into the requests topic) or rejected (to the DLQ), with the rejection code.',
      labelNames: ['outcome', 'code'] as const,
      registers: r,
    }),
    relayFailures: new Counter({
      name: 'trustline_control_relay_failures_total',
      help: 'Control relay batches whose produce failed (the batch is fetched again).',
      registers: r,
    }),
    relayLag: new Gauge({
      name: 'trustline_control_relay_lag',
      help: 'Offset lag of the control relay at its last batch, per partition of the control topic.',
      labelNames: ['topic', 'partition'] as const,
      registers: r,
    }),
    /** Label sets of `lag` currently reported (prom-client's `get()` is async; this is kept in step). */
    lagSeries: new Map<string, { topic: string; partition: string }>(),
  };
  return m;
}

/** Reports the consumer lag of one partition (see {@link retainLag}). */
export function setLag(m: Metrics, topic: string, partition: number, lag: number): void {
  const labels = { topic, partition: String(partition) };
  m.lagSeries.set(`${topic}\u0000${partition}`, labels);
  m.lag.set(labels, lag);
}

/** Sets `trustline_build_info{version,model} 1` (once the model is known). */
export function setBuildInfo(m: Metrics, model: string, version = packageVersion()): void {
  m.buildInfo.reset();
  m.buildInfo.set({ version, model }, 1);
}

/**
 * Keeps the lag series of exactly the partitions in `assignment` (topic → partitions, as in
 * kafkajs' GROUP_JOIN `memberAssignment`): a partition revoked in a rebalance stops being
 * reported instead of showing its last value for ever.
 */
export function retainLag(m: Metrics, assignment: Record<string, readonly number[]>): void {
  const keep = new Set(Object.entries(assignment).flatMap(([topic, parts]) => parts.map((p) => `${topic}\u0000${p}`)));
  for (const [key, labels] of m.lagSeries) {
    if (keep.has(key)) continue;
    m.lag.remove(labels);
    m.lagSeries.delete(key);
  }
}

const SIGNATURE_CODES = new Set(['unsigned', 'bad_signature']);

/** Records one processed chunk: counts by outcome and kind, stage latencies, emit latency. */
export function recordBatch(m: Metrics, r: BatchResult, records: number, ackAt: number): void {
  m.events.inc({ outcome: 'applied' }, r.applied);
  m.events.inc({ outcome: 'skipped' }, r.skipped);
  m.events.inc({ outcome: 'dead' }, r.dead);
  for (const d of r.outputs.dlq) {
    m.dlq.inc({ code: d.code });
    if (SIGNATURE_CODES.has(d.code)) m.signatureRejections.inc({ where: 'processor', code: d.code });
  }
  for (const t of r.outputs.trust) m.bands.inc({ band: t.band });
  for (const c of r.outputs.circuit) m.circuits.inc({ state: c.state });
  const escalations = r.outputs.escalations ?? [];
  for (const e of escalations) m.escalations.inc({ status: e.status });
  if (r.outputs.trust.length) m.signatures.inc({ kind: 'trust' }, r.outputs.trust.length);
  if (r.outputs.circuit.length) m.signatures.inc({ kind: 'circuit' }, r.outputs.circuit.length);
  if (escalations.length) m.signatures.inc({ kind: 'escalation' }, escalations.length);
  for (const a of r.outputs.audit ?? []) {
    const kind = typeof a.entry.kind === 'string' ? a.entry.kind : 'other';
    m.audit.inc({ kind });
    // Every applied or ignored control record is audited (duplicates change nothing and are not).
    if (kind === 'control') m.control.inc({ action: String(a.entry.action), outcome: String(a.entry.outcome) });
  }
  for (const ts of r.eventTimes) m.emitLatency.observe(Math.max(0, ackAt - ts) / 1000);
  m.staleSaves.inc(r.staleSaves);
  m.batchSize.observe(records);
  m.scoreSeconds.observe(r.times.score / 1000);
  m.redisSeconds.observe({ op: 'load' }, r.times.load / 1000);
  m.redisSeconds.observe({ op: 'save' }, r.times.save / 1000);
}
