/**
 * The report of a finished replay, read back from its output folder (`scores.jsonl`,
 * `circuit.jsonl`, `trust.jsonl`, `dlq.jsonl`), so it works the same after `trustline replay`
 * with or without `--labels`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CircuitSignal } from '../../src/contract/schemas.ts';
import type { EvalSummary } from '../eval/evaluator.ts';
import type { Labels } from '../eval/labels.ts';
import type { ScoreRow } from '../../src/outputs/sink.ts';
import { readLines } from '../../src/runners/replay/file-source.ts';
import { detectionTables } from './detection.ts';
import { collectDrill } from './drill.ts';
import { ReplayRecorder } from './recorder.ts';
import { writeReport } from './write.ts';

async function eachJsonLine<T>(file: string, fn: (value: T) => void): Promise<void> {
  if (!existsSync(file)) return;
  for await (const { bytes } of readLines(file)) if (bytes.length) fn(JSON.parse(bytes.toString('utf8')) as T);
}

/** A recorder filled from a replay output folder. */
export async function recordReplayOutputs(outDir: string): Promise<ReplayRecorder> {
  const rec = new ReplayRecorder();
  const rows: ScoreRow[] = [];
  const flush = (): void => {
    rec.addScores(rows);
    rows.length = 0;
  };
  await eachJsonLine<ScoreRow>(join(outDir, 'scores.jsonl'), (r) => {
    rows.push(r);
    if (rows.length >= 5000) flush();
  });
  flush();
  const signals: CircuitSignal[] = [];
  await eachJsonLine<CircuitSignal>(join(outDir, 'circuit.jsonl'), (c) => signals.push(c));
  rec.addCircuit(signals);
  await eachJsonLine<{ code: string }>(join(outDir, 'dlq.jsonl'), (d) => rec.addDead(d.code));
  await eachJsonLine<unknown>(join(outDir, 'trust.jsonl'), () => rec.trustUpdates++);
  rec.records = rec.scored + [...rec.dlq.values()].reduce((s, n) => s + n, 0);
  return rec;
}

/** Labels of several files as one: agent ids are assumed distinct across files (later files win). */
export function mergeLabels(all: readonly Labels[]): Labels {
  return { agents: Object.assign({}, ...all.map((l) => l.agents)) as Labels['agents'] };
}

/**
 * Write the HTML report of the replay whose outputs are in `outDir`; resolves to the report's
 * size in bytes and its number of agents.
 */
export async function writeReplayReport(options: {
  outDir: string;
  reportFile: string;
  files: readonly string[];
  model?: string;
  mode?: string;
  labels?: Labels;
  summary?: EvalSummary;
  title?: string;
  /** One time axis for every timeline (default: each agent's own range). */
  sharedAxis?: boolean;
}): Promise<{ bytes: number; agents: number }> {
  const recorder = await recordReplayOutputs(options.outDir);
  // The events behind each verdict, with the requests read back from the replayed inputs.
  const drill = await collectDrill(options.outDir, options.files);
  const bytes = await writeReport(options.reportFile, {
    files: options.files,
    recorder,
    drill,
    ...(options.sharedAxis ? { sharedAxis: true } : {}),
    ...(options.title ? { title: options.title } : {}),
    ...(options.model ? { model: options.model } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    ...(options.labels ? { labels: options.labels } : {}),
    ...(options.summary ? { detection: detectionTables(options.summary) } : {}),
  });
  return { bytes, agents: recorder.agents.size };
}

/**
 * `trustline replay --report`: the report of a finished replay, with the labels and the
 * detection summary when it was evaluated; resolves to the line the CLI prints.
 */
export async function writeReplayReportCli(o: {
  outDir: string;
  reportFile: string;
  files: readonly string[];
  model: string;
  mode: string;
  evaluated: { labelFiles: readonly string[]; summary: EvalSummary } | null;
}): Promise<string> {
  const { loadLabels } = await import('../eval/labels.ts');
  const labels = o.evaluated ? mergeLabels(o.evaluated.labelFiles.map((f) => loadLabels(f))) : undefined;
  const r = await writeReplayReport({
    outDir: o.outDir,
    reportFile: o.reportFile,
    files: o.files,
    model: o.model,
    mode: o.mode,
    ...(labels ? { labels } : {}),
    ...(o.evaluated ? { summary: o.evaluated.summary } : {}),
  });
  return `wrote ${o.reportFile} (${Math.round(r.bytes / 1024)} KiB, ${r.agents} agent timelines)\n`;
}
