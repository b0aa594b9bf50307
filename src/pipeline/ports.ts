/**
 * The pipeline's ports: what a runner plugs in (docs/architecture.md). A runner (Kafka in
 * src/runners/kafka, files in src/runners/replay) supplies input records, a state store, an
 * output sink and a scorer; the pipeline (batch-processor.ts) does the rest.
 */
import type { FeatureStats } from '../core/reasons.ts';

export type { StateStore, SaveEntry, SaveOutcome, AuditChainKey, AuditHeadSave, StoredAuditHead } from '../state/store.ts';
export type { OutputSink, BatchOutputs, ScoreRow, DeadLetter } from '../outputs/sink.ts';
export type { AgentKey } from '../core/agent-key.ts';

/** One input record from any source. */
export type InputRecord = {
  value: Buffer | null;
  key: Buffer | null;
  /** Monotonic position within the source partition (Kafka offset, file line). */
  position: number;
  source: { topic: string; partition: number; offset: string };
};

/** The scoring model as the pipeline sees it: one call per batch. */
export interface AnomalyScorer {
  readonly modelId: string;
  readonly featureStats: FeatureStats;
  /** Calibrated anomaly in [0,1] for each row of a row-major [rows × FEATURE_COUNT] matrix. */
  score(matrix: Float32Array, rows: number): Promise<Float32Array>;
}
