import { describe, expect, it } from 'vitest';
import type { Escalation } from '../../src/contract/schemas.ts';
import type { Judgement } from '../../src/core/judge.ts';
import { createEnforcerCore, type EnforcerCore } from '../../src/enforcer/index.ts';
import { buildCircuitSignal, buildEscalation, buildTrustUpdate, type EscalationFields } from '../../src/outputs/records.ts';
import { createSigner, type SigningKey } from '../../src/outputs/sign.ts';
import { createLogger } from '../../src/shared/logger.ts';

const KEY: SigningKey = { kid: 'prod-1', alg: 'HS256', secret: 'the real signing secret, 32+ bytes' };
const FORGER: SigningKey = { kid: 'prod-1', alg: 'HS256', secret: 'a guessed secret, also 32+ bytes..' };
const T0 = 1_767_225_600_000;
const signer = createSigner([KEY], KEY.kid);

const J: Judgement = {
  trust: 0.6,
  band: 'watch',
  components: { identity: 0.8, intent: 0.7, authorization: 1 },
  circuit: 'closed',
  circuitChange: null,
  emitTrust: true,
  offences: 0,
};

function esc(over: Partial<EscalationFields> = {}, key = KEY): Escalation {
  return buildEscalation(
    {
      escalationId: 'agent-1:4',
      tenant: 'default',
      agentId: 'agent-1',
      seq: 4,
      eventId: 'p1',
      ts: T0,
      action: { name: 'payment.create', amount: 2500 },
      reasons: [{ code: 'amount_at_or_above' }],
      expiresAt: T0 + 900_000,
      status: 'pending',
      mode: 'enforce',
      ...over,
    },
    createSigner([key], key.kid),
  );
}

function setup(clock: { now: number }): EnforcerCore {
  const core = createEnforcerCore({
    keys: [KEY],
    now: () => clock.now,
    logger: createLogger({ level: 'silent' }),
    policy: { actions: { 'payment.create': 'critical' } },
  });
  core.markReady();
  core.ingest(
    'trust',
    buildTrustUpdate({ tenant: 'default', agentId: 'agent-1', seq: 3, eventId: 'e3', ts: T0, model: 'm@1', mode: 'enforce' }, J, 0.2, [], 3_600_000, signer),
  );
  return core;
}

const pay = { agentId: 'agent-1', action: { name: 'payment.create' } };

describe('enforcer: escalations', () => {
  it('holds the escalated action while pending, and only that action', () => {
    const clock = { now: T0 + 1000 };
    const core = setup(clock);
    expect(core.decide(pay).verdict).toBe('challenge'); // watch × critical, before any escalation
    expect(core.ingest('escalation', JSON.stringify(esc()))).toBe('accepted');
    expect(core.decide(pay)).toMatchObject({ verdict: 'hold', rule: 'escalation_pending' });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'orders.read' } })).toMatchObject({ verdict: 'allow', rule: 'band' });
  });

  it('allows it once approved (the decision carries no action: inherited), until expiresAt', () => {
    const clock = { now: T0 + 1000 };
    const core = setup(clock);
    core.ingest('escalation', esc());
    expect(
      core.ingest('escalation', esc({ status: 'approved', eventId: 'ctl-1', action: {}, decidedBy: 'alice', decidedAt: T0 + 500, controlId: 'ctl-1' })),
    ).toBe('accepted');
    expect(core.decide(pay)).toMatchObject({ verdict: 'allow', rule: 'escalation_approved' });
    clock.now = T0 + 900_000;
    core.feedAlive();
    expect(core.decide(pay)).toMatchObject({ verdict: 'challenge', rule: 'band' });
  });

  it('denies it once denied; a replayed pending record or a forged approval changes nothing and is counted', () => {
    const clock = { now: T0 + 1000 };
    const core = setup(clock);
    core.ingest('escalation', esc());
    core.ingest('escalation', esc({ status: 'denied', action: {} }));
    expect(core.decide(pay)).toMatchObject({ verdict: 'deny', rule: 'escalation_denied' });
    expect(core.ingest('escalation', esc())).toBe('stale_seq');
    expect(core.ingest('escalation', esc({ status: 'approved', seq: 9, escalationId: 'agent-1:9' }, FORGER))).toBe('bad_signature');
    const { sig: _sig, ...unsigned } = esc({ status: 'approved', seq: 9, escalationId: 'agent-1:9' });
    expect(core.ingest('escalation', unsigned)).toBe('unsigned');
    expect(core.decide(pay).verdict).toBe('deny');
    expect(core.metrics()).toMatchObject({ droppedStaleSeq: 1, droppedBadSignature: 1, droppedUnsigned: 1 });
  });

  it('an operator-forced open circuit still denies an approved action', () => {
    const clock = { now: T0 + 1000 };
    const core = setup(clock);
    core.ingest('escalation', esc());
    core.ingest('escalation', esc({ status: 'approved', action: {} }));
    core.ingest(
      'circuit',
      buildCircuitSignal(
        { tenant: 'default', agentId: 'agent-1', seq: 6, eventId: 'c', ts: T0, model: 'm@1', mode: 'enforce' },
        { previous: 'closed', state: 'forced_open' },
        0,
        [],
        signer,
      ),
    );
    expect(core.decide(pay)).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open' });
  });

  it('an allowlisting (forced_closed with until) allows until `until`, then the band decides', () => {
    const clock = { now: T0 + 1000 };
    const core = setup(clock);
    core.ingest(
      'circuit',
      buildCircuitSignal(
        { tenant: 'default', agentId: 'agent-1', seq: 6, eventId: 'c', ts: T0, model: 'm@1', mode: 'enforce' },
        { previous: 'closed', state: 'forced_closed', until: T0 + 5000 },
        0,
        [],
        signer,
      ),
    );
    expect(core.decide(pay)).toMatchObject({ verdict: 'allow', rule: 'circuit_forced_closed' });
    clock.now = T0 + 5000;
    expect(core.decide(pay)).toMatchObject({ verdict: 'challenge', rule: 'band' });
  });
});
