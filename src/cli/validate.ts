/**
 * `trustline validate`: checks a JSONL(.gz) event file with the pipeline's own decoder and
 * reports, per error code, how many lines failed and which (the first few line numbers, with
 * the first message). Exit status 1 when any line is invalid. Light imports only at module
 * load (the command table imports this file).
 */
import { parseArgs } from 'node:util';
import { eventAgentKey } from '../core/agent-key.ts';
import { TrustlineError } from '../shared/errors.ts';

/** Validation result of one file. */
export type ValidationReport = {
  file: string;
  /** Non-blank lines (records), as the file source counts them. */
  records: number;
  valid: number;
  invalid: number;
  /** Per decoder error code: count and the first few failures. */
  byCode: Map<string, { count: number; examples: { line: number; message: string; path: string }[] }>;
  /** Event time range of the valid events, and how many went back in time within an agent (clamped by the pipeline). */
  firstTs: number | null;
  lastTs: number | null;
  agents: number;
  outOfOrder: number;
  duplicateEventIds: number;
};

/** Validate every non-blank line of `file` with `decodeEvent`. */
export async function validateFile(file: string, examples = 5): Promise<ValidationReport> {
  const { decodeEvent } = await import('../contract/decode.ts');
  const { readLines } = await import('../runners/replay/file-source.ts');
  const r: ValidationReport = {
    file,
    records: 0,
    valid: 0,
    invalid: 0,
    byCode: new Map(),
    firstTs: null,
    lastTs: null,
    agents: 0,
    outOfOrder: 0,
    duplicateEventIds: 0,
  };
  const lastTs = new Map<string, number>();
  const ids = new Set<string>();
  for await (const { line, bytes } of readLines(file)) {
    // Blank lines are not records (same rule as the file source).
    if (bytes.length === 0 || (bytes.length < 8 && bytes.toString().trim() === '')) continue;
    r.records++;
    const d = decodeEvent(bytes);
    if (d.ok) {
      r.valid++;
      const e = d.event;
      if (r.firstTs === null || e.ts < r.firstTs) r.firstTs = e.ts;
      if (r.lastTs === null || e.ts > r.lastTs) r.lastTs = e.ts;
      const key = eventAgentKey(e);
      const prev = lastTs.get(key);
      if (prev !== undefined && e.ts < prev) r.outOfOrder++;
      else lastTs.set(key, e.ts);
      if (ids.has(e.eventId)) r.duplicateEventIds++;
      else if (ids.size < 5_000_000) ids.add(e.eventId);
      continue;
    }
    r.invalid++;
    let entry = r.byCode.get(d.code);
    if (!entry) r.byCode.set(d.code, (entry = { count: 0, examples: [] }));
    entry.count++;
    if (entry.examples.length < examples) entry.examples.push({ line, message: d.message, path: d.path });
  }
  r.agents = lastTs.size;
  return r;
}

/** The human-readable report. */
export function formatValidation(r: ValidationReport): string {
  const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString());
  const lines = [
    `${r.file}: ${r.records} records, ${r.valid} valid, ${r.invalid} invalid${r.records ? ` (${((100 * r.invalid) / r.records).toFixed(2)}%)` : ''}`,
  ];
  if (r.valid) lines.push(`  ${r.agents} agents, event time ${iso(r.firstTs)} → ${iso(r.lastTs)}`);
  if (r.outOfOrder)
    lines.push(`  note: ${r.outOfOrder} event${r.outOfOrder === 1 ? ' goes' : 's go'} back in time within its agent (the pipeline clamps event time forward)`);
  if (r.duplicateEventIds)
    lines.push(`  note: ${r.duplicateEventIds} repeated eventId${r.duplicateEventIds === 1 ? '' : 's'} (eventId should be unique per event)`);
  for (const [code, e] of [...r.byCode.entries()].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1))) {
    lines.push(
      `  ${code.padEnd(20)} ${String(e.count).padStart(7)}  line${e.count === 1 ? '' : 's'} ${e.examples.map((x) => x.line).join(', ')}${e.count > e.examples.length ? ', …' : ''}`,
    );
    const first = e.examples[0];
    if (first) lines.push(`  ${''.padEnd(20)} ${''.padStart(7)}  line ${first.line}: ${first.message}`);
  }
  return lines.join('\n') + '\n';
}

/** `trustline validate` as a command of src/cli/main.ts. */
export const validateCommand = {
  summary: 'check JSONL(.gz) event files against the v1 contract with the pipeline decoder (exit 1 if any line is invalid)',
  usage: `trustline validate <file.jsonl[.gz]>… [--examples <n>] [--json]

Decodes every non-blank line exactly as the pipeline does and prints, per file, the number of
records, valid and invalid lines, and per error code (the DLQ codes: invalid_json,
missing_field, wrong_type, bad_enum, out_of_range, …) the count, the first line numbers and
the first message. Also notes events that go back in time within an agent and repeated
eventIds (both accepted by the pipeline). Exit status 1 when any line is invalid, 0 otherwise.

  --examples <n>   line numbers shown per error code (default 5)
  --json           machine-readable output, one JSON object per file

Examples:
  trustline validate fixtures/demo/demo.jsonl
  trustline validate fixtures/validation/*.jsonl.gz --examples 10
  trustline import-log access.log --format combined --out out/access.jsonl && trustline validate out/access.jsonl`,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { examples: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } },
    });
    if (!positionals.length) throw new TrustlineError('USAGE', 'validate needs at least one file');
    const examples = Number(values.examples);
    if (!Number.isInteger(examples) || examples < 0 || examples > 1000)
      throw new TrustlineError('USAGE', `--examples must be an integer in 0..1000, got ${values.examples}`);
    const { checkInputs, noValidEventsHint } = await import('../runners/replay/file-source.ts');
    await checkInputs(positionals);
    let anyInvalid = false;
    for (const file of positionals) {
      const r = await validateFile(file, examples);
      if (r.invalid) anyInvalid = true;
      const hint = noValidEventsHint([file], r.records, r.valid, Object.fromEntries([...r.byCode].map(([c, e]) => [c, e.count])));
      if (hint) {
        anyInvalid = true;
        process.stderr.write(`trustline validate: ${hint}\n`);
      }
      if (values.json) {
        process.stdout.write(JSON.stringify({ ...r, byCode: Object.fromEntries(r.byCode) }) + '\n');
      } else process.stdout.write(formatValidation(r));
    }
    return anyInvalid ? 1 : 0;
  },
};
