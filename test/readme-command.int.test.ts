/**
 * The README's first command, run the way a newcomer runs it: the first line of the first
 * shell block of README.md (`npm ci && npm start`), in the repository root, output to a pipe
 * (not a TTY, as in CI). `npm ci` is left out — the test runs inside an installed tree — and
 * everything after it runs as written. It must finish well within a minute, report the attacks
 * it caught and write the HTML report it names.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);

/** The commands of the first line of the first ```sh block, without `npm ci`/`npm install`. */
function firstReadmeCommand(): { line: string; commands: string[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /```(?:sh|bash|shell|console)\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no shell code block');
  const line = block[1]!.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'))!;
  const code = line.replace(/\s+#.*$/, '').replace(/^\$\s*/, '');
  const commands = code
    .split('&&')
    .map((c) => c.trim())
    .filter((c) => c && !/^npm (ci|install|i)\b/.test(c));
  return { line, commands };
}

describe("the README's first command", () => {
  it('is the demo, and it runs in a pipe: summary with the attacks caught and the report file', { timeout: 90_000 }, async () => {
    const { line, commands } = firstReadmeCommand();
    expect(commands.length, `README first line: ${line}`).toBeGreaterThan(0);
    const started = Date.now();
    const { stdout, stderr } = await run('sh', ['-c', commands.join(' && ')], {
      cwd: ROOT,
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
      // A newcomer's environment: no test runner variables, output to a pipe.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? ROOT, ...(process.env.CI ? { CI: process.env.CI } : {}) },
    });
    const out = stdout + stderr;
    // Plain progress lines in a pipe, no cursor movement.
    expect(out).toMatch(/\[ {0,2}\d+%\] event time/);
    expect(stdout).not.toContain('\x1b[');
    // The summary: events replayed, attacks caught with when and why, the report path.
    expect(stdout).toMatch(/Replayed [\d,]+ events of \d+ agents/);
    const caught = /Attacks caught: (\d+) of (\d+)/.exec(stdout);
    expect(caught, stdout).not.toBeNull();
    expect(Number(caught![2])).toBeGreaterThan(0);
    expect(Number(caught![1])).toBeGreaterThan(0);
    expect(stdout).toMatch(/✔ caught .*\n\s+[\d.]+ s \(\d+ events?\) after the attack started/);
    expect(stdout).toMatch(/why: \w+/);
    const report = /Report:\s+(\S+\.html)/.exec(stdout);
    expect(report, stdout).not.toBeNull();
    const file = resolve(ROOT, report![1]!);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mtimeMs).toBeGreaterThanOrEqual(started - 1000);
    const html = readFileSync(file, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('Detection summary');
  });
});
