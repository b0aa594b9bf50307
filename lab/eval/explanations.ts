/**
 * Which reasons explain which attack: for each labelled attack type, the feature families (and
 * hard-signal codes) its detections should name. Used by the explanation test and the
 * evaluation report to check that the FIRST detecting record of every malicious agent carries
 * at least one reason of the right kind. Definitions in docs/evaluation.md.
 */
import type { Reason } from '../../src/contract/schemas.ts';
import { FEATURES, type FeatureFamily } from '../../src/core/features.ts';

/** Attack type → the families (or hard-signal codes) that name its cause. */
export const EXPECTED_REASONS: Readonly<Record<string, { families: readonly FeatureFamily[]; codes: readonly string[]; describe: string }>> = {
  enumeration: { families: ['routes'], codes: [], describe: 'route novelty / sequential ids' },
  exfiltration: {
    families: ['bytes', 'sensitivity'],
    codes: [],
    describe: 'bytes out (size, above own maximum, egress volume) / reading data more sensitive than usual',
  },
  prompt_injection_hijack: { families: ['purpose', 'sensitivity'], codes: [], describe: 'purpose mismatch / sensitivity' },
  stolen_token: { families: ['client', 'rhythm'], codes: [], describe: 'network / user agent / rhythm' },
  scope_probing: { families: ['authorization'], codes: ['scope_violation'], describe: 'scope violation / forbidden' },
  payment_velocity: { families: ['sensitivity', 'amount'], codes: [], describe: 'sensitive action velocity / amount' },
  credential_stuffing: { families: ['auth'], codes: ['auth_failure', 'signature_failed'], describe: 'authentication failures' },
  low_and_slow: { families: ['drift'], codes: ['bytes_out_drift'], describe: 'drift of the sensitive-action share / of the egress volume' },
};

const FAMILY_OF_CODE = new Map<string, FeatureFamily>(FEATURES.map((f) => [f.reason, f.family]));

/** The feature family a reason code belongs to (undefined for hard-signal codes). */
export function familyOfReason(code: string): FeatureFamily | undefined {
  return FAMILY_OF_CODE.get(code);
}

/**
 * Whether `reasons` name the cause expected for `scenario`: true when one of them is of an
 * expected family or an expected hard-signal code; null for a scenario without expectations.
 */
export function namesExpectedCause(scenario: string, reasons: readonly Reason[]): boolean | null {
  const want = EXPECTED_REASONS[scenario];
  if (!want) return null;
  return reasons.some((r) => want.codes.includes(r.code) || (familyOfReason(r.code) !== undefined && want.families.includes(familyOfReason(r.code)!)));
}
