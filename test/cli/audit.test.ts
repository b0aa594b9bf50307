import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { appendAuditRecord, type AuditRecord } from '../../src/audit/chain.ts';
import { runCli } from '../support/cli.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'trustline-audit-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function records(n: number, partitions = 2): AuditRecord[] {
  const last = new Map<number, AuditRecord>();
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    const p = i % partitions;
    const r = appendAuditRecord(last.get(p) ?? { partition: p }, { kind: 'decision', i });
    last.set(p, r);
    out.push(r);
  }
  return out;
}

function file(name: string, lines: string[], gzip = false): string {
  const f = path.join(dir, name);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(f, gzip ? gzipSync(text) : text);
  return f;
}

const run = runCli;

describe('trustline audit verify <file>', () => {
  const good = records(10);
  const lines = good.map((r) => JSON.stringify(r));

  it('exits 0 on an intact file (plain or gzip, blank lines allowed) and prints the heads', async () => {
    const r = await run(['audit', 'verify', file('ok.jsonl', [...lines.slice(0, 4), '', ...lines.slice(4)])]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('audit chain ok: 10 records in 2 chain(s)');
    expect(r.out).toContain(`head 1:4:${good[9]!.hash}`);
    expect((await run(['audit', 'verify', file('ok.jsonl.gz', lines, true)])).code).toBe(0);
  });

  it('exits 1 at the first broken link and names the line', async () => {
    const tampered = [...lines];
    tampered[6] = JSON.stringify({ ...good[6]!, entry: { kind: 'decision', i: 600 } });
    const r = await run(['audit', 'verify', file('changed.jsonl', tampered)]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^audit chain BROKEN at line 7 \(partition 0, index 3\): hash_mismatch: /);
    const deleted = lines.filter((_, i) => i !== 2);
    expect((await run(['audit', 'verify', file('deleted.jsonl', deleted)])).out).toMatch(/at line 4 \(partition 0, index 2\): index_gap/);
    const notJson = [...lines.slice(0, 3), '{oops', ...lines.slice(3)];
    expect((await run(['audit', 'verify', file('bad.jsonl', notJson)])).out).toMatch(/at line 4: malformed: line is not valid JSON/);
  });

  it('checks anchored heads, and prints JSON with --json', async () => {
    const f = file('cut.jsonl', lines.slice(0, -1));
    const head = `1:4:${good[9]!.hash}`;
    const r = await run(['audit', 'verify', f, '--head', head, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, reason: 'truncated', partition: 1, chainIndex: 3 });
    const ok = await run(['audit', 'verify', file('full.jsonl', lines), '--head', head, '--json']);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, count: 10 });
  });

  it('exits 2 on usage errors', async () => {
    expect((await run(['audit'])).code).toBe(2);
    expect((await run(['audit', 'check', 'x'])).code).toBe(2);
    expect((await run(['audit', 'verify'])).code).toBe(2);
    expect((await run(['audit', 'verify', 'a', '--head', 'nope'])).err).toMatch(/--head must be/);
    expect((await run(['audit', 'verify', path.join(dir, 'missing.jsonl')])).code).toBe(2);
    expect((await run(['audit', 'verify', 'a.jsonl', '--topic', 't'])).code).toBe(2);
    expect((await run(['audit', '--help'])).out).toContain('trustline audit verify <file.jsonl[.gz]>');
  });
});
