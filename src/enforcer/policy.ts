/**
 * Enforcement policy: how a band, an action's sensitivity, the circuit and the freshness of
 * the feed turn into a verdict. Parsed once when the enforcer is created; unknown keys are
 * rejected with the name of the wrong setting.
 */
import { z } from 'zod';
import { BANDS, SENSITIVITIES, type Band, type Sensitivity } from '../contract/schemas.ts';
import { TrustlineError } from '../shared/errors.ts';
import type { Verdict } from './types.ts';

/** The resolved policy (every field set). */
export type EnforcerPolicy = {
  /** Verdict per band and action sensitivity. */
  readonly bands: Readonly<Record<Band, Readonly<Record<Sensitivity, Verdict>>>>;
  /** Sensitivity of a request whose action has none and whose name is not in `actions`. */
  readonly defaultSensitivity: Sensitivity;
  /** Sensitivity by action name, for gateways that pass only `action.name`. */
  readonly actions: ReadonlyMap<string, Sensitivity>;
  /** Verdict for an agent without any record while the feed is fresh. */
  readonly unknown: Verdict;
  /**
   * What a stale decision becomes (record past its ttl, feed silent, snapshot not loaded):
   * `fail-open` → `allow` with `stale: true`; `fail-closed` → `deny`. Open and forced circuits
   * are not subject to it (they hold until `until` or an operator changes them).
   */
  readonly onStale: 'fail-open' | 'fail-closed';
  /** The feed is stale when no record and no successful fetch happened for this long, ms. */
  readonly feedTimeoutMs: number;
  /**
   * Local probes granted when a half-open record carries no `probeBudget`, and after an open
   * circuit's `until` has passed without a newer record. 0 keeps denying until a newer record.
   */
  readonly fallbackProbeBudget: number;
  /**
   * Clock tolerance, ms: a TrustUpdate stays fresh this much past `ts + ttlMs`, and an open
   * circuit keeps denying this much past `until`.
   */
  readonly clockToleranceMs: number;
};

/** The defaults, documented in docs/enforcers.md. */
export const DEFAULT_ENFORCER_POLICY: EnforcerPolicy = Object.freeze({
  bands: Object.freeze({
    trusted: Object.freeze({ low: 'allow', medium: 'allow', high: 'allow', critical: 'allow' }),
    watch: Object.freeze({ low: 'allow', medium: 'allow', high: 'challenge', critical: 'challenge' }),
    restrict: Object.freeze({ low: 'challenge', medium: 'challenge', high: 'deny', critical: 'deny' }),
    block: Object.freeze({ low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' }),
  }),
  defaultSensitivity: 'low',
  actions: new Map<string, Sensitivity>(),
  unknown: 'challenge',
  onStale: 'fail-open',
  feedTimeoutMs: 30_000,
  fallbackProbeBudget: 1,
  clockToleranceMs: 0,
} satisfies EnforcerPolicy);

const verdict = z.enum(['allow', 'challenge', 'deny', 'hold']);
const sensitivity = z.enum(SENSITIVITIES);
const row = z.strictObject({ low: verdict, medium: verdict, high: verdict, critical: verdict }).partial();

const PolicyInputSchema = z.strictObject({
  bands: z.strictObject({ trusted: row, watch: row, restrict: row, block: row }).partial().optional(),
  defaultSensitivity: sensitivity.optional(),
  actions: z.record(z.string().min(1), sensitivity).optional(),
  unknown: verdict.optional(),
  onStale: z.enum(['fail-open', 'fail-closed']).optional(),
  feedTimeoutMs: z.number().int().positive().optional(),
  fallbackProbeBudget: z.number().int().min(0).max(1_000_000).optional(),
  clockToleranceMs: z.number().int().min(0).optional(),
});

/** Policy settings as given by the user: every field optional, band rows merged cell by cell over the defaults. */
export type EnforcerPolicyInput = z.input<typeof PolicyInputSchema>;

/** Resolve a policy input over the defaults. Throws `CONFIG_INVALID` naming each wrong setting. */
export function resolvePolicy(input: EnforcerPolicyInput = {}): EnforcerPolicy {
  const parsed = PolicyInputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const keys = 'keys' in i && Array.isArray(i.keys) ? ` ${i.keys.join(', ')}` : '';
      return `policy.${i.path.join('.')}${keys}: ${i.message}`;
    });
    throw new TrustlineError('CONFIG_INVALID', `invalid enforcer policy:\n  - ${problems.join('\n  - ')}`);
  }
  const p = parsed.data;
  const d = DEFAULT_ENFORCER_POLICY;
  const bands = {} as Record<Band, Readonly<Record<Sensitivity, Verdict>>>;
  for (const band of BANDS) bands[band] = Object.freeze({ ...d.bands[band], ...p.bands?.[band] });
  return Object.freeze({
    bands: Object.freeze(bands),
    defaultSensitivity: p.defaultSensitivity ?? d.defaultSensitivity,
    actions: new Map(Object.entries(p.actions ?? {})),
    unknown: p.unknown ?? d.unknown,
    onStale: p.onStale ?? d.onStale,
    feedTimeoutMs: p.feedTimeoutMs ?? d.feedTimeoutMs,
    fallbackProbeBudget: p.fallbackProbeBudget ?? d.fallbackProbeBudget,
    clockToleranceMs: p.clockToleranceMs ?? d.clockToleranceMs,
  });
}
