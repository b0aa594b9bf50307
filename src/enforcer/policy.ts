/**
 * Enforcement policy: how a band, an action's sensitivity, the circuit and the freshness of
 * the feed turn into a verdict. Parsed once when the enforcer is created; unknown keys are
 * rejected with the name of the wrong setting.
 */
import { BANDS, SENSITIVITIES, type Band, type Sensitivity } from '../contract/vocabulary.ts';
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

const VERDICT_VALUES = ['allow', 'challenge', 'deny', 'hold'] as const;
type Row = Partial<Record<Sensitivity, Verdict>>;

/** Policy settings as given by the user: every field optional, band rows merged cell by cell over the defaults. */
export type EnforcerPolicyInput = {
  bands?: Partial<Record<Band, Row>>;
  defaultSensitivity?: Sensitivity;
  actions?: Record<string, Sensitivity>;
  unknown?: Verdict;
  onStale?: 'fail-open' | 'fail-closed';
  feedTimeoutMs?: number;
  fallbackProbeBudget?: number;
  clockToleranceMs?: number;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const oneOf = (values: readonly string[]): string => `expected one of ${values.map((v) => `"${v}"`).join('|')}`;

/**
 * Validates a policy input by hand (the SDK has no schema library): unknown keys and wrong values
 * are reported with their path, e.g. `policy.bands.watch.high: expected one of "allow"|…`.
 */
function policyProblems(input: unknown): string[] {
  const problems: string[] = [];
  const at = (path: string, message: string): void => void problems.push(`policy${path ? `.${path}` : ''}: ${message}`);
  if (!isObject(input)) {
    at('', 'expected an object');
    return problems;
  }
  const known = ['bands', 'defaultSensitivity', 'actions', 'unknown', 'onStale', 'feedTimeoutMs', 'fallbackProbeBudget', 'clockToleranceMs'];
  const unknownKeys = Object.keys(input).filter((k) => !known.includes(k));
  if (unknownKeys.length) at('', `unrecognized keys ${unknownKeys.join(', ')}`);
  const enumAt = (path: string, v: unknown, values: readonly string[]): void => {
    if (v !== undefined && !(typeof v === 'string' && values.includes(v))) at(path, oneOf(values));
  };
  const intAt = (path: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) at(path, `expected an integer in ${min}..${max}`);
  };
  if (input.bands !== undefined) {
    if (!isObject(input.bands)) at('bands', 'expected an object');
    else
      for (const [band, row] of Object.entries(input.bands)) {
        if (!(BANDS as readonly string[]).includes(band)) at('bands', `unrecognized keys ${band}`);
        else if (row === undefined) continue;
        else if (!isObject(row)) at(`bands.${band}`, 'expected an object');
        else
          for (const [sens, v] of Object.entries(row)) {
            if (!(SENSITIVITIES as readonly string[]).includes(sens)) at(`bands.${band}`, `unrecognized keys ${sens}`);
            else enumAt(`bands.${band}.${sens}`, v, VERDICT_VALUES);
          }
      }
  }
  enumAt('defaultSensitivity', input.defaultSensitivity, SENSITIVITIES);
  if (input.actions !== undefined) {
    if (!isObject(input.actions)) at('actions', 'expected an object');
    else
      for (const [name, v] of Object.entries(input.actions)) {
        if (!name) at('actions', 'action names must not be empty');
        enumAt(`actions.${name}`, v, SENSITIVITIES);
      }
  }
  enumAt('unknown', input.unknown, VERDICT_VALUES);
  enumAt('onStale', input.onStale, ['fail-open', 'fail-closed']);
  intAt('feedTimeoutMs', input.feedTimeoutMs, 1);
  intAt('fallbackProbeBudget', input.fallbackProbeBudget, 0, 1_000_000);
  intAt('clockToleranceMs', input.clockToleranceMs, 0);
  return problems;
}

/** Resolve a policy input over the defaults. Throws `CONFIG_INVALID` naming each wrong setting. */
export function resolvePolicy(input: EnforcerPolicyInput = {}): EnforcerPolicy {
  const problems = policyProblems(input);
  if (problems.length) throw new TrustlineError('CONFIG_INVALID', `invalid enforcer policy:\n  - ${problems.join('\n  - ')}`);
  const p = input;
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
