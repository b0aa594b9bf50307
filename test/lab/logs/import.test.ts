/**
 * `trustline import-log`: access logs (combined, nginx JSON) → v1 events, on the real-format
 * samples in test/fixtures/access-logs/ (written by generate.py there, malformed lines
 * included). Every event produced must pass the pipeline decoder; unparseable lines are
 * counted by reason with their line numbers and never stop the import.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { decodeEvent } from '../../../src/contract/decode.ts';
import type { AgentRequestEvent } from '../../../src/contract/schemas.ts';
import { identify, parseClfTime, redactTarget, templateRoute, toEvent, type AccessRecord } from '../../../lab/logs/access-record.ts';
import { LogImporter } from '../../../lab/logs/import.ts';
import { parseCombined, parseNginxJson, type LogFormat } from '../../../lab/logs/parsers.ts';

const DIR = resolve(import.meta.dirname, '../../fixtures/access-logs');
const COMBINED = join(DIR, 'combined.log');
const NGINX = join(DIR, 'nginx.json.log');
const work = mkdtempSync(join(tmpdir(), 'trustline-import-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function importFile(file: string, format: LogFormat, tenant?: string): { events: AgentRequestEvent[]; importer: LogImporter } {
  const importer = new LogImporter({ format, source: 'sample', ...(tenant ? { tenant } : {}) });
  const events: AgentRequestEvent[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const json = importer.convert(text, i + 1);
      if (json !== null) {
        const d = decodeEvent(json);
        if (!d.ok) throw new Error(`line ${i + 1}: produced an invalid event: ${d.message}`);
        events.push(d.event);
      }
    });
  return { events, importer };
}

const lines = (im: LogImporter, code: string): number[] => im.stats.byCode.get(code as never)?.examples.map((e) => e.line) ?? [];

describe('route templating, timestamps, redaction', () => {
  it.each([
    ['/orders/123', '/orders/{id}'],
    ['/orders/123/items?page=2', '/orders/{id}/items'],
    ['/v2/customers/11d0c924-cdf4-4be8-97ee-3e0f3a47d42d/orders', '/v2/customers/{id}/orders'],
    ['/static/app.3f9c2a1b7d4e8f60.js', '/static/app.3f9c2a1b7d4e8f60.js'],
    ['/blobs/3f9c2a1b7d4e8f6012ab', '/blobs/{id}'],
    ['/users/me', '/users/me'],
    ['/', '/'],
    ['http://proxy.example.test/a/42?x=1', '/a/{id}'],
    ['/v1/items/42#frag', '/v1/items/{id}'],
  ])('%s → %s', (target, route) => {
    expect(templateRoute(target)).toBe(route);
  });

  it('parses common-log timestamps with their zone into epoch ms and rejects impossible ones', () => {
    expect(parseClfTime('20/Jun/2025:09:00:02 +0200')).toBe(Date.UTC(2025, 5, 20, 7, 0, 2));
    expect(parseClfTime('10/Oct/2000:13:55:36 -0700')).toBe(Date.UTC(2000, 9, 10, 20, 55, 36));
    expect(() => parseClfTime('31/Feb/2025:09:00:00 +0000')).toThrow(/impossible/);
    expect(() => parseClfTime('20/Foo/2025:09:00:00 +0000')).toThrow(/month/);
  });

  it('does not copy credential-like query values', () => {
    expect(redactTarget('/dl?file=a.pdf&token=abc&api_key=k&x=1')).toBe('/dl?file=a.pdf&token=REDACTED&api_key=REDACTED&x=1');
    expect(redactTarget('/plain/path')).toBe('/plain/path');
  });
});

describe('auth and identity inference (conservative)', () => {
  const base: AccessRecord = { ts: Date.UTC(2025, 5, 20), method: 'GET', target: '/x', status: 200, ip: '203.0.113.1', userAgent: 'ua/1' };
  const jwt = (claims: object): string =>
    `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2lnbmF0dXJl`;

  it('JWT bearer with a client claim → oauth2 with that client id, scopes and token age', () => {
    const who = identify({ ...base, authorization: `Bearer ${jwt({ client_id: 'client_42', scope: 'a:read b:write', iat: base.ts / 1000 - 90 })}` });
    expect(who).toMatchObject({ id: 'client_42', method: 'oauth2', scopes: ['a:read', 'b:write'], tokenAgeS: 90 });
  });

  it('opaque bearer tokens, API key headers and Basic credentials → api_key; the secret is never the id', () => {
    const opaque = identify({ ...base, authorization: 'Bearer 3f1e8c0a9b7d4e2f' });
    expect(opaque.method).toBe('api_key');
    expect(opaque.id).toMatch(/^key_[0-9a-f]{20}$/);
    expect(opaque.id).not.toContain('3f1e8c0a9b7d4e2f');
    const key = identify({ ...base, apiKey: 'sk_live_secret' });
    expect(key.method).toBe('api_key');
    expect(key.id).not.toContain('sk_live');
    expect(identify({ ...base, authorization: `Basic ${Buffer.from('partner:pw').toString('base64')}` })).toMatchObject({ id: 'partner', method: 'api_key' });
    expect(identify({ ...base, remoteUser: 'svc-a' })).toMatchObject({ id: 'svc-a', method: 'api_key' });
  });

  it('no credential → none, with a stable id per (IP, user agent); explicit fields win', () => {
    const a = identify(base);
    expect(a.method).toBe('none');
    expect(a.id).toMatch(/^anon-[0-9a-f]{16}$/);
    expect(identify({ ...base }).id).toBe(a.id);
    expect(identify({ ...base, userAgent: 'ua/2' }).id).not.toBe(a.id);
    expect(identify({ ...base, ip: '203.0.113.2' }).id).not.toBe(a.id);
    expect(identify({ ...base, clientId: 'agent-7', authMethod: 'mtls' })).toMatchObject({ id: 'agent-7', method: 'mtls' });
    expect(identify({ ...base, authMethod: 'magic' }).method).toBe('none'); // unknown methods are ignored
  });

  it('verified is false without a credential and on 401', () => {
    expect(toEvent(base, 'e1').agent.auth.verified).toBe(false);
    expect(toEvent({ ...base, remoteUser: 'u' }, 'e2').agent.auth.verified).toBe(true);
    expect(toEvent({ ...base, remoteUser: 'u', status: 401 }, 'e3').agent.auth.verified).toBe(false);
  });
});

describe('combined log sample', () => {
  const { events, importer } = importFile(COMBINED, 'combined', 'shop');
  const s = importer.stats;

  it('converts every readable line and reports each unreadable one by reason and line', () => {
    expect(s.lines).toBe(252); // blank line 101 is not a line
    expect(s.rejected).toBe(7);
    expect(s.events).toBe(245);
    expect(lines(importer, 'bad_request_line')).toEqual([51, 81]); // TLS bytes on a plain port; "-"
    expect(lines(importer, 'bad_timestamp')).toEqual([82, 202]); // unknown month; 31 Feb
    expect(lines(importer, 'malformed')).toEqual([122, 162]); // cut short; not a log line
    expect(lines(importer, 'bad_status')).toEqual([232]);
  });

  it('maps fields: time in UTC, route template, status, bytes, ip, user agent, tenant', () => {
    const e = events.find((x) => x.eventId === 'sample:1')!;
    expect(e).toMatchObject({
      ts: Date.UTC(2025, 5, 20, 7, 0, 2),
      tenant: 'shop',
      agent: { auth: { method: 'none', verified: false }, userAgent: 'python-httpx/0.27.0' },
      request: { method: 'GET', route: '/api/v1/invoices/{id}', path: '/api/v1/invoices/1001', status: 200, bytesOut: 0, ip: '192.0.2.66' },
    });
    // Escaped quotes in the user agent, IPv6, HEAD with "-" bytes, the common log format, trailing extra fields.
    expect(events.find((x) => x.eventId === 'sample:31')!.agent.userAgent).toBe('curl/8.5.0 "quoted" agent');
    expect(events.find((x) => x.eventId === 'sample:32')!.request).toMatchObject({ method: 'HEAD', route: '/products/{id}' });
    expect(events.find((x) => x.eventId === 'sample:32')!.request.bytesOut).toBeUndefined();
    expect(events.find((x) => x.eventId === 'sample:33')).toMatchObject({
      agent: { id: 'svc-inventory', auth: { method: 'api_key', verified: false } },
      request: { method: 'DELETE', route: '/api/v1/stock/{id}', status: 401 },
    });
    expect(events.find((x) => x.eventId === 'sample:34')!.request.route).toBe('/healthz');
    expect(events.find((x) => x.eventId === 'sample:36')!.request.path).toBe('/exports/download?file=report.pdf&token=REDACTED');
    expect(events.some((x) => x.request.ip?.includes(':'))).toBe(true);
  });

  it('groups requests into agents: remote users by name, anonymous clients by IP and user agent', () => {
    const ids = new Set(events.map((e) => e.agent.id));
    expect(ids.has('svc-inventory')).toBe(true);
    expect(ids.has('svc-reports')).toBe(true);
    const enumerator = events.filter((e) => e.request.ip === '192.0.2.66');
    expect(new Set(enumerator.map((e) => e.agent.id)).size).toBe(1);
    expect(enumerator.every((e) => e.request.route === '/api/v1/invoices/{id}')).toBe(true);
  });
});

describe('nginx JSON sample', () => {
  const { events, importer } = importFile(NGINX, 'nginx-json');

  it('converts every readable line and reports each unreadable one', () => {
    expect(importer.stats.lines).toBe(209);
    expect(importer.stats.events).toBe(202);
    expect(lines(importer, 'malformed')).toEqual([26, 61, 171]); // not JSON, an array, cut short
    expect(lines(importer, 'bad_timestamp')).toEqual([62, 200]); // no time field, "yesterday"
    expect(lines(importer, 'bad_request_line')).toEqual([91]);
    expect(lines(importer, 'bad_status')).toEqual([131]);
  });

  it('reads OAuth clients from JWTs, hashes API keys and Basic users, keeps latency and request bytes', () => {
    const oauth = events.filter((e) => e.agent.auth.method === 'oauth2');
    expect(new Set(oauth.map((e) => e.agent.id))).toEqual(new Set(['client_7fQ2mZ', 'client_Kp09xA']));
    expect(oauth.every((e) => (e.agent.auth.scopes?.length ?? 0) > 0 && typeof e.agent.auth.tokenAgeS === 'number')).toBe(true);
    const keyed = events.filter((e) => e.agent.id.startsWith('key_'));
    expect(new Set(keyed.map((e) => e.agent.id)).size).toBe(3); // two API keys + one opaque bearer token
    expect(JSON.stringify(events)).not.toMatch(/sk_live_|s3cr3t|3f1e8c0a9b7d4e2f/);
    expect(events.filter((e) => e.agent.id === 'partner-acme').every((e) => e.agent.auth.method === 'api_key')).toBe(true);
    const first = events.find((e) => e.agent.id === 'client_7fQ2mZ')!;
    expect(first.request.latencyMs).toBeGreaterThanOrEqual(0);
    expect(first.request.bytesIn).toBeGreaterThan(0);
    expect(first.eventId).toMatch(/^[0-9a-f]{32}$/); // nginx $request_id
  });

  it('accepts time_iso8601, time_local, request_method + request_uri, client_id and auth_method; repeated request ids fall back', () => {
    const explicit = events.find((e) => e.eventId === 'r-explicit-1')!;
    expect(explicit).toMatchObject({
      ts: Date.UTC(2025, 5, 20, 7, 0, 30),
      agent: { id: 'client_7fQ2mZ', auth: { method: 'mtls', verified: true } },
      request: { route: '/v2/orders/{id}', path: '/v2/orders/12345?expand=items', latencyMs: 21 },
    });
    const repeated = events.find((e) => e.eventId === 'sample:12')!;
    expect(repeated.ts).toBe(Date.UTC(2025, 5, 20, 7, 0, 31));
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('parsers reject what they cannot read with a code, never a crash', () => {
    for (const bad of ['', '{', 'null', '42', '{"msec":"1","request":"GET / HTTP/1.1","status":"200"}']) expect(() => parseNginxJson(bad)).toThrow();
    for (const bad of ['', '-', '1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1']) expect(() => parseCombined(bad)).toThrow();
  });
});

describe('trustline import-log (CLI)', () => {
  let stderr = '';
  afterEach(() => vi.restoreAllMocks());
  const capture = (): void => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
  };

  it('writes valid JSONL and a summary with the unparseable lines; exit 0', async () => {
    capture();
    const out = join(work, 'combined.jsonl');
    expect(await main(['import-log', COMBINED, '--format', 'combined', '--out', out, '--tenant', 't1'])).toBe(0);
    const produced = readFileSync(out, 'utf8').trim().split('\n');
    expect(produced).toHaveLength(245);
    expect(produced.every((l) => decodeEvent(l).ok)).toBe(true);
    expect(stderr).toMatch(/252 lines → 245 events of \d+ agents .*7 unparseable/);
    expect(stderr).toMatch(/bad_request_line\s+2\s+e\.g\. line 51, 81/);
    expect(stderr).toContain(`wrote 245 events to ${out}`);
  });

  it('writes gzip when --out ends in .gz', async () => {
    capture();
    const out = join(work, 'nginx.jsonl.gz');
    expect(await main(['import-log', NGINX, '--format', 'nginx-json', '--out', out])).toBe(0);
    const { gunzipSync } = await import('node:zlib');
    expect(gunzipSync(readFileSync(out)).toString('utf8').trim().split('\n')).toHaveLength(202);
  });

  it('exit 1 with a hint when nothing converts (wrong --format); usage errors exit 2', async () => {
    capture();
    expect(await main(['import-log', COMBINED, '--format', 'nginx-json', '--out', join(work, 'x.jsonl')])).toBe(1);
    expect(stderr).toMatch(/is --format nginx-json right/);
    capture();
    expect(await main(['import-log', COMBINED, '--format', 'apache'])).toBe(2);
    expect(await main(['import-log', COMBINED, '--format', 'combined', '--tenant', 'bad tenant'])).toBe(2);
  });
});
