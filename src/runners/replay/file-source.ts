/**
 * File source for replay and tools: JSONL or gzip-compressed JSONL (`.gz`), read as raw bytes
 * line by line so an invalid line reaches the dead-letter output unchanged. A record's
 * position is its 1-based line number; blank lines are not records and are skipped.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { InputRecord } from '../../pipeline/batch-processor.ts';

/** Raw lines of a JSONL(.gz) file, without the trailing newline (and without a trailing CR). */
export async function* readLines(file: string): AsyncGenerator<{ line: number; bytes: Buffer }> {
  const raw = createReadStream(file);
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  let carry: Buffer | null = null;
  let line = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      line++;
      const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
      yield { line, bytes: buf.subarray(start, end) };
      start = nl + 1;
    }
    buf = buf.subarray(start);
    carry = buf.length ? Buffer.from(buf) : null;
  }
  if (carry && carry.length) yield { line: line + 1, bytes: carry };
}

/** Input records of a file in batches of up to `batchSize`, in line order. */
export async function* readRecordBatches(file: string, batchSize: number): AsyncGenerator<InputRecord[]> {
  const topic = basename(file);
  let batch: InputRecord[] = [];
  for await (const { line, bytes } of readLines(file)) {
    if (bytes.length === 0 || (bytes.length < 8 && bytes.toString().trim() === '')) continue;
    batch.push({ value: bytes, key: null, position: line, source: { topic, partition: 0, offset: String(line) } });
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}
