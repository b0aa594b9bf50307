/**
 * Replay on the embedded default: file source → the batch pipeline → in-memory state →
 * file sinks. No Kafka, no Redis. Two replays of the same file give byte-identical outputs,
 * `escalations.jsonl` and `audit.jsonl` (one hash chain per input file, `partition` = the
 * file's 0-based position in the input list) included. It also writes `state.jsonl` (every
 * agent's final stored state, base64, per input file: what Redis would hold; read by
 * `trustline agent --replay`) and `manifest.json` (inputs, model, mode).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/config.ts';
import { FileSink } from './file-sink.ts';
import type { BatchOutputs } from '../../outputs/sink.ts';
import { loadAnomalyScorer } from '../../scoring/pipeline-scorer.ts';
import { readRecordBatches } from './file-source.ts';
import { MemoryStateStore } from '../../state/memory-store.ts';
import { BatchProcessor, type StageTimes } from '../../pipeline/batch-processor.ts';
import { configuredDeps } from '../../pipeline/configure.ts';
import { PEER_TENANT } from '../../core/peers.ts';

export type ReplaySummary = {
  files: string[];
  records: number;
  applied: number;
  dead: number;
  trustUpdates: number;
  circuitSignals: number;
  escalations: number;
  auditRecords: number;
  /** Dead-letter codes and how many lines got each, for the command line's hints. */
  deadByCode: Record<string, number>;
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
  const statePath = join(outDir, 'state.jsonl');
  writeFileSync(statePath, '');
  const dumpStates = (file: number): void => {
    const lines: string[] = [];
    for (const [key, bytes] of store.entries()) {
      const [tenant, agentId] = key.split('\u0000') as [string, string];
      if (tenant === PEER_TENANT) continue; // peer-group records (src/core/peers.ts) are not agents
      lines.push(JSON.stringify({ file, tenant, agentId, state: Buffer.from(bytes).toString('base64') }) + '\n');
      if (lines.length >= 10_000) appendFileSync(statePath, lines.splice(0).join(''));
    }
    if (lines.length) appendFileSync(statePath, lines.join(''));
  };
  const deadByCode: Record<string, number> = {};
  try {
    for (const [i, file] of files.entries()) {
      // Each file is its own stream: positions restart, so so does state.
      if (i > 0) dumpStates(i - 1);
      agents += store.size;
      await store.clear();
      fileIndex = i;
      for await (const batch of readRecordBatches(file, options.batchSize ?? 1000)) {
        const r = await processor.process(batch);
        records += batch.length;
        applied += r.applied;
        dead += r.dead;
        for (const d of r.outputs.dlq) deadByCode[d.code] = (deadByCode[d.code] ?? 0) + 1;
        options.onBatch?.({ records: batch.length, outputs: r.outputs });
      }
    }
    if (files.length) dumpStates(files.length - 1);
    agents += store.size;
  } finally {
    await sink.close();
    await scorer.close();
  }
  writeFileSync(
    join(outDir, 'manifest.json'),
    JSON.stringify({ files: [...files], model: scorer.modelId, mode: config.mode, records, agents }, null, 2) + '\n',
  );
  return {
    files: [...files],
    records,
    applied,
    dead,
    trustUpdates: sink.counts.trust,
    circuitSignals: sink.counts.circuit,
    escalations: sink.counts.escalations,
    auditRecords: sink.counts.audit,
    deadByCode,
    agents,
    model: scorer.modelId,
    wallMs: Math.round(performance.now() - started),
    stageMs: processor.times,
  };
}
