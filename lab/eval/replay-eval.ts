/**
 * `trustline replay … --labels`: replay event files through the real pipeline and evaluate what
 * it emitted against each file's labels, writing `<out>/summary.json` beside the replay outputs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../src/config/config.ts';
import type { BatchOutputs } from '../../src/outputs/sink.ts';
import { replayFiles, type ReplaySummary } from '../../src/runners/replay/replay.ts';
import { readRecordBatches } from '../../src/runners/replay/file-source.ts';
import { DetectionEvaluator, type EvalRow, type EvalSummary } from './evaluator.ts';
import { loadLabels, type Labels } from './labels.ts';

/** The evaluation rows of one batch's outputs: one per score row, `opened` from its circuit signals. */
export function evalRowsOf(outputs: BatchOutputs): EvalRow[] {
  const opened = new Set<string>();
  for (const c of outputs.circuit) if (c.state === 'open' || c.state === 'forced_open') opened.add(`${c.seq}\u0000${c.agentId}`);
  return outputs.scores.map((r) => ({
    agentId: r.agentId,
    ts: r.ts,
    anomaly: r.anomaly,
    trust: r.trust,
    band: r.band,
    circuit: r.circuit,
    opened: opened.size > 0 && opened.has(`${r.seq}\u0000${r.agentId}`),
    reasons: r.reasons,
  }));
}

/** Number of input records (non-blank lines) of a file, exactly as the file source yields them. */
export async function countRecords(file: string): Promise<number> {
  let n = 0;
  for await (const batch of readRecordBatches(file, 10_000)) n += batch.length;
  return n;
}

export type LabelledReplay = { replay: ReplaySummary; summary: EvalSummary; summaryPath: string };

/**
 * Replays `files` (each its own stream, as `trustline replay` does) into `outDir` and evaluates
 * against `labelFiles[i]` for `files[i]`. Writes `<outDir>/summary.json`.
 */
export async function replayWithLabels(files: readonly string[], labelFiles: readonly string[], outDir: string, config: Config): Promise<LabelledReplay> {
  if (files.length !== labelFiles.length) throw new RangeError(`${files.length} input files but ${labelFiles.length} labels files`);
  const labels: Labels[] = labelFiles.map((p) => loadLabels(p));
  // The pipeline reads the files in order and a batch never spans two files, so record counts
  // attribute every batch to its file.
  const counts: number[] = [];
  for (const f of files) counts.push(await countRecords(f));
  const evaluator = new DetectionEvaluator('trustline');
  let fileIdx = -1;
  let left = 0;
  const onBatch = ({ records, outputs }: { records: number; outputs: BatchOutputs }): void => {
    while (left === 0 && fileIdx < files.length - 1) {
      fileIdx++;
      left = counts[fileIdx]!;
      evaluator.beginStream(files[fileIdx]!, labels[fileIdx]!);
    }
    if (records > left) throw new Error(`replay batch of ${records} records does not fit file ${files[fileIdx]} (${left} left)`);
    left -= records;
    for (const row of evalRowsOf(outputs)) evaluator.add(row);
  };
  const replay = await replayFiles(files, outDir, config, { onBatch });
  // Files with no records still count as (empty) streams.
  while (fileIdx < files.length - 1) {
    fileIdx++;
    evaluator.beginStream(files[fileIdx]!, labels[fileIdx]!);
  }
  const summary = { model: replay.model, labels: [...labelFiles], ...evaluator.summary() };
  const summaryPath = join(outDir, 'summary.json');
  writeFileSync(summaryPath, JSON.stringify(summary, null, 2) + '\n');
  return { replay, summary, summaryPath };
}

/** A short human-readable table of a summary (printed by the CLI and the eval scripts). */
export function formatSummary(s: EvalSummary): string {
  const pct = (x: number | null): string => (x === null ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);
  const q = (x: number | null): string => (x === null ? '-' : String(x));
  const lines = [
    `detector ${s.detector}: ${s.overall.detected}/${s.overall.agents} malicious agents detected (${pct(s.overall.detectionRate).trim()}), ` +
      `${s.overall.benignAgentsFlagged}/${s.overall.benignAgents} benign agents flagged (${pct(s.overall.falsePositiveRate).trim()}), ` +
      `benign events flagged ${pct(s.overall.benignEventFlagRate).trim()}, ROC-AUC ${q(s.overall.rocAuc)}, PR-AUC ${q(s.overall.prAuc)}`,
  ];
  lines.push(
    `  time to detect: median ${q(s.overall.timeToDetectEvents.median)} events / ${q(s.overall.timeToDetectSeconds.median)} s, p90 ${q(s.overall.timeToDetectEvents.p90)} events / ${q(s.overall.timeToDetectSeconds.p90)} s`,
  );
  lines.push(`  ${'scenario'.padEnd(24)} detected  rate    ttd med/p90 (events)  ttd med/p90 (s)   ROC-AUC  PR-AUC`);
  for (const [name, g] of Object.entries(s.perScenario)) {
    lines.push(
      `  ${name.padEnd(24)} ${`${g.detected}/${g.agents}`.padStart(8)}  ${pct(g.detectionRate)}  ${`${q(g.timeToDetectEvents.median)}/${q(g.timeToDetectEvents.p90)}`.padStart(20)}  ${`${q(g.timeToDetectSeconds.median)}/${q(g.timeToDetectSeconds.p90)}`.padStart(15)}   ${q(g.rocAuc).toString().padStart(6)}  ${q(g.prAuc).toString().padStart(6)}`,
    );
  }
  const fpProfiles = Object.entries(s.perBenignProfile).filter(([, p]) => p.flagged > 0);
  if (fpProfiles.length) lines.push(`  benign agents flagged by profile: ${fpProfiles.map(([n, p]) => `${n} ${p.flagged}/${p.agents}`).join(', ')}`);
  return lines.join('\n') + '\n';
}
