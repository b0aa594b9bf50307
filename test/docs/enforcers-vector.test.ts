/**
 * The HS256 test vector in docs/enforcers.md ("Test vector") is what gateway teams in other
 * languages check their verifier against: it must verify with the documented key, its canonical
 * signing input must be the one printed, and its reasons must be codes trustline really emits.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FEATURES } from '../../src/core/features.ts';
import { createVerifier, signingInput } from '../../src/outputs/sign.ts';

const DOC = readFileSync(resolve(import.meta.dirname, '../../docs/enforcers.md'), 'utf8');
const after = (marker: string): string => {
  const at = DOC.indexOf(marker);
  if (at < 0) throw new Error(`docs/enforcers.md has no "${marker}"`);
  const fence = DOC.indexOf('```', at);
  const start = DOC.indexOf('\n', fence) + 1;
  return DOC.slice(start, DOC.indexOf('```', start)).trim();
};

describe('docs/enforcers.md test vector', () => {
  const record = JSON.parse(after('**Test vector**')) as { reasons: { code: string; feature?: string }[]; sig: unknown };

  it('verifies with the documented key, and a changed field does not', () => {
    const verifier = createVerifier([{ kid: 'docs-2026', alg: 'HS256', secret: 'docs-example-secret-not-for-production' }]);
    expect(verifier.verify(record)).toBe(true);
    const tampered = { ...record, reasons: [] };
    expect(verifier.verify(tampered)).toBe(false);
  });

  it('prints the canonical signing input of the record', () => {
    expect(after('Canonical signing input')).toBe(signingInput(record));
  });

  it('uses reason codes and feature names the engine emits', () => {
    const hard = new Set(['signature_failed', 'scope_violation', 'auth_failure']);
    for (const r of record.reasons) {
      if (r.feature === undefined) expect(hard.has(r.code), r.code).toBe(true);
      else
        expect(
          FEATURES.some((f) => f.name === r.feature && f.reason === r.code),
          `${r.code}/${r.feature}`,
        ).toBe(true);
    }
  });
});
