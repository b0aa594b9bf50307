/**
 * File sink for replay: `scores.jsonl`, `trust.jsonl`, `circuit.jsonl`, `escalations.jsonl`,
 * `audit.jsonl` and `dlq.jsonl` in one directory. Trust, circuit, escalation and audit lines are the records' wire JSON, exactly as produced to
 * Kafka (src/outputs/wire.ts); dead letters use the DlqRecord JSON form.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { toDlqJson } from '../../contract/dlq.ts';
import type { BatchOutputs, OutputSink } from '../../outputs/sink.ts';
import { wireJson } from '../../outputs/wire.ts';

export class FileSink implements OutputSink {
  private readonly streams: Record<'scores' | 'trust' | 'circuit' | 'escalations' | 'audit' | 'dlq', WriteStream>;
  readonly counts = { scores: 0, trust: 0, circuit: 0, escalations: 0, audit: 0, dlq: 0 };

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    const open = (name: string): WriteStream => createWriteStream(join(dir, name), { flags: 'w' });
    this.streams = {
      scores: open('scores.jsonl'),
      trust: open('trust.jsonl'),
      circuit: open('circuit.jsonl'),
      escalations: open('escalations.jsonl'),
      audit: open('audit.jsonl'),
      dlq: open('dlq.jsonl'),
    };
  }

  async write(o: BatchOutputs): Promise<void> {
    const pending: Promise<unknown>[] = [];
    const put = (name: keyof FileSink['streams'], lines: string[]): void => {
      if (!lines.length) return;
      this.counts[name] += lines.length;
      if (!this.streams[name].write(lines.join('\n') + '\n')) pending.push(once(this.streams[name], 'drain'));
    };
    put(
      'scores',
      o.scores.map((r) => JSON.stringify(r)),
    );
    put('trust', o.trust.map(wireJson));
    put('circuit', o.circuit.map(wireJson));
    put('escalations', (o.escalations ?? []).map(wireJson));
    put('audit', (o.audit ?? []).map(wireJson));
    put(
      'dlq',
      o.dlq.map((d) => JSON.stringify(toDlqJson(d))),
    );
    await Promise.all(pending);
  }

  async close(): Promise<void> {
    await Promise.all(
      Object.values(this.streams).map((s) => new Promise<void>((resolve, reject) => s.end((err?: Error | null) => (err ? reject(err) : resolve())))),
    );
  }
}
