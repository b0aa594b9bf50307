/**
 * `trustline replay … --labels`: the sidecar default, explicit labels files per input, the
 * summary.json it writes, and usage errors.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = join(ROOT, 'fixtures/demo/demo.jsonl');
const DEMO_LABELS = join(ROOT, 'fixtures/demo/demo.labels.json');
const dirs: string[] = [];
let out = '';

beforeEach(() => {
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  out = '';
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'trustline-replay-labels-'));
  dirs.push(d);
  return d;
}

describe('trustline replay --labels', () => {
  it('with no file uses the sidecar and writes summary.json next to the replay outputs', async () => {
    const dir = tmp();
    expect(await main(['replay', DEMO, '--labels', '--out', dir])).toBe(0);
    expect(existsSync(join(dir, 'scores.jsonl'))).toBe(true);
    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(s.definitions).toBe('docs/evaluation.md');
    expect(s.labels).toEqual([DEMO_LABELS]);
    expect(s.overall.agents).toBeGreaterThan(0);
    expect(s.overall.detectionRate).toBeGreaterThan(0);
    expect(s.streams).toHaveLength(1);
    expect(Object.keys(s.perScenario).length).toBeGreaterThan(0);
    expect(out).toMatch(/malicious agents detected/);
  });

  it('takes one labels file per input, in order, and keeps the inputs as separate streams', async () => {
    const dir = tmp();
    expect(await main(['replay', DEMO, DEMO, '--out', dir, '--labels', DEMO_LABELS, `--labels=${DEMO_LABELS}`])).toBe(0);
    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(s.streams).toHaveLength(2);
    expect(s.streams[0].events).toBe(s.streams[1].events);
    const once = JSON.parse(readFileSync(join(dirs[0]!, 'summary.json'), 'utf8'));
    expect(s.overall.agents).toBe(2 * once.overall.agents);
    expect(s.overall.detected).toBe(2 * once.overall.detected);
  });

  it('refuses a labels count that does not match the inputs (usage error, exit 2)', async () => {
    expect(await main(['replay', DEMO, DEMO, '--out', tmp(), '--labels', DEMO_LABELS])).toBe(2);
    expect(out).toMatch(/1 labels files for 2 input files/);
  });

  it('without --labels writes no summary', async () => {
    const dir = tmp();
    expect(await main(['replay', DEMO, '--out', dir])).toBe(0);
    expect(existsSync(join(dir, 'summary.json'))).toBe(false);
  });
});
