/**
 * The contract's closed vocabularies and the two small record parts every consumer needs
 * (`Reason`, `Signature`), as plain TypeScript with no dependency: the enforcer SDK
 * (`@trustline/enforcer`) is built from these, not from the TypeBox schemas, so it installs
 * without them. `schemas.ts` re-exports the constants and checks at compile time that its
 * schema types are exactly these (docs/decisions.md, "Packaging").
 */

export const SENSITIVITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];
export const BANDS = ['trusted', 'watch', 'restrict', 'block'] as const;
export type Band = (typeof BANDS)[number];
export const CIRCUIT_STATES = ['closed', 'open', 'half_open', 'forced_open', 'forced_closed'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];
export const MODES = ['enforce', 'shadow'] as const;
export type Mode = (typeof MODES)[number];

/** `sig` of every output record: HMAC-SHA256 or Ed25519 over the RFC 8785 encoding of the record without `sig`. */
export type Signature = { kid: string; alg: 'HS256' | 'Ed25519'; value: string };

/** One reason of a trust update, circuit signal or escalation. */
export type Reason = { code: string; feature?: string; value?: number; baseline?: number };
