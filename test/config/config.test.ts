/**
 * Signing-key configuration (docs/operations.md, "Signing keys"): a key without a kid is an error
 * that never echoes the secret; the built-in development key is recognised so `trustline run`
 * can refuse it; activeKid defaults to the first key of the ring.
 */
import { describe, expect, it } from 'vitest';
import { DEV_SIGNING_KEY, describeConfig, loadConfig, usesDevSigningKey } from '../../src/config/config.ts';
import { TrustlineError } from '../../src/shared/errors.ts';

const SECRET = 'Zq8XwJkLm9PqRt7UvYb2N6Hc1DgF';

function errorOf(fn: () => unknown): TrustlineError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TrustlineError) return err;
    throw err;
  }
  throw new Error('expected a TrustlineError');
}

describe('signing keys from the environment', () => {
  it('a key without a kid is a configuration error, and no part of the secret is in the message', () => {
    for (const env of [
      { TRUSTLINE_SIGNING_KEYS: SECRET },
      { TRUSTLINE_CONTROL_KEYS: SECRET },
      { TRUSTLINE_SIGNING_KEYS: `ok:${SECRET}x,${SECRET}` },
      { TRUSTLINE_SIGNING_KEYS: `:${SECRET}` },
    ]) {
      const err = errorOf(() => loadConfig({ env }));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toMatch(/is not kid:secret/);
      // Not even a fragment of the secret (the old parser used all but its last character as the kid).
      for (let i = 0; i + 6 <= SECRET.length; i++) expect(err.message).not.toContain(SECRET.slice(i, i + 6));
    }
  });

  it('kid:secret keys parse, activeKid defaults to the first key, and describeConfig redacts them', () => {
    const c = loadConfig({ env: { TRUSTLINE_SIGNING_KEYS: `prod-2:${SECRET},prod-1:${SECRET}y`, TRUSTLINE_CONTROL_KEYS: `ops:${SECRET}z` } });
    expect(c.signing.keys.map((k) => k.kid)).toEqual(['prod-2', 'prod-1']);
    expect(c.signing.activeKid).toBe('prod-2');
    expect(c.control.keys[0]!.kid).toBe('ops');
    expect(usesDevSigningKey(c)).toBe(false);
    expect(JSON.stringify(describeConfig(c))).not.toContain(SECRET);
    expect(loadConfig({ env: { TRUSTLINE_SIGNING_KEYS: `a:${SECRET},b:${SECRET}y`, TRUSTLINE_SIGNING_ACTIVE_KID: 'b' } }).signing.activeKid).toBe('b');
  });

  it('without keys the built-in development key is used, recognised, and only allowed to run with the explicit flag', () => {
    const dev = loadConfig({ env: {} });
    expect(dev.signing.keys).toEqual([DEV_SIGNING_KEY]);
    expect(usesDevSigningKey(dev)).toBe(true);
    expect(dev.signing.insecureDevKeys).toBe(false);
    expect(loadConfig({ env: { TRUSTLINE_INSECURE_DEV_KEYS: '1' } }).signing.insecureDevKeys).toBe(true);
    expect(loadConfig({ env: { TRUSTLINE_INSECURE_DEV_KEYS: 'true' } }).signing.insecureDevKeys).toBe(true);
    expect(loadConfig({ env: { TRUSTLINE_INSECURE_DEV_KEYS: '0' } }).signing.insecureDevKeys).toBe(false);
  });

  it('the model card defaults to the one shipped with the package, whatever the working directory', () => {
    const card = loadConfig({ env: {} }).model.card;
    expect(card).toMatch(/[\\/]models[\\/]trustline-tailsum\.json$/);
    expect(card.startsWith('/') || /^[A-Z]:/.test(card)).toBe(true);
  });
});
