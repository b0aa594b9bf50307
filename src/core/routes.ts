/**
 * Route and purpose rules — configuration, not code (docs/detection.md, "Route rules").
 *
 * A **privileged** rule names surfaces that an agent which does not normally use them should
 * not touch (administration, credentials, payouts, access control…). A rule matches a request
 * when one of its `segments` patterns matches one WHOLE path segment of the route (the path
 * without query or fragment, split on `/`), or one of its `actions` patterns matches one whole
 * segment of the action name (split on `.` and `:`). Patterns are case-insensitive and may use
 * `*` for any run of characters inside the segment (`admin*` matches `administrator` and
 * `admin.php`, never `/kibana` or `ssh-security`). The first matching rule is the one reported:
 * reasons carry its name.
 *
 * **Benign misses** are requests a browser or a crawler makes on its own — favicons,
 * touch icons, robots.txt, sitemaps, `.well-known` probes. A 404 (or other client error) on
 * such a path is not counted as an error and the route is not counted as novel: it is not
 * scanning.
 *
 * Pure and deterministic; a match costs one cached map lookup per distinct route (the cache
 * holds at most {@link CACHE_MAX} routes and is simply cleared when full).
 */
import { Type } from '@sinclair/typebox';

export type RouteRule = { name: string; segments: readonly string[]; actions: readonly string[] };
export type RouteRules = { privileged: readonly RouteRule[]; benignMisses: readonly string[] };

const Pattern = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^/]+$', errorMessage: 'one path segment: no "/"' });

/** The `detection.routes` configuration section (TypeBox, read by src/config/config.ts). */
export const RouteRulesSchema = Type.Object(
  {
    privileged: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: '^[a-z0-9_]{1,32}$', errorMessage: 'lowercase a-z 0-9 _' }),
          segments: Type.Array(Pattern, { default: [] }),
          actions: Type.Array(Pattern, { default: [] }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 64 },
    ),
    /** Whole paths (no query), `*` allowed inside a segment; e.g. `/favicon.ico`, `/apple-touch-icon*.png`, `/.well-known/*`. */
    benignMisses: Type.Array(Type.String({ pattern: '^/.{0,200}$', errorMessage: 'a path starting with "/"' }), { maxItems: 64 }),
  },
  { additionalProperties: false },
);

/**
 * Defaults for agent APIs. Words that sites commonly use for ordinary content are left out (a blog's
 * `/presentations/security/` or `/tags/security` is not a privileged surface); add them per
 * deployment where they are.
 */
export const DEFAULT_ROUTE_RULES: RouteRules = {
  privileged: [
    { name: 'admin', segments: ['admin', 'admin*', 'administrator*', 'wp-admin', 'internal-admin'], actions: ['admin', 'admin_*'] },
    {
      name: 'credentials',
      segments: [
        'password',
        'passwords',
        'passwd',
        'credential*',
        'secret',
        'secrets',
        'api-key',
        'api-keys',
        'api_key',
        'api_keys',
        'apikey*',
        'token',
        'tokens',
        'mfa',
        '2fa',
        'totp',
      ],
      actions: ['password*', 'credential*', 'secret*', 'api_key*', 'apikey*', 'token*', 'mfa*', '2fa*', '*_password*', '*password_*', 'mfa_*'],
    },
    {
      name: 'payouts',
      segments: ['payout', 'payouts', 'withdraw', 'withdrawal', 'withdrawals', 'bank-account*', 'bank_account*', 'iban'],
      actions: ['payout*', 'withdraw*', 'bank_account*', 'iban*'],
    },
    {
      name: 'access_control',
      segments: ['role', 'roles', 'permission', 'permissions', 'privilege*', 'sudo', 'impersonate', 'impersonation', 'owner', 'owners'],
      actions: ['role*', 'permission*', 'privilege*', 'sudo*', 'impersonat*', 'owner*', '*role_*'],
    },
    { name: 'account_deletion', segments: ['delete-account', 'delete_account', 'deleteaccount'], actions: ['delete_account', 'account_delete'] },
  ],
  benignMisses: [
    '/favicon.ico',
    '/favicon*.png',
    '/apple-touch-icon*.png',
    '/robots.txt',
    '/sitemap*.xml',
    '/browserconfig.xml',
    '/site.webmanifest',
    '/manifest.json',
    '/.well-known/*',
    '/ads.txt',
    '/humans.txt',
  ],
};

/** A fresh, mutable copy of the defaults (for configuration parsing). */
export function defaultRouteRules(): { privileged: { name: string; segments: string[]; actions: string[] }[]; benignMisses: string[] } {
  return {
    privileged: DEFAULT_ROUTE_RULES.privileged.map((r) => ({ name: r.name, segments: [...r.segments], actions: [...r.actions] })),
    benignMisses: [...DEFAULT_ROUTE_RULES.benignMisses],
  };
}

const CACHE_MAX = 4096;

type Matcher = (segment: string) => boolean;

function globMatcher(pattern: string): Matcher {
  const p = pattern.toLowerCase();
  if (!p.includes('*')) return (s) => s === p;
  const parts = p.split('*');
  return (s) => {
    if (!s.startsWith(parts[0]!) || !s.endsWith(parts.at(-1)!) || s.length < parts[0]!.length + parts.at(-1)!.length) return false;
    let at = parts[0]!.length;
    const end = s.length - parts.at(-1)!.length;
    for (let i = 1; i < parts.length - 1; i++) {
      const k = s.indexOf(parts[i]!, at);
      if (k < 0 || k + parts[i]!.length > end) return false;
      at = k + parts[i]!.length;
    }
    return true;
  };
}

/** Splits `text` (lower-cased) on any of `seps`, dropping empty parts; stops at `?` or `#` when `path`. */
function split(text: string, path: boolean): string[] {
  let t = text.toLowerCase();
  if (path) {
    const q = t.search(/[?#]/);
    if (q >= 0) t = t.slice(0, q);
    return t.split('/').filter((x) => x.length > 0);
  }
  return t.split(/[.:/]/).filter((x) => x.length > 0);
}

/** Rules compiled for matching, with their per-route caches. */
export class CompiledRouteRules {
  private readonly segs: { rule: number; m: Matcher }[] = [];
  private readonly acts: { rule: number; m: Matcher }[] = [];
  private readonly misses: Matcher[][] = [];
  private readonly routeCache = new Map<string, number>();
  private readonly actionCache = new Map<string, number>();
  private readonly missCache = new Map<string, boolean>();

  constructor(readonly rules: RouteRules = DEFAULT_ROUTE_RULES) {
    rules.privileged.forEach((r, i) => {
      for (const p of r.segments) this.segs.push({ rule: i, m: globMatcher(p) });
      for (const p of r.actions) this.acts.push({ rule: i, m: globMatcher(p) });
    });
    for (const p of rules.benignMisses) this.misses.push(split(p, true).map(globMatcher));
  }

  private first(parts: string[], list: { rule: number; m: Matcher }[]): number {
    let best = -1;
    for (const part of parts) {
      for (const { rule, m } of list) if ((best === -1 || rule < best) && m(part)) best = rule;
    }
    return best;
  }

  private cached<V>(cache: Map<string, V>, key: string, compute: () => V): V {
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const v = compute();
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, v);
    return v;
  }

  /** Index of the first privileged rule matching the route, -1 when none. */
  routeRule(route: string): number {
    return this.cached(this.routeCache, route, () => this.first(split(route, true), this.segs));
  }

  /** Index of the first privileged rule matching the action name, -1 when none. */
  actionRule(action: string): number {
    return this.cached(this.actionCache, action, () => this.first(split(action, false), this.acts));
  }

  /** The first privileged rule matching the route or the action name (the route's first), -1 when none. */
  privileged(route: string, action: string | undefined): number {
    const r = this.routeRule(route);
    if (r >= 0) return r;
    return action === undefined ? -1 : this.actionRule(action);
  }

  /** The rule's name (for reasons). */
  ruleName(i: number): string {
    return this.rules.privileged[i]!.name;
  }

  /** The path (query ignored) is one a client fetches on its own: favicon, touch icon, robots.txt… */
  benignMiss(path: string): boolean {
    return this.cached(this.missCache, path, () => {
      const parts = split(path, true);
      return this.misses.some((ms) => ms.length === parts.length && ms.every((m, i) => m(parts[i]!)));
    });
  }
}

export const DEFAULT_COMPILED_RULES = new CompiledRouteRules(DEFAULT_ROUTE_RULES);
