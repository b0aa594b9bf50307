/**
 * File source for replay and tools: JSONL or gzip-compressed JSONL (`.gz`), read as raw bytes
 * line by line so an invalid line reaches the dead-letter output unchanged. A record's
 * position is its 1-based line number; blank lines are not records and are skipped.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { MAX_EVENT_BYTES } from '../../contract/schemas.ts';
import type { InputRecord } from '../../pipeline/batch-processor.ts';
import { TrustlineError } from '../../shared/errors.ts';

/** Longest line kept whole by {@link readLines}: one byte more than the largest event, so the decoder still says `too_large`. */
export const MAX_LINE_BYTES = MAX_EVENT_BYTES + 1;

/**
 * Opens a JSONL(.gz) input for reading, or throws a `INPUT_INVALID` error that says in one line
 * what is wrong with it (missing, a directory, unreadable). `.gz` content is checked as it is read.
 */
export async function openInput(file: string): Promise<NodeJS.ReadableStream> {
  await checkInput(file);
  const raw = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', (cause) => reject(new TrustlineError('INPUT_INVALID', `${file}: ${describeFsError(cause)}`, { cause })));
  });
  if (!file.endsWith('.gz')) return raw;
  const gunzip = createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}

/**
 * Checks, before anything is written, that every input exists and is a file; throws `INPUT_INVALID`
 * (`<file>: <reason>`) for the first that is not.
 */
export async function checkInputs(files: readonly string[]): Promise<void> {
  for (const file of files) await checkInput(file);
}

/** An input exists and is a file, or `INPUT_INVALID` (`<file>: <reason>`). */
async function checkInput(file: string): Promise<void> {
  let st;
  try {
    st = await stat(file);
  } catch (cause) {
    throw new TrustlineError('INPUT_INVALID', `${file}: ${describeFsError(cause)}`, { cause });
  }
  if (st.isDirectory()) throw new TrustlineError('INPUT_INVALID', `${file}: is a directory, not a JSONL(.gz) file`);
}

/** Checks that `dir` can be an output directory: missing (it is created) or a directory, never a file. */
export async function checkOutDir(dir: string, flag = '--out'): Promise<void> {
  const st = await stat(dir).catch(() => null);
  if (st && !st.isDirectory())
    throw new TrustlineError('INPUT_INVALID', `${dir}: ${flag} names an existing file; it must be a directory (it is created if missing)`);
}

/** Checks that `file` can be an output file: it may exist (it is replaced), but not as a directory. */
export async function checkOutFile(file: string, flag = '--out'): Promise<void> {
  const st = await stat(file).catch(() => null);
  if (st?.isDirectory()) throw new TrustlineError('INPUT_INVALID', `${file}: ${flag} names a directory; it must be a file`);
}

/**
 * The one-line hint when nothing in the input could be used: an empty file, or every line
 * dead-lettered (e.g. pretty-printed JSON instead of one event per line). Null when some line was valid.
 */
export function noValidEventsHint(files: readonly string[], records: number, valid: number, deadByCode: Record<string, number>): string | null {
  if (valid > 0) return null;
  const what = files.join(', ');
  if (records === 0) return `${what}: no events (the input is empty or only blank lines)`;
  const codes = Object.entries(deadByCode).sort((a, b) => b[1] - a[1]);
  const top = codes.map(([c, n]) => `${c} ${n}`).join(', ');
  const jsonl = codes[0]?.[0] === 'invalid_json' ? ' — is it pretty-printed JSON or a JSON array? trustline reads JSONL: one event object per line' : '';
  return `${what}: none of the ${records} lines is a valid event (${top})${jsonl}`;
}

/** A file-system or gzip error as a short reason. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a JSONL(.gz) file';
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
      return `not valid gzip data (${e.message})`;
    default:
      return e?.message ?? String(err);
  }
}

/**
 * Raw lines of a JSONL(.gz) file, without the trailing newline (and without a trailing CR).
 *
 * Memory stays bounded whatever the input: a line longer than `maxLineBytes` is cut as soon as it
 * passes the limit — its first `maxLineBytes` bytes are yielded with `truncated: true` (an event
 * decoder dead-letters them as `too_large`) and the rest is skipped up to the next newline without
 * being kept. A truncated or corrupt `.gz` ends the read with an `INPUT_INVALID` error naming the file.
 */
export async function* readLines(file: string, options: { maxLineBytes?: number } = {}): AsyncGenerator<{ line: number; bytes: Buffer; truncated?: boolean }> {
  const max = options.maxLineBytes ?? MAX_LINE_BYTES;
  const stream = await openInput(file);
  // The current partial line: pieces of chunks (copied, so chunks can be freed), at most `max` bytes.
  let parts: Buffer[] = [];
  let partLen = 0;
  let skipping = false;
  let line = 0;
  const take = (piece: Buffer): void => {
    if (skipping) return;
    if (partLen + piece.length > max) {
      parts.push(Buffer.from(piece.subarray(0, max - partLen)));
      partLen = max;
      skipping = true;
    } else if (piece.length) {
      parts.push(Buffer.from(piece));
      partLen += piece.length;
    }
  };
  const finish = (): { line: number; bytes: Buffer; truncated?: boolean } => {
    line++;
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partLen);
    if (!skipping && bytes.length && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, bytes.length - 1);
    const out = skipping ? { line, bytes, truncated: true } : { line, bytes };
    parts = [];
    partLen = 0;
    skipping = false;
    return out;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        if (parts.length === 0 && !skipping && nl - start <= max) {
          // Fast path: the whole line is inside this chunk.
          line++;
          const end = nl > start && chunk[nl - 1] === 13 ? nl - 1 : nl;
          yield { line, bytes: chunk.subarray(start, end) };
        } else {
          take(chunk.subarray(start, nl));
          yield finish();
        }
        start = nl + 1;
      }
      take(chunk.subarray(start));
    }
  } catch (err) {
    if (err instanceof TrustlineError) throw err;
    throw new TrustlineError('INPUT_INVALID', `${file}: ${describeFsError(err)}${line ? ` (after line ${line})` : ''}`, { cause: err });
  }
  if (partLen || skipping) yield finish();
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
