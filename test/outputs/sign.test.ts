import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { CircuitSignalSchema, TrustUpdateSchema, type CircuitSignal, type TrustUpdate } from '../../src/contract/schemas.ts';
import type { Judgement } from '../../src/core/judge.ts';
import { buildCircuitSignal, buildTrustUpdate, outputKey, type RecordContext } from '../../src/outputs/records.ts';
import { createSigner, createVerifier, signingInput, type SigningKey } from '../../src/outputs/sign.ts';

const ajv = new Ajv({ strict: true });
const validTrust = ajv.compile<TrustUpdate>(TrustUpdateSchema);
const validCircuit = ajv.compile<CircuitSignal>(CircuitSignalSchema);

const HS_OLD: SigningKey = { kid: 'hs-2024', alg: 'HS256', secret: 'old secret, at least 32 bytes long....' };
const HS_NEW: SigningKey = { kid: 'hs-2025', alg: 'HS256', secret: 'new secret, at least 32 bytes long....' };

function edKey(kid: string): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { kid, alg: 'Ed25519', secret: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}
const ED = edKey('ed-1');
const ED_OTHER = edKey('ed-2');

const CTX: RecordContext = { tenant: 'default', agentId: 'agent-7', seq: 42, eventId: 'evt-42', ts: 1_700_000_000_000, model: 'iforest@3', mode: 'enforce' };
const J: Judgement = {
  trust: 0.412345,
  band: 'restrict',
  components: { identity: 0.65, intent: 0.3333333, authorization: 0.76 },
  circuit: 'open',
  circuitChange: { previous: 'closed', state: 'open', until: 1_700_000_060_000 },
  emitTrust: true,
  offences: 1,
};

function trustUpdate(key: SigningKey, ctx: RecordContext = CTX): TrustUpdate {
  return buildTrustUpdate(
    ctx,
    J,
    0.87654,
    [{ code: 'scope_violation' }, { code: 'new_routes', feature: 'route_novelty', value: 0.74, baseline: 0.3 }],
    30_000,
    createSigner([key], key.kid),
  );
}

function circuitSignal(key: SigningKey): CircuitSignal {
  return buildCircuitSignal(CTX, J.circuitChange!, J.offences, [{ code: 'burst', feature: 'burstiness', value: 5, baseline: 2 }], createSigner([key], key.kid));
}

/** Every leaf path of a record (except `sig`), with a tampered value for it. */
function tamperings(record: object): { path: string; tampered: object }[] {
  const out: { path: string; tampered: object }[] = [];
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, [...path, Array.isArray(node) ? Number(k) : k]);
      return;
    }
    if (path[0] === 'sig') return;
    const copy = structuredClone(record) as Record<string | number, unknown>;
    let parent = copy as Record<string | number, unknown>;
    for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
    const last = path.at(-1)!;
    const v = parent[last];
    parent[last] = typeof v === 'number' ? v + 1 : typeof v === 'string' ? `${v}x` : !v;
    out.push({ path: path.join('.'), tampered: copy });
  };
  walk(record, []);
  return out;
}

describe('signatures', () => {
  for (const key of [HS_NEW, ED]) {
    describe(key.alg, () => {
      it('signs and verifies TrustUpdate and CircuitSignal records', () => {
        const v = createVerifier([key]);
        const t = trustUpdate(key);
        const c = circuitSignal(key);
        expect(t.sig).toMatchObject({ kid: key.kid, alg: key.alg });
        expect(t.sig.value).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
        expect(v.verify(t)).toBe(true);
        expect(v.verify(c)).toBe(true);
        // The record survives the wire: JSON text round trip still verifies.
        expect(v.verify(JSON.parse(JSON.stringify(t)) as TrustUpdate)).toBe(true);
      });

      it('fails verification when any field is tampered with', () => {
        const v = createVerifier([key]);
        for (const record of [trustUpdate(key), circuitSignal(key)]) {
          const cases = tamperings(record);
          expect(cases.length).toBeGreaterThan(10);
          for (const { path, tampered } of cases) expect(v.verify(tampered), `tampered ${path}`).toBe(false);
          // Added and removed fields too.
          const extended: { sig?: unknown } = Object.assign({ extra: 1 }, record);
          expect(v.verify(extended)).toBe(false);
          const { mode: _mode, ...withoutMode } = record;
          expect(v.verify(withoutMode)).toBe(false);
        }
      });

      it('fails on a tampered, truncated, missing or foreign signature', () => {
        const v = createVerifier([key]);
        const t = trustUpdate(key);
        const flipped = t.sig.value.startsWith('A') ? `B${t.sig.value.slice(1)}` : `A${t.sig.value.slice(1)}`;
        expect(v.verify({ ...t, sig: { ...t.sig, value: flipped } })).toBe(false);
        expect(v.verify({ ...t, sig: { ...t.sig, value: t.sig.value.slice(0, -2) } })).toBe(false);
        expect(v.verify({ ...t, sig: { ...t.sig, value: '' } })).toBe(false);
        expect(v.verify({ ...t, sig: undefined })).toBe(false);
        const { sig: _sig, ...unsigned } = t;
        expect(v.verify(unsigned as { sig?: unknown })).toBe(false);
        expect(v.verify({ ...t, sig: { ...t.sig, alg: key.alg === 'HS256' ? 'Ed25519' : 'HS256' } })).toBe(false);
        // A signature made by another key under the same kid.
        const impostor: SigningKey = key.alg === 'HS256' ? { ...key, secret: 'guessed' } : { ...ED_OTHER, kid: key.kid };
        expect(v.verify(trustUpdate(impostor))).toBe(false);
      });

      it('fails for an unknown kid', () => {
        const t = trustUpdate(key);
        expect(createVerifier([key.alg === 'HS256' ? HS_OLD : ED_OTHER]).verify(t)).toBe(false);
        expect(createVerifier([]).verify(t)).toBe(false);
        expect(createVerifier([key]).verify({ ...t, sig: { ...t.sig, kid: 'nobody' } })).toBe(false);
      });

      it('is deterministic: the same record gives the same signature bytes', () => {
        expect(JSON.stringify(trustUpdate(key))).toBe(JSON.stringify(trustUpdate(key)));
        expect(JSON.stringify(circuitSignal(key))).toBe(JSON.stringify(circuitSignal(key)));
      });
    });
  }

  it('verifies across key rotation: records of the old and the new kid both verify with a two-key ring', () => {
    const ring = createVerifier([HS_OLD, HS_NEW, ED]);
    const before = trustUpdate(HS_OLD);
    const after = trustUpdate(HS_NEW);
    expect(before.sig.kid).toBe('hs-2024');
    expect(after.sig.kid).toBe('hs-2025');
    expect(before.sig.value).not.toBe(after.sig.value);
    expect(ring.verify(before)).toBe(true);
    expect(ring.verify(after)).toBe(true);
    expect(ring.verify(trustUpdate(ED))).toBe(true);
    // The signer picks the active kid out of its ring.
    const signer = createSigner([HS_OLD, HS_NEW], 'hs-2025');
    expect(signer.kid).toBe('hs-2025');
    // After the old key is retired, its records no longer verify.
    expect(createVerifier([HS_NEW]).verify(before)).toBe(false);
    // Swapping kids between records of two keys fails.
    expect(ring.verify({ ...before, sig: { ...before.sig, kid: 'hs-2025' } })).toBe(false);
  });

  it('Ed25519 verifies with the public key alone', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const priv: SigningKey = { kid: 'ed-pub', alg: 'Ed25519', secret: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
    const pub: SigningKey = { kid: 'ed-pub', alg: 'Ed25519', secret: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
    expect(createVerifier([pub]).verify(trustUpdate(priv))).toBe(true);
  });

  it('refuses to build a signer for a kid not in the ring', () => {
    expect(() => createSigner([HS_OLD], 'hs-2025')).toThrow(/hs-2025/);
  });

  it('signs the RFC 8785 canonical form: key order does not matter, sig is excluded', () => {
    const a = { b: 1, a: { d: 'x', c: [1, 2] } };
    const b = { a: { c: [1, 2], d: 'x' }, b: 1, sig: { kid: 'k', alg: 'HS256', value: 'v' } };
    expect(signingInput(a)).toBe('{"a":{"c":[1,2],"d":"x"},"b":1}');
    expect(signingInput(b)).toBe(signingInput(a));
    const signer = createSigner([HS_NEW], HS_NEW.kid);
    expect(signer.sign(a)).toEqual(signer.sign(b));
  });
});

describe('output records', () => {
  it('TrustUpdate validates against the published schema, in contract field order, rounded', () => {
    const t = trustUpdate(HS_NEW);
    expect(validTrust(t), JSON.stringify(validTrust.errors)).toBe(true);
    expect(Object.keys(t)).toEqual([
      'v',
      'tenant',
      'agentId',
      'seq',
      'eventId',
      'ts',
      'trust',
      'band',
      'components',
      'anomaly',
      'reasons',
      'circuit',
      'model',
      'mode',
      'ttlMs',
      'sig',
    ]);
    expect(t.trust).toBe(0.4123);
    expect(t.anomaly).toBe(0.8765);
    expect(t.components).toEqual({ identity: 0.65, intent: 0.3333, authorization: 0.76 });
  });

  it('CircuitSignal validates against the published schema; until only when open, probeBudget only when half-open', () => {
    const open = circuitSignal(ED);
    expect(validCircuit(open), JSON.stringify(validCircuit.errors)).toBe(true);
    expect(open).toMatchObject({ state: 'open', previous: 'closed', until: 1_700_000_060_000, offences: 1, issuedAt: CTX.ts });
    expect(open).not.toHaveProperty('probeBudget');
    const signer = createSigner([HS_NEW], HS_NEW.kid);
    const half = buildCircuitSignal(CTX, { previous: 'open', state: 'half_open', probeBudget: 4 }, 1, [], signer);
    expect(validCircuit(half)).toBe(true);
    expect(half).not.toHaveProperty('until');
    expect(half.probeBudget).toBe(4);
    expect(createVerifier([HS_NEW]).verify(half)).toBe(true);
  });

  it('keys outputs by agent id, prefixed by the tenant outside the default tenant', () => {
    expect(outputKey('default', 'a-1')).toBe('a-1');
    expect(outputKey('acme', 'a-1')).toBe('acme/a-1');
  });
});
