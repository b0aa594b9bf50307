/**
 * Context policy (attribute-based rules) for the enforcer SDK: besides the agent's band and
 * circuit, a verdict can depend on the request's context —
 *
 * - `time_window`: the action only inside weekly windows (local wall-clock time in the
 *   tenant's IANA time zone, or a named one) and/or absolute date ranges;
 * - `consent`: the represented user consented to this kind of action;
 * - `amount`: an amount at or above a threshold needs a human (`hold`, resolved through the
 *   escalation round trip);
 * - `elevation`: the action needs a time-bound elevated permission (a grant with `until`),
 *   which lapses by itself.
 *
 * The document is declarative JSON validated against a JSON Schema generated from the TypeBox
 * definition below (`schemas/enforcer-context-policy.schema.json`). It is compiled once into
 * per-action rule lists, zone clocks and grant tables; evaluation allocates nothing. See
 * docs/enforcers.md ("Context policy").
 */
import { readFileSync } from 'node:fs';
import { Type, type Static, type TLiteral, type TUnion } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TrustlineError } from '../shared/errors.ts';
import { assertTimeZone, createZoneClock, type LocalTime, type ZoneClock } from './time-zone.ts';
import type { DecisionQuery, DecisionRule, Verdict } from './types.ts';

/** A string enum checkable by TypeBox's `Value` (an `anyOf` of `const`s in the JSON Schema). */
function StringEnum<const T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((v) => Type.Literal(v as T[number])));
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const VerdictSchema = StringEnum(['allow', 'challenge', 'hold', 'deny'] as const);
const Id = Type.String({ minLength: 1, maxLength: 128, description: 'rule id, reported as `ruleId` in every decision the rule makes' });
const Iso = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'ISO 8601 instant with an explicit offset (Z or ±hh:mm)',
});
const Clock = (description: string) => Type.String({ pattern: '^(([01]\\d|2[0-3]):[0-5]\\d|24:00)$', description });
const Selector = Type.Array(Type.String({ minLength: 1, maxLength: 128, pattern: '^([^*]+|[^*]*\\.\\*|\\*)$' }), {
  minItems: 1,
  maxItems: 256,
  description: 'action names the rule applies to: exact names, a prefix ending in ".*" (e.g. "customer.*"), or "*" for every named action',
});
const Common = {
  id: Id,
  actions: Selector,
  tenants: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, description: 'only for these tenants (default: every tenant)' }),
  ),
  description: Type.Optional(Type.String({ maxLength: 512 })),
};

const WeeklyWindow = Type.Object(
  {
    days: Type.Optional(
      Type.Array(StringEnum(DAYS), { minItems: 1, maxItems: 7, uniqueItems: true, description: 'days the window starts on (default: every day)' }),
    ),
    from: Clock('local start, HH:MM, inclusive'),
    to: Clock('local end, HH:MM, exclusive; earlier than `from` = the window ends the next day; 24:00 = midnight'),
  },
  { additionalProperties: false },
);
const DateRange = Type.Object({ start: Iso, end: Iso }, { additionalProperties: false, description: 'absolute range [start, end)' });

const TimeWindowRule = Type.Object(
  {
    kind: Type.Literal('time_window'),
    ...Common,
    windows: Type.Array(Type.Union([WeeklyWindow, DateRange]), { minItems: 1, maxItems: 64, description: 'the action is allowed inside ANY of these' }),
    timeZone: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone of weekly windows, or "tenant" (default): the tenant\'s zone' }),
    ),
    verdict: Type.Optional(VerdictSchema),
  },
  { additionalProperties: false, description: 'outside every window → `verdict` (default deny)' },
);
const ConsentRule = Type.Object(
  {
    kind: Type.Literal('consent'),
    ...Common,
    consent: Type.String({ minLength: 1, maxLength: 128, description: 'kind of consent the represented user must have given (query `context.consents`)' }),
    verdict: Type.Optional(VerdictSchema),
  },
  { additionalProperties: false, description: 'consent missing → `verdict` (default deny)' },
);
const AmountRule = Type.Object(
  {
    kind: Type.Literal('amount'),
    ...Common,
    atOrAbove: Type.Number({ minimum: 0, description: 'threshold on `action.amount`' }),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'only amounts in this currency (ISO 4217); default any' })),
    verdict: Type.Optional(VerdictSchema),
  },
  {
    additionalProperties: false,
    description: 'amount at or above the threshold → `verdict` (default hold: a human approves through the escalation round trip)',
  },
);
const ElevationRule = Type.Object(
  {
    kind: Type.Literal('elevation'),
    ...Common,
    verdict: Type.Optional(VerdictSchema),
  },
  { additionalProperties: false, description: 'no active elevation grant for the agent and action → `verdict` (default deny)' },
);
const Grant = Type.Object(
  {
    id: Id,
    agentId: Type.String({ minLength: 1, maxLength: 256 }),
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'default "default"' })),
    actions: Selector,
    from: Type.Optional(Iso),
    until: Iso,
    reason: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false, description: 'elevated permission for [from, until): lapses by itself at `until`' },
);

export const ContextPolicySchema = Type.Object(
  {
    version: Type.Literal(1),
    defaultTimeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone of tenants not listed in `tenants` (default "UTC")' })),
    tenants: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1, maxLength: 64 }),
        Type.Object({ timeZone: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      ),
    ),
    rules: Type.Array(Type.Union([TimeWindowRule, ConsentRule, AmountRule, ElevationRule]), { maxItems: 10_000 }),
    elevations: Type.Optional(Type.Array(Grant, { maxItems: 100_000 })),
  },
  {
    additionalProperties: false,
    $id: 'https://trustline.dev/schemas/v1/enforcer-context-policy.json',
    title: 'EnforcerContextPolicy',
    description: 'Context (attribute-based) rules of the trustline enforcer SDK, evaluated in-process by decide(). See docs/enforcers.md.',
  },
);
/** A context policy document (JSON). */
export type ContextPolicyInput = Static<typeof ContextPolicySchema>;

/** The DecisionRule reported for each rule kind. */
const RULE_OF_KIND = {
  time_window: 'time_window',
  consent: 'consent_required',
  amount: 'amount_threshold',
  elevation: 'elevation_required',
} as const satisfies Record<string, DecisionRule>;

/** Strictness of a verdict: allow < challenge < hold < deny. */
export const SEVERITY: Readonly<Record<Verdict, number>> = Object.freeze({ allow: 0, challenge: 1, hold: 2, deny: 3 });

/** A compiled rule; `evaluate` returns the strictest violated one (or null). */
export type CompiledRule = {
  readonly id: string;
  readonly rule: DecisionRule;
  readonly verdict: Verdict;
  readonly severity: number;
  /** Document order, for ties. */
  readonly order: number;
  /** null = every tenant. */
  readonly tenants: ReadonlySet<string> | null;
  /** True when the request violates the rule. */
  readonly violated: (tenant: string, agentId: string, action: NonNullable<DecisionQuery['action']>, context: DecisionQuery['context'], t: number) => boolean;
};

export type CompiledContextPolicy = {
  /** The strictest rule the request violates (first in document order among equals), or null. */
  evaluate(tenant: string, agentId: string, action: NonNullable<DecisionQuery['action']>, context: DecisionQuery['context'], t: number): CompiledRule | null;
  /** Rules compiled, grants held. */
  readonly size: { rules: number; grants: number };
};

type Matcher = { exact: Set<string>; prefixes: string[]; all: boolean };

function matcher(selectors: readonly string[]): Matcher {
  const m: Matcher = { exact: new Set(), prefixes: [], all: false };
  for (const s of selectors) {
    if (s === '*') m.all = true;
    else if (s.endsWith('.*'))
      m.prefixes.push(s.slice(0, -1)); // keeps the dot: "customer." matches "customer.read"
    else m.exact.add(s);
  }
  return m;
}

function matches(m: Matcher, name: string): boolean {
  if (m.all || m.exact.has(name)) return true;
  for (const p of m.prefixes) if (name.startsWith(p)) return true;
  return false;
}

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

type CompiledGrant = { id: string; from: number; until: number; actions: Matcher };

/** Validate a document: every problem, each with its JSON path. Throws `CONFIG_INVALID`. */
function validate(input: unknown, source: string): ContextPolicyInput {
  if (Value.Check(ContextPolicySchema, input)) return input;
  const problems: string[] = [];
  for (const e of Value.Errors(ContextPolicySchema, input)) {
    problems.push(`${e.path || '/'}: ${e.message}`);
    if (problems.length >= 10) break;
  }
  throw new TrustlineError('CONFIG_INVALID', `${source}: invalid context policy:\n  - ${problems.join('\n  - ')}`);
}

/** Most action names whose applicable rules are cached (names come from gateways, not agents; bounded anyway). */
const MAX_CACHED_NAMES = 4096;
const NO_RULES: readonly CompiledRule[] = Object.freeze([]);

/**
 * Validate and compile a context policy. Throws `CONFIG_INVALID` naming the problem (schema
 * violations with their JSON path, unknown time zones, `from` = `to`, an unparseable instant).
 */
export function compileContextPolicy(input: unknown, source = 'contextPolicy'): CompiledContextPolicy {
  const doc = validate(input, source);
  const bad = (msg: string): never => {
    throw new TrustlineError('CONFIG_INVALID', `${source}: invalid context policy: ${msg}`);
  };
  const clocks = new Map<string, ZoneClock>();
  const clockFor = (zone: string, where: string): ZoneClock => {
    let c = clocks.get(zone);
    if (c === undefined) {
      try {
        assertTimeZone(zone);
      } catch {
        bad(`${where}: unknown time zone "${zone}" (an IANA name such as "Europe/Berlin")`);
      }
      clocks.set(zone, (c = createZoneClock(zone)));
    }
    return c;
  };
  const instant = (iso: string, where: string): number => {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t : bad(`${where}: not a valid instant "${iso}"`);
  };
  const defaultClock = clockFor(doc.defaultTimeZone ?? 'UTC', '/defaultTimeZone');
  const tenantClocks = new Map<string, ZoneClock>();
  for (const [tenant, t] of Object.entries(doc.tenants ?? {})) tenantClocks.set(tenant, clockFor(t.timeZone, `/tenants/${tenant}/timeZone`));

  // Elevation grants: tenant → agentId → grants (no string building at decision time).
  const grants = new Map<string, Map<string, CompiledGrant[]>>();
  let grantCount = 0;
  (doc.elevations ?? []).forEach((g, i) => {
    const from = g.from === undefined ? Number.NEGATIVE_INFINITY : instant(g.from, `/elevations/${i}/from`);
    const until = instant(g.until, `/elevations/${i}/until`);
    if (until <= from) bad(`/elevations/${i}: until must be after from`);
    const tenant = g.tenant ?? 'default';
    let byAgent = grants.get(tenant);
    if (byAgent === undefined) grants.set(tenant, (byAgent = new Map()));
    let list = byAgent.get(g.agentId);
    if (list === undefined) byAgent.set(g.agentId, (list = []));
    list.push({ id: g.id, from, until, actions: matcher(g.actions) });
    grantCount++;
  });

  const scratch: LocalTime = { dow: 0, minute: 0 };
  const compiled: { rule: CompiledRule; actions: Matcher }[] = [];
  const ids = new Set<string>();
  doc.rules.forEach((r, i) => {
    const where = `/rules/${i}`;
    if (ids.has(r.id)) bad(`${where}/id: duplicate rule id "${r.id}"`);
    ids.add(r.id);
    let violated: CompiledRule['violated'];
    let defaultVerdict: Verdict = 'deny';
    switch (r.kind) {
      case 'time_window': {
        const fixed = r.timeZone === undefined || r.timeZone === 'tenant' ? null : clockFor(r.timeZone, `${where}/timeZone`);
        const weekly: { mask: number; from: number; to: number }[] = [];
        const ranges: { start: number; end: number }[] = [];
        r.windows.forEach((w, j) => {
          if ('start' in w) {
            const start = instant(w.start, `${where}/windows/${j}/start`);
            const end = instant(w.end, `${where}/windows/${j}/end`);
            if (end <= start) bad(`${where}/windows/${j}: end must be after start`);
            ranges.push({ start, end });
          } else {
            const from = minutes(w.from);
            const to = minutes(w.to);
            if (from === to) bad(`${where}/windows/${j}: from and to are equal (use 00:00–24:00 for a whole day)`);
            let mask = 0;
            for (const d of w.days ?? DAYS) mask |= 1 << (DAYS as readonly string[]).indexOf(d);
            weekly.push({ mask, from, to });
          }
        });
        violated = (tenant, _agentId, _action, _context, t) => {
          for (const g of ranges) if (t >= g.start && t < g.end) return false;
          if (weekly.length === 0) return true;
          const clock = fixed ?? tenantClocks.get(tenant) ?? defaultClock;
          const lt = clock.localTime(t, scratch);
          const today = 1 << lt.dow;
          const yesterday = 1 << ((lt.dow + 6) % 7);
          for (const w of weekly) {
            if (w.from < w.to) {
              if (w.mask & today && lt.minute >= w.from && lt.minute < w.to) return false;
            } else if ((w.mask & today && lt.minute >= w.from) || (w.mask & yesterday && lt.minute < w.to)) return false;
          }
          return true;
        };
        break;
      }
      case 'consent': {
        const kind = r.consent;
        violated = (_tenant, _agentId, _action, context) => {
          const c = context === undefined ? undefined : context.consents;
          if (c === undefined || c === null) return true;
          return Array.isArray(c) ? !c.includes(kind) : !(c as ReadonlySet<string>).has(kind);
        };
        break;
      }
      case 'amount': {
        defaultVerdict = 'hold';
        const threshold = r.atOrAbove;
        const currency = r.currency;
        violated = (_tenant, _agentId, action) => {
          const a = action.amount;
          return a !== undefined && a >= threshold && (currency === undefined || action.currency === currency);
        };
        break;
      }
      case 'elevation': {
        violated = (tenant, agentId, action, _context, t) => {
          const list = grants.get(tenant)?.get(agentId);
          if (list === undefined) return true;
          const name = action.name!;
          for (const g of list) if (t >= g.from && t < g.until && matches(g.actions, name)) return false;
          return true;
        };
        break;
      }
    }
    const verdict: Verdict = r.verdict ?? defaultVerdict;
    compiled.push({
      actions: matcher(r.actions),
      rule: Object.freeze({
        id: r.id,
        rule: RULE_OF_KIND[r.kind],
        verdict,
        severity: SEVERITY[verdict],
        order: i,
        tenants: r.tenants === undefined ? null : new Set(r.tenants),
        violated,
      }),
    });
  });

  // Applicable rules per action name, resolved on first use (bounded cache).
  const byName = new Map<string, readonly CompiledRule[]>();
  function rulesFor(name: string): readonly CompiledRule[] {
    let list = byName.get(name);
    if (list !== undefined) return list;
    const found = compiled.filter((c) => matches(c.actions, name)).map((c) => c.rule);
    list = found.length === 0 ? NO_RULES : Object.freeze(found);
    if (byName.size < MAX_CACHED_NAMES) byName.set(name, list);
    return list;
  }

  return {
    size: { rules: compiled.length, grants: grantCount },
    evaluate(tenant, agentId, action, context, t) {
      const name = action.name;
      if (name === undefined) return null;
      const list = rulesFor(name);
      let worst: CompiledRule | null = null;
      for (let i = 0; i < list.length; i++) {
        const r = list[i]!;
        if (worst !== null && r.severity <= worst.severity) continue;
        if (r.tenants !== null && !r.tenants.has(tenant)) continue;
        if (r.violated(tenant, agentId, action, context, t)) {
          worst = r;
          if (r.severity === 3) break;
        }
      }
      return worst;
    },
  };
}

/** Read a context policy from a JSON file and compile it. Errors name the file. */
export function loadContextPolicy(path: string): CompiledContextPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TrustlineError('CONFIG_INVALID', `${path}: ${(err as Error).message}`);
  }
  return compileContextPolicy(doc, path);
}
