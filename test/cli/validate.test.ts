/**
 * `trustline validate`: the pipeline decoder over a file, counts per error code with line
 * numbers, exit status 1 when anything is invalid. Also: every command prints a useful
 * `--help` (usage line, an example), including commands other modules register.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { validateFile } from '../../src/cli/validate.ts';
import { T0, ev } from '../support/events.ts';

const work = mkdtempSync(join(tmpdir(), 'trustline-validate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const good = (i: number, agent = 'a-1', ts = T0 + i * 1000): string => JSON.stringify(ev({ eventId: `e-${i}`, ts, agent: { id: agent } }));
const LINES = [
  good(1), // 1
  '{not json', // 2
  good(2), // 3
  '', // 4: blank, not a record
  JSON.stringify({ ...ev({ eventId: 'e-3' }), v: 2 }), // 5
  JSON.stringify(ev({ eventId: 'e-4', request: { status: 700 } })), // 6
  '{also not json', // 7
  JSON.stringify(ev({ eventId: 'e-5', agent: { auth: { method: 'password' as never } } })), // 8
  good(6, 'a-2', T0 + 10_000), // 9
  good(7, 'a-2', T0 + 5_000), // 10: back in time within a-2
  good(7, 'a-3'), // 11: repeated eventId
  '[1,2]', // 12
];

function captureStdout(): { text: () => string } {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { text: () => out };
}
afterEach(() => vi.restoreAllMocks());

describe('validateFile', () => {
  const file = join(work, 'mixed.jsonl');
  writeFileSync(file, LINES.join('\n') + '\n');

  it('counts records, valid and invalid lines per decoder code, with line numbers', async () => {
    const r = await validateFile(file);
    expect(r.records).toBe(11);
    expect(r.valid).toBe(5);
    expect(r.invalid).toBe(6);
    expect(Object.fromEntries([...r.byCode].map(([c, e]) => [c, e.examples.map((x) => x.line)]))).toEqual({
      invalid_json: [2, 7],
      unsupported_version: [5],
      out_of_range: [6],
      bad_enum: [8],
      not_an_object: [12],
    });
    expect(r.agents).toBe(3);
    expect(r.outOfOrder).toBe(1);
    expect(r.duplicateEventIds).toBe(1);
  });

  it('keeps only the first few line numbers per code', async () => {
    const many = join(work, 'many.jsonl');
    writeFileSync(many, Array.from({ length: 20 }, () => '{x').join('\n'));
    const r = await validateFile(many, 3);
    expect(r.byCode.get('invalid_json')).toMatchObject({ count: 20, examples: [{ line: 1 }, { line: 2 }, { line: 3 }] });
  });
});

describe('trustline validate (CLI)', () => {
  it('prints the counts per code with lines and exits 1 when any line is invalid', async () => {
    const file = join(work, 'cli.jsonl');
    writeFileSync(file, LINES.join('\n'));
    const out = captureStdout();
    expect(await main(['validate', file])).toBe(1);
    const text = out.text();
    expect(text).toContain(`${file}: 11 records, 5 valid, 6 invalid`);
    expect(text).toMatch(/invalid_json\s+2\s+lines 2, 7\n/);
    expect(text).toMatch(/line 2: not JSON/);
    expect(text).toMatch(/bad_enum\s+1\s+line 8\n/);
    expect(text).toMatch(/1 event goes back in time/);
  });

  it('exits 0 on a clean gzip file and prints JSON with --json', async () => {
    const file = join(work, 'clean.jsonl.gz');
    writeFileSync(file, gzipSync([good(1), good(2), good(3)].join('\n') + '\n'));
    let out = captureStdout();
    expect(await main(['validate', file])).toBe(0);
    expect(out.text()).toContain('3 records, 3 valid, 0 invalid');
    vi.restoreAllMocks();
    out = captureStdout();
    expect(await main(['validate', file, '--json'])).toBe(0);
    expect(JSON.parse(out.text())).toMatchObject({ records: 3, valid: 3, invalid: 0, byCode: {} });
  });

  it('usage errors exit 2, a missing file exits 1', async () => {
    captureStdout();
    expect(await main(['validate'])).toBe(2);
    expect(await main(['validate', join(work, 'nope.jsonl')])).toBe(1);
  });
});

describe('--help of every command', () => {
  it('the command list names every command, and each prints a usage line and an example', async () => {
    let out = captureStdout();
    expect(await main(['--help'])).toBe(0);
    const names = [...out.text().matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]!);
    expect(names).toEqual(expect.arrayContaining(['demo', 'replay', 'run', 'features', 'validate', 'import-log', 'publish']));
    for (const name of names) {
      vi.restoreAllMocks();
      out = captureStdout();
      expect(await main([name, '--help']), name).toBe(0);
      const help = out.text();
      expect(help, `${name} --help`).toMatch(new RegExp(`^trustline ${name}\\b`));
      expect(help, `${name} --help`).toMatch(/Examples?:\n {2}\S/);
      expect(help.length, `${name} --help`).toBeGreaterThan(200);
    }
  });
});
