import { describe, expect, it } from 'vitest';
import { CompiledRouteRules, DEFAULT_COMPILED_RULES as C, DEFAULT_ROUTE_RULES, RouteRulesSchema } from '../../src/core/routes.ts';
import { parseOrThrow } from '../../src/shared/schema.ts';

const parseRules = (raw: unknown) => parseOrThrow(RouteRulesSchema, raw, 'route rules');

const name = (i: number): string | null => (i < 0 ? null : C.ruleName(i));

describe('privileged route rules', () => {
  it('match whole path segments, never substrings', () => {
    // The substring matches the old regex made on a real blog's access log.
    for (const harmless of [
      '/kibana/',
      '/presentations/logstash/images/kibana-dashboard.png',
      '/articles/ssh-security/',
      '/articles/arp-security/arpmitm',
      '/blog/tags/sysadmin',
      '/tokenizer',
      '/roleplay',
      '/bankruptcy-news',
    ]) {
      expect(name(C.privileged(harmless, undefined)), harmless).toBeNull();
    }
    expect(name(C.privileged('/v2/admin/users', undefined))).toBe('admin');
    expect(name(C.privileged('/wp-admin/', undefined))).toBe('admin');
    expect(name(C.privileged('/administrator/index.php', undefined))).toBe('admin');
    expect(name(C.privileged('/admin.php?x=1', undefined))).toBe('admin');
    expect(name(C.privileged('/v2/admin/api-keys/{id}/rotate', undefined))).toBe('admin'); // the first matching rule
    expect(name(C.privileged('/v2/profile/api-keys', undefined))).toBe('credentials');
    expect(name(C.privileged('/api/auth/token', undefined))).toBe('credentials');
    expect(name(C.privileged('/api/payouts/destination', undefined))).toBe('payouts');
    // Content words are not privileged by default (a blog's /presentations/security/); a deployment adds them.
    expect(name(C.privileged('/presentations/security/', undefined))).toBeNull();
    expect(name(C.privileged('/settings/security/mfa', undefined))).toBe('credentials');
    expect(name(C.privileged('/v2/users/{id}/roles', undefined))).toBe('access_control');
  });

  it('match whole segments of action names (split on "." and ":")', () => {
    expect(name(C.privileged('/v2/things', 'api_key.rotate'))).toBe('credentials');
    expect(name(C.privileged('/v2/things', 'user.role_grant'))).toBe('access_control');
    expect(name(C.privileged('/v2/things', 'account.password_change'))).toBe('credentials');
    expect(name(C.privileged('/v2/things', 'payout.destination_update'))).toBe('payouts');
    expect(name(C.privileged('/v2/things', 'order.create'))).toBeNull();
    expect(name(C.privileged('/v2/things', 'controller.read'))).toBeNull(); // contains "role" as a substring
  });

  it('are case-insensitive and ignore the query string', () => {
    expect(name(C.privileged('/ADMIN/Users?next=/kibana', undefined))).toBe('admin');
    expect(name(C.privileged('/search?q=admin', undefined))).toBeNull();
  });

  it('come from configuration: custom rules replace the defaults, and the first matching rule is reported', () => {
    const rules = parseRules({
      privileged: [
        { name: 'billing', segments: ['invoices'] },
        { name: 'ops', segments: ['internal*'] },
      ],
      benignMisses: [],
    });
    const c = new CompiledRouteRules(rules);
    expect(c.ruleName(c.privileged('/internal/invoices', undefined))).toBe('billing');
    expect(c.ruleName(c.privileged('/internal-tools/x', undefined))).toBe('ops');
    expect(c.privileged('/v2/admin/users', undefined)).toBe(-1);
    expect(() => parseRules({ privileged: [{ name: 'x', segments: ['a/b'] }], benignMisses: [] })).toThrow(/one path segment/);
    expect(() => parseRules({ privileged: [{ name: 'Bad Name', segments: ['a'] }], benignMisses: [] })).toThrow();
    expect(parseRules(DEFAULT_ROUTE_RULES)).toEqual(DEFAULT_ROUTE_RULES);
  });
});

describe('benign misses', () => {
  it('favicons, touch icons, robots.txt, sitemaps and .well-known are what clients fetch on their own', () => {
    for (const p of [
      '/favicon.ico',
      '/apple-touch-icon.png',
      '/apple-touch-icon-120x120-precomposed.png',
      '/robots.txt',
      '/sitemap.xml',
      '/browserconfig.xml',
      '/.well-known/security.txt',
      '/favicon.ico?v=2',
    ]) {
      expect(C.benignMiss(p), p).toBe(true);
    }
    for (const p of ['/wp-login.php', '/admin/favicon.ico', '/.env', '/backup.sql', '/robots.txt.bak', '/']) expect(C.benignMiss(p), p).toBe(false);
  });
});

describe('route rules in the configuration', () => {
  it('default to DEFAULT_ROUTE_RULES and can be replaced; a bad pattern is a configuration error', async () => {
    const { loadConfig } = await import('../../src/config/config.ts');
    const load = (overrides: object) => loadConfig({ env: {}, overrides });
    expect(load({}).detection.routes).toEqual(DEFAULT_ROUTE_RULES);
    const custom = load({ detection: { routes: { privileged: [{ name: 'billing', segments: ['invoices'] }], benignMisses: ['/favicon.ico'] } } }).detection
      .routes;
    expect(custom).toEqual({ privileged: [{ name: 'billing', segments: ['invoices'], actions: [] }], benignMisses: ['/favicon.ico'] });
    expect(() => load({ detection: { routes: { privileged: [{ name: 'x', segments: ['a/b'] }], benignMisses: [] } } })).toThrow(
      /detection\.routes\.privileged\.0\.segments\.0: one path segment: no "\/"/,
    );
    expect(() => load({ detection: { nope: 1 } })).toThrow(/detection\.nope: Unexpected property/);
  });
});
