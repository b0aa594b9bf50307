import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import canonicalizeModule from 'canonicalize';
import type { CircuitSignal, TrustUpdate } from '../../src/contract/schemas.ts';
import type { Judgement } from '../../src/core/judge.ts';
import { createEnforcerCore, type EnforcerCore } from '../../src/enforcer/index.ts';
import { buildCircuitSignal, buildTrustUpdate, type RecordContext } from '../../src/outputs/records.ts';
import { createSigner, type SigningKey } from '../../src/outputs/sign.ts';
import { createLogger } from '../../src/shared/logger.ts';

const canonicalize = canonicalizeModule as unknown as (v: unknown) => string;

const KEY: SigningKey = { kid: 'prod-1', alg: 'HS256', secret: 'the real signing secret, 32+ bytes' };
const ATTACKER_SAME_KID: SigningKey = { kid: 'prod-1', alg: 'HS256', secret: 'a guessed secret, also 32+ bytes..' };
const ATTACKER_OWN_KID: SigningKey = { kid: 'evil', alg: 'HS256', secret: 'the attacker own secret, 32 bytes' };
const T0 = 1_767_225_600_000;

const J = (band: Judgement['band'], trust: number, circuit: Judgement['circuit'] = 'closed'): Judgement => ({
  trust,
  band,
  components: { identity: 0.8, intent: 0.9, authorization: 1 },
  circuit,
  circuitChange: null,
  emitTrust: true,
  offences: 0,
});

function ctx(seq: number, agentId = 'agent-1'): RecordContext {
  return { tenant: 'default', agentId, seq, eventId: `e-${seq}`, ts: T0, model: 'iforest@1', mode: 'enforce' };
}

function update(key: SigningKey, seq: number, band: Judgement['band'], trust: number): TrustUpdate {
  return buildTrustUpdate(ctx(seq), J(band, trust), 0.1, [], 300_000, createSigner([key], key.kid));
}

function setup(keys: SigningKey[] = [KEY]): EnforcerCore {
  const core = createEnforcerCore({ keys, now: () => T0, logger: createLogger({ level: 'silent' }) });
  core.markReady();
  return core;
}

describe('enforcer: only authentic, newer records are applied', () => {
  it('drops a forged update signed with a guessed key under the real kid, and counts it', () => {
    const core = setup();
    core.ingest('trust', update(KEY, 5, 'block', 0.1));
    expect(core.ingest('trust', JSON.stringify(update(ATTACKER_SAME_KID, 6, 'trusted', 0.99)))).toBe('bad_signature');
    expect(core.decide({ agentId: 'agent-1' })).toMatchObject({ verdict: 'deny', band: 'block', seq: 5 });
    expect(core.metrics()).toMatchObject({ accepted: 1, droppedBadSignature: 1 });
  });

  it('drops an update signed with a key id it does not know', () => {
    const core = setup();
    expect(core.ingest('trust', update(ATTACKER_OWN_KID, 1, 'trusted', 0.99))).toBe('bad_signature');
    expect(core.decide({ agentId: 'agent-1' }).rule).toBe('unknown_agent');
    expect(core.metrics().droppedBadSignature).toBe(1);
  });

  it('drops a genuine record whose content was changed after signing', () => {
    const core = setup();
    const genuine = update(KEY, 7, 'block', 0.1);
    for (const tampered of [
      { ...genuine, band: 'trusted' },
      { ...genuine, trust: 0.99 },
      { ...genuine, agentId: 'agent-2' },
      { ...genuine, tenant: 'acme' },
      { ...genuine, seq: 8 },
      { ...genuine, ttlMs: 999_999_999 },
      { ...genuine, extra: 'unknown fields are covered too' },
    ]) {
      expect(core.ingest('trust', tampered)).toBe('bad_signature');
    }
    expect(core.metrics()).toMatchObject({ accepted: 0, droppedBadSignature: 7, agents: 0 });
  });

  it('drops unsigned records and counts them', () => {
    const core = setup();
    const { sig: _sig, ...unsigned } = update(KEY, 3, 'trusted', 0.99);
    expect(core.ingest('trust', JSON.stringify(unsigned))).toBe('unsigned');
    expect(core.ingest('trust', { ...unsigned, sig: null })).toBe('unsigned');
    const signalCtx = ctx(3);
    const { sig: _s2, ...unsignedSignal } = buildCircuitSignal(
      signalCtx,
      { previous: 'forced_open', state: 'forced_closed' },
      0,
      [],
      createSigner([KEY], KEY.kid),
    );
    expect(core.ingest('circuit', unsignedSignal)).toBe('unsigned');
    expect(core.metrics()).toMatchObject({ accepted: 0, droppedUnsigned: 3 });
    expect(core.decide({ agentId: 'agent-1' }).rule).toBe('unknown_agent');
  });

  it('drops a sig object that is not a signature', () => {
    const core = setup();
    const genuine = update(KEY, 3, 'trusted', 0.99);
    expect(core.ingest('trust', { ...genuine, sig: { kid: 'prod-1', alg: 'HS256' } })).toBe('bad_signature');
    expect(core.ingest('trust', { ...genuine, sig: 'abc' })).toBe('bad_signature');
    expect(core.ingest('trust', { ...genuine, sig: { ...genuine.sig, alg: 'Ed25519' } })).toBe('bad_signature');
  });

  it('ignores a replayed older seq and counts it; an identical re-delivery is a duplicate, not a replay', () => {
    const core = setup();
    const old = update(KEY, 10, 'trusted', 0.95);
    const current = update(KEY, 11, 'block', 0.1);
    expect(core.ingest('trust', old)).toBe('accepted');
    expect(core.ingest('trust', current)).toBe('accepted');
    expect(core.ingest('trust', old)).toBe('stale_seq');
    expect(core.ingest('trust', current)).toBe('duplicate');
    // Same seq, different (validly signed) content: not newer, so ignored.
    expect(core.ingest('trust', update(KEY, 11, 'trusted', 0.9))).toBe('stale_seq');
    expect(core.decide({ agentId: 'agent-1' })).toMatchObject({ verdict: 'deny', seq: 11 });
    expect(core.metrics()).toMatchObject({ accepted: 2, droppedStaleSeq: 2, duplicates: 1 });
  });

  it('ignores a replayed older circuit signal (an attacker re-publishing an old "forced_closed")', () => {
    const core = setup();
    const signer = createSigner([KEY], KEY.kid);
    const closed: CircuitSignal = buildCircuitSignal(ctx(4), { previous: 'closed', state: 'forced_closed' }, 0, [], signer);
    const open: CircuitSignal = buildCircuitSignal(ctx(9), { previous: 'forced_closed', state: 'forced_open' }, 0, [], signer);
    core.ingest('circuit', closed);
    core.ingest('circuit', open);
    expect(core.ingest('circuit', closed)).toBe('stale_seq');
    expect(core.decide({ agentId: 'agent-1' })).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open' });
    expect(core.metrics().droppedStaleSeq).toBe(1);
  });

  it('verifies Ed25519 with only the public key, and rejects HS256 forged with the public key as the HMAC secret', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const priv: SigningKey = { kid: 'ed', alg: 'Ed25519', secret: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
    const pubPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const core = setup([{ kid: 'ed', alg: 'Ed25519', secret: pubPem }]);
    expect(core.ingest('trust', update(priv, 1, 'watch', 0.6))).toBe('accepted');
    // Algorithm confusion: HMAC keyed with the (public) PEM, claiming the Ed25519 kid.
    const { sig: _sig, ...body } = update(priv, 2, 'trusted', 0.99);
    const value = createHmac('sha256', pubPem).update(canonicalize(body)).digest('base64url');
    expect(core.ingest('trust', { ...body, sig: { kid: 'ed', alg: 'HS256', value } })).toBe('bad_signature');
    expect(core.ingest('trust', { ...body, sig: { kid: 'ed', alg: 'Ed25519', value } })).toBe('bad_signature');
    expect(core.decide({ agentId: 'agent-1' }).band).toBe('watch');
  });

  it('accepts records of every key in the ring (rotation)', () => {
    const next: SigningKey = { kid: 'prod-2', alg: 'HS256', secret: 'the next signing secret, 32+ bytes' };
    const core = setup([KEY, next]);
    expect(core.ingest('trust', update(KEY, 1, 'watch', 0.6))).toBe('accepted');
    expect(core.ingest('trust', update(next, 2, 'trusted', 0.9))).toBe('accepted');
  });

  it('drops malformed input and ignores tombstones without forgetting the agent', () => {
    const core = setup();
    core.ingest('trust', update(KEY, 1, 'block', 0.1));
    expect(core.ingest('trust', '{not json')).toBe('malformed');
    expect(core.ingest('trust', Buffer.from('[1,2]'))).toBe('malformed');
    // Correctly signed but not a valid v1 record.
    const signer = createSigner([KEY], KEY.kid);
    const body = {
      v: 2,
      tenant: 'default',
      agentId: 'agent-1',
      seq: 2,
      ts: T0,
      trust: 1,
      band: 'trusted',
      circuit: 'closed',
      mode: 'enforce',
      ttlMs: 1,
      reasons: [],
    };
    expect(core.ingest('trust', { ...body, sig: signer.sign(body) })).toBe('malformed');
    const body2 = { ...body, v: 1, band: 'excellent' };
    expect(core.ingest('trust', { ...body2, sig: signer.sign(body2) })).toBe('malformed');
    expect(core.ingest('trust', null)).toBe('tombstone');
    expect(core.decide({ agentId: 'agent-1' })).toMatchObject({ verdict: 'deny', seq: 1 });
    expect(core.metrics()).toMatchObject({ droppedMalformed: 4, tombstones: 1, accepted: 1 });
  });
});
