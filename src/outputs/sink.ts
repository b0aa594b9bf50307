/**
 * What one batch produces, and the sink contract that delivers it (Kafka topics, or files for
 * replay). A sink's `write` resolves only when every record is durably handed off (Kafka:
 * acknowledged by the broker), because the caller saves state and commits offsets after it.
 */
import type { DlqInput } from '../contract/dlq.ts';
import type { AuditRecord } from '../audit/chain.ts';
import type { CircuitSignal, Escalation, Reason, TrustUpdate } from '../contract/schemas.ts';

/** A rejected input record, with the original bytes unchanged. */
export type DeadLetter = DlqInput;

/** One row per applied event, for analysts (`scores.jsonl` in replay). */
export type ScoreRow = {
  agentId: string;
  eventId: string;
  seq: number;
  ts: number;
  anomaly: number;
  trust: number;
  band: TrustUpdate['band'];
  circuit: CircuitSignal['state'];
  reasons: Reason[];
};

export type BatchOutputs = {
  trust: TrustUpdate[];
  circuit: CircuitSignal[];
  dlq: DeadLetter[];
  scores: ScoreRow[];
  /** Escalation records (pending, and again when decided). Optional for sinks and tests that predate escalations. */
  escalations?: Escalation[];
  /** Audit chain records, in chain order per partition (`record.partition`). */
  audit?: AuditRecord[];
};

export interface OutputSink {
  /** Deliver a batch's outputs; resolves when all are acknowledged. */
  write(outputs: BatchOutputs): Promise<void>;
  close(): Promise<void>;
}
