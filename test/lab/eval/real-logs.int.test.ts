/**
 * Real access logs (../shared/data/real-logs/apache_logs, README beside it) through
 * `trustline import-log --format combined` → `trustline replay` with the committed model: no
 * reason may fire for a cause the record cannot have (lab/eval/real-logs.ts), e.g.
 * purpose_mismatch on /kibana or error reasons on favicon misses. Also unit-checks those rules.
 */
import { defaultCardPath } from '../../../lab/eval/card.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseRealLog, findRealLogs, nonsensical } from '../../../lab/eval/real-logs.ts';
import type { AgentRequestEvent } from '../../../src/contract/schemas.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'trustline-real-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ev = (path: string, status = 200): AgentRequestEvent => ({
  v: 1,
  eventId: 'e',
  ts: 1431857103000,
  agent: { id: 'a', auth: { method: 'none', verified: false } },
  request: { method: 'GET', route: path, path, status },
});
const clean = { clientErrors: 0, harmlessErrors: 0, unauthorized: 0, forbidden: 0, privileged: 0 };

describe('nonsensical-reason rules', () => {
  it('purpose_mismatch needs a privileged path segment, not a substring', () => {
    expect(nonsensical('purpose_mismatch', ev('/presentations/kibana-search.png'), '/presentations/kibana-search.png', clean)).not.toBeNull();
    expect(nonsensical('purpose_mismatch', ev('/blog/ssh-security'), '/blog/ssh-security', clean)).not.toBeNull();
    expect(nonsensical('purpose_mismatch', ev('/wp-admin/setup.php'), '/wp-admin/setup.php', clean)).toBeNull();
    expect(nonsensical('purpose_mismatch', ev('/admin.php', 404), '/admin.php', clean)).toBeNull();
  });
  it('error reasons need a client error other than favicon/touch-icon/robots misses', () => {
    expect(nonsensical('error_ratio', ev('/favicon.ico', 404), '/favicon.ico', { ...clean, clientErrors: 2, harmlessErrors: 2 })).not.toBeNull();
    expect(nonsensical('error_ratio', ev('/cgi-bin/x', 404), '/cgi-bin/x', { ...clean, clientErrors: 3, harmlessErrors: 1 })).toBeNull();
  });
  it('auth and scope reasons need a 401 / scopes', () => {
    expect(nonsensical('auth_failures', ev('/'), '/', clean)).not.toBeNull();
    expect(nonsensical('auth_failures', ev('/', 401), '/', { ...clean, unauthorized: 1 })).toBeNull();
    expect(nonsensical('scope_violation', ev('/'), '/', clean)).not.toBeNull();
  });
});

describe('real access logs through import-log → replay (committed model)', () => {
  it('the logs are where the repository expects them', () => {
    expect(findRealLogs(ROOT), 'set TRUSTLINE_REAL_LOGS or place the logs at ../shared/data/real-logs').not.toBeNull();
  });

  it('no reason fires for a nonsensical cause', () => {
    const logs = findRealLogs(ROOT)!;
    const r = analyseRealLog(ROOT, join(logs, 'apache_logs'), join(logs, 'crawler-user-agents.json'), resolve(ROOT, defaultCardPath()), dir);
    expect(r.events).toBeGreaterThan(9000);
    expect(r.agents).toBeGreaterThan(1000);
    expect(r.nonsense.byRule, JSON.stringify(r.nonsense.examples.slice(0, 6))).toEqual({});
  }, 120_000);
});
