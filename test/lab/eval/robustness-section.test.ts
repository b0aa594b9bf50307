/** The robustness block of models/EVALUATION.md is replaced in place, appended when absent, and readable for report to keep. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { END, readSection, START, writeSection } from '../../../lab/eval/commands/robustness.ts';

const dir = mkdtempSync(join(tmpdir(), 'trustline-section-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('robustness section of EVALUATION.md', () => {
  it('appends, then replaces only its own block', () => {
    const f = join(dir, 'EVALUATION.md');
    writeFileSync(f, '# head\n\ntext\n');
    expect(readSection(f)).toBe('');
    writeSection(f, '## Robustness\n\none');
    expect(readFileSync(f, 'utf8')).toBe(`# head\n\ntext\n\n${START}\n## Robustness\n\none\n${END}\n`);
    writeFileSync(f, readFileSync(f, 'utf8') + '\n## notes after\n');
    writeSection(f, '## Robustness\n\ntwo');
    const text = readFileSync(f, 'utf8');
    expect(text).toContain(`${START}\n## Robustness\n\ntwo\n${END}`);
    expect(text).not.toContain('one');
    expect(text.startsWith('# head\n\ntext\n')).toBe(true);
    expect(text.endsWith('\n## notes after\n')).toBe(true);
    expect(readSection(f)).toBe(`${START}\n## Robustness\n\ntwo\n${END}`);
  });
});
