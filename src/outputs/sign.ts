/**
 * Record signatures: `sig { kid, alg, value }` over the RFC 8785 canonical encoding of the
 * record without `sig`. HMAC-SHA256 (HS256) by default with a key ring (rotation by `kid`),
 * Ed25519 as an option. Both are deterministic, so a replayed event yields the same bytes.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  sign as edSign,
  verify as edVerify,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import type { Signature } from '../contract/vocabulary.ts';
import { TrustlineError } from '../shared/errors.ts';

const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

export type SigningKey = { kid: string; alg: 'HS256' | 'Ed25519'; secret: string };

export type Signer = {
  readonly kid: string;
  sign(record: object): Signature;
  /** Signs text that already is the canonical encoding of a record without `sig` (see {@link signingInput}). */
  signCanonical(canonical: string): Signature;
};

export type Verifier = {
  verify(record: { sig?: unknown }): boolean;
};

/** RFC 8785 canonical JSON text of a value (`undefined` for a value JSON cannot hold). */
export function canonicalJson(value: unknown): string | undefined {
  return canonicalize(value);
}

/** The canonical bytes a signature covers: the record without `sig`. */
export function signingInput(record: object): string {
  const { sig: _sig, ...rest } = record as Record<string, unknown>;
  return canonicalize(rest) ?? '';
}

/** The HMAC key as a KeyObject, made once per key (the secret's UTF-8 bytes, as `createHmac(alg, string)` uses). */
function hmacKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

function hmac(key: KeyObject, input: string): string {
  return createHmac('sha256', key).update(input).digest('base64url');
}

/**
 * The Ed25519 key object of a ring entry, or a `CONFIG_INVALID` error naming the kid (never the key
 * material) when the PEM cannot be parsed or is not an Ed25519 key.
 */
function keyObject(key: SigningKey, kind: 'private' | 'public'): KeyObject {
  let k: KeyObject;
  try {
    k = kind === 'private' ? createPrivateKey(key.secret) : createPublicKey(key.secret);
  } catch (cause) {
    const want = kind === 'private' ? 'a PKCS#8 PEM private key' : 'a PEM public (SPKI) or private (PKCS#8) key';
    throw new TrustlineError('CONFIG_INVALID', `key "${key.kid}": not ${want} (${(cause as { code?: string }).code ?? 'unreadable'})`, { cause });
  }
  if (k.asymmetricKeyType !== 'ed25519')
    throw new TrustlineError('CONFIG_INVALID', `key "${key.kid}": alg Ed25519 but the PEM holds a ${k.asymmetricKeyType ?? 'non-asymmetric'} key`);
  return k;
}

export function createSigner(keys: readonly SigningKey[], activeKid: string): Signer {
  const key = keys.find((k) => k.kid === activeKid);
  if (!key) throw new TrustlineError('CONFIG_INVALID', `no signing key with kid ${activeKid}`);
  if (key.alg === 'Ed25519') {
    const priv = keyObject(key, 'private');
    const signCanonical = (text: string): Signature => ({ kid: key.kid, alg: 'Ed25519', value: edSign(null, Buffer.from(text), priv).toString('base64url') });
    return { kid: key.kid, signCanonical, sign: (record) => signCanonical(signingInput(record)) };
  }
  const secret = hmacKey(key.secret);
  const signCanonical = (text: string): Signature => ({ kid: key.kid, alg: 'HS256', value: hmac(secret, text) });
  return { kid: key.kid, signCanonical, sign: (record) => signCanonical(signingInput(record)) };
}

/** Verifies against every key in the ring (by `kid`); Ed25519 keys may be given as private or public PEM. */
export function createVerifier(keys: readonly SigningKey[]): Verifier {
  const ring = new Map<string, { alg: SigningKey['alg']; key: KeyObject }>();
  for (const k of keys) ring.set(k.kid, k.alg === 'Ed25519' ? { alg: k.alg, key: keyObject(k, 'public') } : { alg: k.alg, key: hmacKey(k.secret) });
  return {
    verify(record) {
      const sig = record.sig as Partial<Signature> | undefined;
      if (!sig || typeof sig.kid !== 'string' || typeof sig.value !== 'string') return false;
      const key = ring.get(sig.kid);
      if (!key || key.alg !== sig.alg) return false;
      const input = signingInput(record);
      if (key.alg === 'Ed25519') return edVerify(null, Buffer.from(input), key.key, Buffer.from(sig.value, 'base64url'));
      const expected = Buffer.from(hmac(key.key, input));
      const given = Buffer.from(sig.value);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
