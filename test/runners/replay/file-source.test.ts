/**
 * The line reader under every runner and tool: lines of any length are handed out without ever
 * holding more than the limit — an over-long line is cut as soon as it passes the limit and the rest
 * of it is skipped up to its newline, so the next lines keep their numbers.
 */
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, readLines } from '../../../src/runners/replay/file-source.ts';
import { MAX_EVENT_BYTES } from '../../../src/contract/schemas.ts';

const work = mkdtempSync(join(tmpdir(), 'trustline-lines-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function collect(file: string, maxLineBytes?: number): Promise<{ line: number; text: string; length: number; truncated: boolean }[]> {
  const out = [];
  for await (const l of readLines(file, maxLineBytes === undefined ? {} : { maxLineBytes }))
    out.push({ line: l.line, text: l.bytes.length < 100 ? l.bytes.toString() : '', length: l.bytes.length, truncated: l.truncated === true });
  return out;
}

describe('readLines', () => {
  it('splits lines across chunk boundaries, drops a trailing CR, keeps a last line without newline', async () => {
    const file = join(work, 'small.jsonl');
    writeFileSync(file, 'a\r\nbb\n\nccc');
    expect(await collect(file)).toEqual([
      { line: 1, text: 'a', length: 1, truncated: false },
      { line: 2, text: 'bb', length: 2, truncated: false },
      { line: 3, text: '', length: 0, truncated: false },
      { line: 4, text: 'ccc', length: 3, truncated: false },
    ]);
  });

  it('cuts a 20 MB line at the limit, skips the rest of it, and carries on with the next line', async () => {
    const file = join(work, 'long.jsonl');
    const w = createWriteStream(file);
    w.write('first\n{"x":"');
    const mib = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 20; i++) if (!w.write(mib)) await once(w, 'drain');
    w.end('"}\nlast\n');
    await once(w, 'finish');
    const lines = await collect(file);
    expect(lines).toEqual([
      { line: 1, text: 'first', length: 5, truncated: false },
      { line: 2, text: '', length: MAX_LINE_BYTES, truncated: true },
      { line: 3, text: 'last', length: 4, truncated: false },
    ]);
    // One byte over the largest event: the decoder dead-letters it as too_large.
    expect(MAX_LINE_BYTES).toBe(MAX_EVENT_BYTES + 1);
  });

  it('applies the same limit to gzip input, and a small limit cuts exactly there', async () => {
    const file = join(work, 'long.jsonl.gz');
    writeFileSync(file, gzipSync(Buffer.from(`${'y'.repeat(5000)}\nok\n${'z'.repeat(10)}`)));
    expect(await collect(file, 1000)).toEqual([
      { line: 1, text: '', length: 1000, truncated: true },
      { line: 2, text: 'ok', length: 2, truncated: false },
      { line: 3, text: 'zzzzzzzzzz', length: 10, truncated: false },
    ]);
  });
});
