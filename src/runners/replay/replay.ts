/**
 * Replay on the embedded default: file source → the batch pipeline → in-memory state →
 * file sinks. No Kafka, no Redis. Two replays of the same file give byte-identical outputs,
 * `escalations.jsonl` and `audit.jsonl` (one hash chain per input file, `partition` = the
 * file's 0-based position in the input list) included.
 */
import type { Config } from '../../config/config.ts';
import { FileSink } from './file-sink.ts';
import type { BatchOutputs } from '../../outputs/sink.ts';
import { loadAnomalyScorer } from '../../scoring/pipeline-scorer.ts';
import { readRecordBatches } from './file-source.ts';
import { MemoryStateStore } from '../../state/memory-store.ts';
import { BatchProcessor, type StageTimes } from '../../pipeline/batch-processor.ts';
import { configuredDeps } from '../../pipeline/configure.ts';

export type ReplaySummary = {
  files: string[];
  records: number;
  applied: number;
  dead: number;
  trustUpdates: number;
  circuitSignals: number;
  agents: number;
  model: string;
  wallMs: number;
  stageMs: StageTimes;
};

export async function replayFiles(
  files: readonly string[],
  outDir: string,
  config: Config,
  options: { batchSize?: number; onBatch?: (p: { records: number; outputs: BatchOutputs }) => void } = {},
): Promise<ReplaySummary> {
  const started = performance.now();
  const scorer = await loadAnomalyScorer(config.model.card, config.model.intraOpThreads);
  const store = new MemoryStateStore();
  const sink = new FileSink(outDir);
  const processor = new BatchProcessor({
    store,
    scorer,
    sink,
    ...configuredDeps(config),
    // One audit chain per input file (positions restart per file), numbered in input order.
    audit: { topic: config.kafka.topics.audit, partitionOf: () => fileIndex },
  });
  let fileIndex = 0;
  let records = 0;
  let applied = 0;
  let dead = 0;
  let agents = 0;
  try {
    for (const [i, file] of files.entries()) {
      // Each file is its own stream: positions restart, so so does state.
      agents += store.size;
      await store.clear();
      fileIndex = i;
      for await (const batch of readRecordBatches(file, options.batchSize ?? 1000)) {
        const r = await processor.process(batch);
        records += batch.length;
        applied += r.applied;
        dead += r.dead;
        options.onBatch?.({ records: batch.length, outputs: r.outputs });
      }
    }
    agents += store.size;
  } finally {
    await sink.close();
    await scorer.close();
  }
  return {
    files: [...files],
    records,
    applied,
    dead,
    trustUpdates: sink.counts.trust,
    circuitSignals: sink.counts.circuit,
    agents,
    model: scorer.modelId,
    wallMs: Math.round(performance.now() - started),
    stageMs: processor.times,
  };
}
