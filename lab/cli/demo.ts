/**
 * `trustline demo` (`npm start`): replays the demo fixture through the real pipeline on the
 * embedded default (file → pipeline → memory state → file sinks, via `replayFiles` and its
 * `onBatch`), shows it as it happens, then summarises what was caught and writes the HTML
 * report.
 *
 * Pacing: the replay runs in event time compressed to about `--seconds` (default 15) of wall
 * time. The pipeline is paced from `onBatch`: after each small batch the demo waits until the
 * wall clock reaches that batch's event time (a blocking wait of at most one frame, ~70 ms,
 * between frames, so the pipeline never runs ahead of what is on screen). `--fast` (and a
 * non-TTY without `--seconds`) runs unpaced. Output: on a TTY a live view redrawn in place
 * (agents, trust bars, bands, circuits, a progress bar, recent circuit changes); elsewhere
 * plain progress lines. Every number shown comes from the pipeline's own outputs; detection
 * against the labels sidecar uses the evaluator of `trustline replay --labels` (lab/eval).
 *
 * This module only loads light dependencies at import time, so `trustline --help` stays fast.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../../src/config/config.ts';
import type { Band, CircuitState } from '../../src/contract/schemas.ts';
import type { AgentOutcome, EvalSummary } from '../eval/evaluator.ts';
import type { Labels } from '../eval/labels.ts';
import type { BatchOutputs } from '../../src/outputs/sink.ts';
import { topReasons, type AgentRecord, type ReplayRecorder } from '../report/recorder.ts';
import { SGR, bar, circuitChangeText, count, fit, paint, type Out } from '../report/terminal.ts';
import { durationText } from '../../src/inspect/format.ts';
import { TrustlineError } from '../../src/shared/errors.ts';
import { packageFile } from '../../src/shared/package-files.ts';

/** The demo fixture that ships with the package (found relative to the package, whatever the cwd). */
export const DEMO_FILE = packageFile('fixtures/demo/demo.jsonl');

export type DemoOptions = {
  file: string;
  /** Labels sidecar, or null to run without detection figures. */
  labelsFile: string | null;
  outDir: string;
  reportFile: string;
  /** Wall-clock seconds the paced replay should take; null = unpaced. */
  seconds: number | null;
  config: Config;
  out: Out & { rows?: number; hasColors?: () => boolean };
};

export type DemoResult = {
  records: number;
  agents: number;
  dead: number;
  wallMs: number;
  eventSpanMs: number;
  reportFile: string;
  reportBytes: number;
  summary: EvalSummary | null;
};

type AgentView = { id: string; order: number; trust: number; band: Band; circuit: CircuitState; why: string; attackStartTs: number | null };
type Note = { ts: number; text: string; severity: number };

const BAND_SEVERITY: Record<Band, number> = { trusted: 0, watch: 1, restrict: 2, block: 3 };
const CIRCUIT_SEVERITY: Record<CircuitState, number> = { closed: 0, forced_closed: 0, half_open: 2, open: 3, forced_open: 3 };
const BAND_SGR: Record<Band, number> = { trusted: SGR.green, watch: SGR.yellow, restrict: SGR.magenta, block: SGR.red };
const CIRCUIT_SGR: Record<CircuitState, number> = { closed: SGR.green, forced_closed: SGR.green, half_open: SGR.yellow, open: SGR.red, forced_open: SGR.red };

const clockText = (ts: number): string => new Date(ts).toISOString().slice(11, 19);

/** Blocking sleep: the pipeline runs on this thread, so pausing here paces it. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}

/** Record count (non-blank lines, as the file source yields them) and the event-time range of a file. */
async function scan(file: string): Promise<{ records: number; firstTs: number; lastTs: number }> {
  const { readLines } = await import('../../src/runners/replay/file-source.ts');
  let records = 0;
  let firstTs = Infinity;
  let lastTs = -Infinity;
  for await (const { bytes } of readLines(file)) {
    if (bytes.length === 0 || (bytes.length < 8 && bytes.toString().trim() === '')) continue;
    records++;
    const m = /"ts"\s*:\s*(\d{10,16})/.exec(bytes.toString('latin1', 0, Math.min(bytes.length, 512)));
    if (m) {
      const ts = Number(m[1]);
      if (ts < firstTs) firstTs = ts;
      if (ts > lastTs) lastTs = ts;
    }
  }
  return { records, firstTs, lastTs };
}

/** The live terminal view: a frame redrawn in place. */
class LiveView {
  private height = 0;
  private readonly colour: boolean;

  constructor(
    private readonly out: DemoOptions['out'],
    private readonly title: string,
  ) {
    this.colour = typeof out.hasColors === 'function' ? out.hasColors() : false;
  }

  start(): void {
    this.out.write('\x1b[?25l');
  }

  stop(): void {
    this.out.write('\x1b[?25h');
  }

  draw(s: { eventTs: number; done: number; total: number; speed: number | null; agents: AgentView[]; notes: Note[]; labelled: boolean }): void {
    const cols = Math.max(60, this.out.columns ?? 100);
    const rows = Math.max(16, this.out.rows ?? 30);
    const p = (text: string, ...codes: number[]): string => paint(this.colour, text, ...codes);
    const lines: string[] = [];
    lines.push(p(fit(this.title, cols - 1), SGR.bold));
    const barW = Math.max(10, Math.min(30, cols - 70));
    const f = s.total ? s.done / s.total : 1;
    const open = s.agents.filter((a) => CIRCUIT_SEVERITY[a.circuit] >= 3).length;
    lines.push(
      fit(`event time ${clockText(s.eventTs)} UTC  `, 30) +
        p(bar(f, barW), SGR.cyan) +
        fit(
          ` ${(100 * f).toFixed(0).padStart(3)}%  ${count(s.done)}/${count(s.total)} events · ${s.agents.length} agents · ${open} open${s.speed ? ` · ${Math.round(s.speed)}× speed` : ''}`,
          cols - 31 - barW,
        ),
    );
    lines.push('');
    const trustW = cols >= 110 ? 16 : 10;
    const idW = Math.max(16, Math.min(44, cols - trustW - 46));
    lines.push(p(`  ${fit('AGENT', idW, true)} ${fit('TRUST', trustW + 6, true)}${fit('BAND', 10, true)}${fit('CIRCUIT', 11, true)}WHY`, SGR.dim));
    const recentMax = rows >= 26 ? 5 : 3;
    const room = Math.max(3, rows - 8 - recentMax - 1);
    const sorted = [...s.agents].sort(
      (a, b) => CIRCUIT_SEVERITY[b.circuit] + BAND_SEVERITY[b.band] - (CIRCUIT_SEVERITY[a.circuit] + BAND_SEVERITY[a.band]) || a.order - b.order,
    );
    const shown = sorted.length > room ? sorted.slice(0, room - 1) : sorted;
    for (const a of shown) {
      const attack = a.attackStartTs !== null && s.eventTs >= a.attackStartTs;
      const whyW = Math.max(0, cols - idW - trustW - 33);
      const circuitText = a.circuit === 'closed' ? 'closed' : a.circuit.toUpperCase().replace('_', '-');
      lines.push(
        (attack ? p('⚑ ', SGR.magenta, SGR.bold) : '  ') +
          fit(a.id, idW, true) +
          ' ' +
          p(bar(a.trust, trustW), BAND_SGR[a.band]) +
          ` ${a.trust.toFixed(2)} ` +
          p(fit(a.band, 10, true), BAND_SGR[a.band]) +
          p(fit(circuitText, 11, true), CIRCUIT_SGR[a.circuit], ...(a.circuit === 'closed' ? [] : [SGR.bold])) +
          p(fit(a.band === 'trusted' && a.circuit === 'closed' ? '' : a.why, whyW), SGR.dim),
      );
    }
    if (shown.length < sorted.length) {
      const rest = sorted.slice(shown.length);
      const trusted = rest.filter((a) => a.band === 'trusted' && a.circuit === 'closed').length;
      lines.push(p(`  … ${rest.length} more agent${rest.length === 1 ? '' : 's'} (${trusted} trusted with closed circuits)`, SGR.dim));
    }
    lines.push('');
    lines.push(p('recent circuit changes and drops to restrict/block:', SGR.dim));
    const recent = s.notes.slice(-recentMax);
    for (const n of recent) lines.push(fit(`  ${clockText(n.ts)}  ${n.text}`, cols - 1));
    for (let i = recent.length; i < recentMax; i++) lines.push('');
    lines.push(
      p(
        fit(`trust bar: 1.0 = trusted … 0 = block${s.labelled ? '   ⚑ = labelled attack in progress (labels sidecar)' : ''}   Ctrl-C stops`, cols - 1),
        SGR.dim,
      ),
    );
    // Cursor to the start of the previous frame, rewrite each line, clear what is left below.
    this.out.write((this.height ? `\x1b[${this.height}F` : '') + lines.map((l) => `${l}\x1b[K\n`).join('') + '\x1b[J');
    this.height = lines.length;
  }
}

/** Runs the demo; resolves when the replay, the summary and the report are done. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const { replayFiles } = await import('../../src/runners/replay/replay.ts');
  const { ReplayRecorder: Recorder } = await import('../report/recorder.ts');
  const { DetectionEvaluator } = await import('../eval/evaluator.ts');
  const { evalRowsOf } = await import('../eval/replay-eval.ts');
  const { loadLabels } = await import('../eval/labels.ts');

  if (!existsSync(o.file)) throw new TrustlineError('USAGE', `demo input ${o.file} not found (run from the repository root, or pass a file)`);
  const info = await scan(o.file);
  const span = Number.isFinite(info.firstTs) ? info.lastTs - info.firstTs : 0;
  const labels: Labels | null = o.labelsFile ? loadLabels(o.labelsFile) : null;
  const speed = o.seconds !== null && span > 0 ? Math.max(1, span / (o.seconds * 1000)) : null;
  const tty = o.out.isTTY === true;
  const title = `trustline demo — ${o.file} through the real pipeline (embedded default: no Kafka, no Redis)`;

  const recorder = new Recorder();
  const evaluator = labels ? new DetectionEvaluator('trustline') : null;
  evaluator?.beginStream(o.file, labels!);
  const views = new Map<string, AgentView>();
  const notes: Note[] = [];
  let done = 0;
  let eventTs = Number.isFinite(info.firstTs) ? info.firstTs : 0;
  let lastStep = -1;
  const view = tty ? new LiveView(o.out, title) : null;
  const frame = (ts: number): void =>
    view?.draw({ eventTs: ts, done, total: info.records, speed, agents: [...views.values()], notes, labelled: labels !== null });

  if (!tty) {
    o.out.write(
      `trustline demo: replaying ${o.file} (${count(info.records)} events, ${durationText(span)} of event time) through the real pipeline on the embedded default (no Kafka, no Redis)${speed ? `, paced at ${Math.round(speed)}× real time` : ''}\n`,
    );
  }

  const wallStart = performance.now();
  const onBatch = (b: { records: number; outputs: BatchOutputs }): void => {
    recorder.add(b);
    if (evaluator) for (const row of evalRowsOf(b.outputs)) evaluator.add(row);
    done += b.records;
    for (const r of b.outputs.scores) {
      let v = views.get(r.agentId);
      if (!v) {
        const l = labels?.agents[r.agentId];
        v = {
          id: r.agentId,
          order: views.size,
          trust: r.trust,
          band: r.band,
          circuit: r.circuit,
          why: '',
          attackStartTs: l?.malicious ? l.attackStartTs : null,
        };
        views.set(r.agentId, v);
      }
      if (BAND_SEVERITY[r.band] >= 2 && BAND_SEVERITY[r.band] > BAND_SEVERITY[v.band]) {
        notes.push({
          ts: r.ts,
          severity: 1,
          text: `${fit(r.agentId, 40)}  ${r.band}  trust ${r.trust.toFixed(2)}  ${r.reasons.map((x) => x.code).join(', ')}`,
        });
      }
      v.trust = r.trust;
      v.band = r.band;
      v.circuit = r.circuit;
      if (r.reasons.length) v.why = r.reasons.map((x) => x.code).join(', ');
      if (r.ts > eventTs) eventTs = r.ts;
    }
    for (const c of b.outputs.circuit) {
      const text = `${fit(c.agentId, 40)}  ${circuitChangeText(c.previous, c.state)}${c.reasons.length ? `  ${c.reasons.map((x) => x.code).join(', ')}` : ''}`;
      notes.push({ ts: c.issuedAt, severity: 2, text });
      if (!tty && (c.state === 'open' || c.state === 'forced_open')) o.out.write(`  ${clockText(c.issuedAt)}  ${text}\n`);
    }
    if (notes.length > 50) notes.splice(0, notes.length - 20);
    if (speed !== null) {
      // Hold the pipeline until the wall clock reaches this batch's event time; keep the clock moving meanwhile.
      const target = wallStart + (eventTs - info.firstTs) / speed;
      for (let now = performance.now(); now < target; now = performance.now()) {
        sleepMs(Math.min(target - now, 70));
        if (view) frame(Math.min(eventTs, info.firstTs + (performance.now() - wallStart) * speed));
      }
    }
    if (view) frame(eventTs);
    else {
      const step = Math.floor((10 * done) / Math.max(info.records, 1));
      if (step > lastStep && step < 10) {
        lastStep = step;
        const open = [...views.values()].filter((v) => CIRCUIT_SEVERITY[v.circuit] >= 3).length;
        o.out.write(
          `[${String(step * 10).padStart(3)}%] event time ${clockText(eventTs)}  ${count(done)}/${count(info.records)} events  ${views.size} agents  ${open} circuit${open === 1 ? '' : 's'} open\n`,
        );
      }
    }
  };

  const onSigint = (): void => {
    view?.stop();
    o.out.write('\ntrustline demo: interrupted\n');
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  view?.start();
  let replay;
  try {
    // Small batches when paced, so the view moves smoothly; outputs do not depend on the batch size.
    const batchSize = speed !== null ? Math.max(8, Math.ceil(info.records / ((o.seconds ?? 15) * 15))) : 500;
    replay = await replayFiles([o.file], o.outDir, o.config, { batchSize, onBatch });
  } finally {
    view?.stop();
    process.removeListener('SIGINT', onSigint);
  }
  if (!tty) o.out.write(`[100%] event time ${clockText(eventTs)}  ${count(done)}/${count(info.records)} events  ${views.size} agents\n`);

  const summary: EvalSummary | null = evaluator ? { ...evaluator.summary() } : null;
  if (summary) writeFileSync(join(o.outDir, 'summary.json'), JSON.stringify({ model: replay.model, labels: [o.labelsFile], ...summary }, null, 2) + '\n');
  const { writeReport } = await import('../report/write.ts');
  const { detectionTables } = await import('../report/detection.ts');
  const reportBytes = await writeReport(o.reportFile, {
    title: 'trustline demo report',
    files: [o.file],
    model: replay.model,
    mode: o.config.mode,
    recorder,
    ...(labels ? { labels } : {}),
    ...(summary ? { detection: detectionTables(summary) } : {}),
  });
  const result: DemoResult = {
    records: replay.records,
    agents: replay.agents,
    dead: replay.dead,
    wallMs: Math.round(performance.now() - started),
    eventSpanMs: span,
    reportFile: o.reportFile,
    reportBytes,
    summary,
  };
  o.out.write(summaryText(result, recorder, o, typeof o.out.hasColors === 'function' && o.out.hasColors()));
  return result;
}

/** Why an agent was flagged: the reasons of its first detection, or its most frequent ones. */
function whyText(reasons: readonly { code: string }[]): string {
  return reasons.length ? reasons.map((r) => r.code).join(', ') : 'no reason codes (trust fell on identity/history)';
}

/** The closing summary: what was caught, when and why, and where the report is. */
export function summaryText(r: DemoResult, rec: ReplayRecorder, o: Pick<DemoOptions, 'file' | 'labelsFile' | 'outDir' | 'reportFile'>, colour = false): string {
  const p = (text: string, ...codes: number[]): string => paint(colour, text, ...codes);
  const openings = [...rec.agents.values()].reduce((s, a) => s + a.circuitOpenings, 0);
  const lines: string[] = [''];
  lines.push(
    `Replayed ${count(r.records)} events of ${r.agents} agents in ${(r.wallMs / 1000).toFixed(1)} s (${durationText(r.eventSpanMs)} of event time); ${count(r.dead)} dead letters; ${openings} circuit openings.`,
  );
  const s = r.summary;
  if (s) {
    const attacks = s.agents.filter((a) => a.malicious);
    const caught = attacks.filter((a) => a.detected);
    lines.push('');
    lines.push(p(`Attacks caught: ${caught.length} of ${attacks.length}`, SGR.bold) + `  (labels: ${o.labelsFile})`);
    lines.push(p('  caught = in restrict/block or with an open circuit at or after the labelled attack start', SGR.dim));
    const byTime = [...attacks].sort((a, b) => (a.attackStartTs ?? 0) - (b.attackStartTs ?? 0));
    for (const a of byTime) lines.push(...attackLines(a, p));
    const fps = s.agents.filter((a) => !a.malicious && a.flaggedEvents > 0);
    lines.push('');
    if (fps.length) {
      lines.push(`False positives: ${fps.length} of ${s.overall.benignAgents} benign agents were flagged at some point:`);
      for (const a of fps.slice(0, 5)) {
        const rec1 = rec.agents.get(a.agentId);
        const { topReasons } = reasonsOf(rec1);
        lines.push(`  ${a.agentId}: ${a.flaggedEvents} of ${a.events} events flagged, lowest trust ${a.lowestTrust.toFixed(2)}`);
        if (topReasons) lines.push(`      why: ${topReasons}`);
      }
      if (fps.length > 5) lines.push(`  … and ${fps.length - 5} more (see the report)`);
    } else lines.push(`False positives: none of the ${s.overall.benignAgents} benign agents was flagged.`);
  } else {
    const flagged = [...rec.agents.values()].filter((a) => a.circuitOpenings > 0 || a.minTrust < 0.5);
    lines.push('');
    lines.push(p(`Agents flagged (no labels, so no ground truth): ${flagged.length}`, SGR.bold));
    for (const a of flagged.slice(0, 10)) {
      lines.push(
        `  ${a.agentId}: lowest trust ${a.minTrust.toFixed(2)} at ${clockText(a.minTrustTs)} UTC, ${a.circuitOpenings} circuit opening${a.circuitOpenings === 1 ? '' : 's'}`,
      );
      lines.push(`      why: ${reasonsOf(a).topReasons || '–'}`);
    }
  }
  const rel = (f: string): string => relative(process.cwd(), f) || f;
  lines.push('');
  lines.push(
    `${p('Report:', SGR.bold)}  ${rel(r.reportFile)}  (${Math.round(r.reportBytes / 1024)} KiB, open it in a browser: trust timelines, circuits, reasons)`,
  );
  lines.push(`Outputs: ${rel(o.outDir)}/scores.jsonl, trust.jsonl, circuit.jsonl, dlq.jsonl${s ? ', summary.json' : ''}`);
  // The validation fixtures are in the repository, not in the installed package.
  if (existsSync(packageFile('fixtures/validation'))) {
    lines.push(`Next:    docs/analysts.md — e.g. npx trustline replay fixtures/validation/*.jsonl.gz --labels \\`);
    lines.push(`           --out out/validation --report out/validation/report.html`);
  } else {
    lines.push(`Next:    replay your own traffic: npx trustline import-log access.log --format combined --out events.jsonl,`);
    lines.push(`           then npx trustline replay events.jsonl --out out/events --report out/events/report.html`);
  }
  return lines.join('\n') + '\n';
}

function reasonsOf(a: AgentRecord | undefined): { topReasons: string } {
  return {
    topReasons: a
      ? topReasons(a)
          .map((r) => r.code)
          .join(', ')
      : '',
  };
}

function attackLines(a: AgentOutcome, p: (t: string, ...c: number[]) => string): string[] {
  const d = a.firstDetection;
  if (!d) {
    return [
      `  ${p('✘ missed', SGR.red, SGR.bold)}  ${p(a.scenario, SGR.bold)} — ${a.agentId}`,
      `      lowest trust ${a.lowestTrust.toFixed(2)}, ${a.circuitOpenings} circuit opening${a.circuitOpenings === 1 ? '' : 's'}`,
    ];
  }
  const at = a.attackStartTs !== null ? clockText(a.attackStartTs + d.secondsAfterStart * 1000) : '?';
  return [
    `  ${p('✔ caught', SGR.green, SGR.bold)}  ${p(a.scenario, SGR.bold)} — ${a.agentId}`,
    `      ${durationText(d.secondsAfterStart * 1000)} (${d.eventsAfterStart} event${d.eventsAfterStart === 1 ? '' : 's'}) after the attack started, at ${at} UTC: ${d.band}, circuit ${d.circuit}, trust ${d.trust.toFixed(2)}`,
    `      why: ${whyText(d.reasons)}`,
  ];
}

/** `trustline demo` as a command of src/cli/main.ts. */
export const demoCommand = {
  summary: 'the demo (npm start): replay fixtures/demo live through the real pipeline, summary and HTML report',
  usage: `trustline demo [<file.jsonl[.gz]>] [--fast | --seconds <n>] [--out <dir>] [--labels <labels.json> | --no-labels] [--config <file.json>]

Replays the demo fixture (fixtures/demo/demo.jsonl of the package) through the real pipeline on the embedded default
(no Kafka, no Redis) and shows it as it happens: on a terminal, a live view of the agents
(trust bar, band, circuit state, why) redrawn in place with a progress bar; in CI or a pipe,
plain progress lines. Then it summarises the attacks caught (when, why) from the labels
sidecar and writes a self-contained HTML report.

  --seconds <n>   wall-clock length of the replay, event time compressed to fit (default 15 on a
                  terminal; elsewhere unpaced unless given)
  --fast          no pacing: as fast as the pipeline goes
  --out <dir>     outputs and report.html go here (default out/demo)
  --labels <f>    ground truth (default: the input's sidecar x.labels.json, when it exists)
  --no-labels     no detection figures, just what was flagged

Examples:
  npm start                                   # = trustline demo
  trustline demo --fast
  trustline demo fixtures/validation/validation-a.jsonl.gz --seconds 30 --out out/demo-a`,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        fast: { type: 'boolean', default: false },
        seconds: { type: 'string' },
        out: { type: 'string', default: 'out/demo' },
        labels: { type: 'string' },
        'no-labels': { type: 'boolean', default: false },
        config: { type: 'string' },
      },
    });
    if (positionals.length > 1) throw new TrustlineError('USAGE', 'demo takes at most one input file');
    // Shown (and written into the report) relative to the cwd: fixtures/demo/demo.jsonl in the repository root.
    const file = positionals[0] ?? (relative(process.cwd(), DEMO_FILE) || DEMO_FILE);
    let seconds: number | null = process.stdout.isTTY ? 15 : null;
    if (values.seconds !== undefined) {
      seconds = Number(values.seconds);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
        throw new TrustlineError('USAGE', `--seconds must be a number of seconds in (0, 3600], got ${values.seconds}`);
    }
    if (values.fast) seconds = null;
    const { sidecarOf } = await import('../eval/labels.ts');
    const labelsFile = values['no-labels'] ? null : (values.labels ?? (existsSync(sidecarOf(file)) ? sidecarOf(file) : null));
    const { loadConfig } = await import('../../src/config/config.ts');
    const config = loadConfig({ file: values.config });
    const outDir = values.out!;
    await runDemo({ file, labelsFile, outDir, reportFile: join(outDir, 'report.html'), seconds, config, out: process.stdout });
    return 0;
  },
};
