/**
 * Access log → v1 events, line by line. Unparseable lines are counted per reason with the
 * line numbers of the first few, never fatal. Every event produced has passed `decodeEvent`,
 * the decoder the pipeline uses, so an import never feeds the DLQ.
 */
import { decodeEvent } from '../../src/contract/decode.ts';
import { LineRejected, toEvent, type AccessRecord, type RejectCode } from './access-record.ts';
import { parserFor, type LogFormat } from './parsers.ts';

export type ImportOptions = {
  format: LogFormat;
  /** Tenant written into every event (default: none, i.e. `default`). */
  tenant?: string;
  /** Prefix of generated event ids (`<source>:<line>`) when the log has no request id. */
  source: string;
  /** How many line numbers to keep per reject reason. */
  examples?: number;
};

export type ImportStats = {
  /** Non-blank lines read. */
  lines: number;
  events: number;
  agents: Set<string>;
  rejected: number;
  byCode: Map<RejectCode, { count: number; examples: { line: number; message: string }[] }>;
  authMethods: Map<string, number>;
};

/** Converts lines one at a time; feed it every line in order, read `stats` at the end. */
export class LogImporter {
  readonly stats: ImportStats = { lines: 0, events: 0, agents: new Set(), rejected: 0, byCode: new Map(), authMethods: new Map() };
  private readonly parse: (line: string) => AccessRecord;
  private readonly seenIds = new Set<string>();

  constructor(private readonly o: ImportOptions) {
    this.parse = parserFor(o.format);
  }

  /** The JSON text of the event of line `lineNo`, or null when the line was rejected (and counted). */
  convert(text: string, lineNo: number): string | null {
    const trimmed = text.trim();
    if (trimmed === '') return null;
    this.stats.lines++;
    try {
      const record = this.parse(trimmed);
      // A request id is only an event id while it is unique (some logs repeat or blank it).
      let eventId = record.requestId && record.requestId.length <= 128 && !this.seenIds.has(record.requestId) ? record.requestId : `${this.o.source}:${lineNo}`;
      if (this.seenIds.has(eventId)) eventId = `${this.o.source}:${lineNo}`;
      this.seenIds.add(eventId);
      const event = toEvent(record, eventId, this.o.tenant);
      const json = JSON.stringify(event);
      const check = decodeEvent(json);
      if (!check.ok) throw new LineRejected('invalid_event', `${check.code}: ${check.message}`);
      this.stats.events++;
      this.stats.agents.add(event.agent.id);
      this.stats.authMethods.set(event.agent.auth.method, (this.stats.authMethods.get(event.agent.auth.method) ?? 0) + 1);
      return json;
    } catch (err) {
      const code: RejectCode = err instanceof LineRejected ? err.code : 'malformed';
      const message = err instanceof Error ? err.message : String(err);
      this.stats.rejected++;
      let entry = this.stats.byCode.get(code);
      if (!entry) this.stats.byCode.set(code, (entry = { count: 0, examples: [] }));
      entry.count++;
      if (entry.examples.length < (this.o.examples ?? 5)) entry.examples.push({ line: lineNo, message });
      return null;
    }
  }
}

/** A one-line summary of an import, plus one line per reject reason. */
export function formatImportStats(s: ImportStats, input: string): string {
  const methods = [...s.authMethods.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${m} ${n}`)
    .join(', ');
  const lines = [
    `import-log: ${input}: ${s.lines} lines → ${s.events} events of ${s.agents.size} agents${methods ? ` (auth: ${methods})` : ''}, ${s.rejected} unparseable`,
  ];
  for (const [code, e] of [...s.byCode.entries()].sort((a, b) => b[1].count - a[1].count)) {
    lines.push(
      `  ${code.padEnd(16)} ${String(e.count).padStart(6)}  e.g. line ${e.examples.map((x) => x.line).join(', ')}${e.examples[0] ? ` — ${e.examples[0].message}` : ''}`,
    );
  }
  return lines.join('\n') + '\n';
}
