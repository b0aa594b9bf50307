import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Band, CircuitSignal, CircuitState, Sensitivity, TrustUpdate } from '../../src/contract/schemas.ts';
import {
  createEnforcerCore,
  resolvePolicy,
  DEFAULT_ENFORCER_POLICY,
  type EnforcerCore,
  type EnforcerPolicyInput,
  type Verdict,
} from '../../src/enforcer/index.ts';
import { createSigner, type SigningKey } from '../../src/outputs/sign.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { TrustlineError } from '../../src/shared/errors.ts';

const KEY: SigningKey = { kid: 'k1', alg: 'HS256', secret: 'enforcer-unit-test-secret-0123456789' };
const signer = createSigner([KEY], KEY.kid);
const T0 = 1_767_225_600_000;

type TrustFields = Omit<TrustUpdate, 'sig'>;
type SignalFields = Omit<CircuitSignal, 'sig'>;

function trust(o: Partial<TrustFields> = {}): TrustUpdate {
  const u: TrustFields = {
    v: 1,
    tenant: 'default',
    agentId: 'a1',
    seq: 1,
    eventId: 'e-1',
    ts: T0,
    trust: 0.9,
    band: 'trusted',
    components: { identity: 0.8, intent: 0.95, authorization: 1 },
    anomaly: 0.05,
    reasons: [{ code: 'rate_spike', feature: 'rate_ratio', value: 3.2, baseline: 1 }],
    circuit: 'closed',
    model: 'iforest@1',
    mode: 'enforce',
    ttlMs: 300_000,
    ...o,
  };
  return { ...u, sig: signer.sign(u) };
}

function signal(o: Partial<SignalFields> = {}): CircuitSignal {
  const u: SignalFields = {
    v: 1,
    tenant: 'default',
    agentId: 'a1',
    seq: 1,
    state: 'open',
    previous: 'closed',
    reasons: [{ code: 'k_of_n_anomalous' }],
    offences: 1,
    issuedAt: T0,
    mode: 'enforce',
    ...o,
  };
  return { ...u, sig: signer.sign(u) };
}

/** A core with a settable clock, marked ready at T0. */
function setup(policy: EnforcerPolicyInput = {}, logLines?: string[]): { core: EnforcerCore; clock: { t: number } } {
  const clock = { t: T0 };
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines?.push(chunk.toString());
      cb();
    },
  });
  const core = createEnforcerCore({ keys: [KEY], policy, now: () => clock.t, logger: createLogger({ level: logLines ? 'info' : 'silent', destination }) });
  core.markReady();
  return { core, clock };
}

const SENS: Sensitivity[] = ['low', 'medium', 'high', 'critical'];
const EXPECTED: Record<Band, Verdict[]> = {
  trusted: ['allow', 'allow', 'allow', 'allow'],
  watch: ['allow', 'allow', 'challenge', 'challenge'],
  restrict: ['challenge', 'challenge', 'deny', 'deny'],
  block: ['deny', 'deny', 'deny', 'deny'],
};

describe('enforcer decide(): bands and actions', () => {
  for (const band of Object.keys(EXPECTED) as Band[]) {
    it(`default policy for band ${band}`, () => {
      const { core } = setup();
      expect(core.ingest('trust', JSON.stringify(trust({ band })))).toBe('accepted');
      SENS.forEach((sensitivity, i) => {
        const d = core.decide({ agentId: 'a1', action: { sensitivity } });
        expect(d).toMatchObject({ verdict: EXPECTED[band][i], band, trust: 0.9, circuit: 'closed', stale: false, rule: 'band', seq: 1, shadow: null });
      });
      // No action: the default sensitivity (low).
      expect(core.decide({ agentId: 'a1' }).verdict).toBe(EXPECTED[band][0]);
    });
  }

  it('returns the stored frozen reasons without copying them', () => {
    const { core } = setup();
    core.ingest('trust', Buffer.from(JSON.stringify(trust())));
    const a = core.decide({ agentId: 'a1' });
    const b = core.decide({ agentId: 'a1' });
    expect(a).not.toBe(b);
    expect(a.reasons).toBe(b.reasons);
    expect(Object.isFrozen(a.reasons)).toBe(true);
    expect(Object.isFrozen(a.reasons[0])).toBe(true);
    expect(a.reasons).toEqual([{ code: 'rate_spike', feature: 'rate_ratio', value: 3.2, baseline: 1 }]);
  });

  it('maps action names to sensitivities; an explicit sensitivity wins; an unrecognised one counts as critical', () => {
    const { core } = setup({ actions: { 'payment.create': 'critical', 'orders.read': 'low' } });
    core.ingest('trust', trust({ band: 'watch' }));
    expect(core.decide({ agentId: 'a1', action: { name: 'payment.create' } }).verdict).toBe('challenge');
    expect(core.decide({ agentId: 'a1', action: { name: 'orders.read' } }).verdict).toBe('allow');
    expect(core.decide({ agentId: 'a1', action: { name: 'not.listed' } }).verdict).toBe('allow');
    expect(core.decide({ agentId: 'a1', action: { name: 'payment.create', sensitivity: 'low' } }).verdict).toBe('allow');
    expect(core.decide({ agentId: 'a1', action: { sensitivity: 'bogus' as Sensitivity } }).verdict).toBe('challenge');
  });

  it('supports hold verdicts and a custom default sensitivity', () => {
    const { core } = setup({ bands: { restrict: { critical: 'hold' } }, defaultSensitivity: 'critical' });
    core.ingest('trust', trust({ band: 'restrict' }));
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'hold', rule: 'band' });
    expect(core.decide({ agentId: 'a1', action: { sensitivity: 'high' } }).verdict).toBe('deny');
    expect(core.metrics().decisions).toEqual({ allow: 0, challenge: 0, deny: 1, hold: 1 });
  });

  it('merges policy input over the defaults and rejects unknown or wrong settings by name', () => {
    const p = resolvePolicy({ bands: { watch: { high: 'deny' } } });
    expect(p.bands.watch).toEqual({ ...DEFAULT_ENFORCER_POLICY.bands.watch, high: 'deny' });
    expect(p.bands.trusted).toEqual(DEFAULT_ENFORCER_POLICY.bands.trusted);
    expect(() => resolvePolicy({ unkown: 'deny' } as EnforcerPolicyInput)).toThrow(/unkown/);
    expect(() => resolvePolicy({ bands: { watch: { high: 'maybe' } } } as unknown as EnforcerPolicyInput)).toThrow(/policy\.bands\.watch\.high/);
    try {
      resolvePolicy({ feedTimeoutMs: -1 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TrustlineError);
      expect((err as TrustlineError).code).toBe('CONFIG_INVALID');
    }
  });
});

describe('enforcer decide(): unknown agents and tenants', () => {
  it('challenges unknown agents by default, or what the policy says', () => {
    expect(setup().core.decide({ agentId: 'nobody' })).toMatchObject({
      verdict: 'challenge',
      rule: 'unknown_agent',
      trust: null,
      band: null,
      circuit: null,
      stale: false,
      seq: 0,
      reasons: [],
    });
    expect(setup({ unknown: 'deny' }).core.decide({ agentId: 'nobody' }).verdict).toBe('deny');
  });

  it('keeps tenants apart', () => {
    const { core } = setup();
    core.ingest('trust', trust({ tenant: 'acme', agentId: 'a1', band: 'block' }));
    core.ingest('trust', trust({ agentId: 'a1', band: 'trusted' }));
    expect(core.decide({ tenant: 'acme', agentId: 'a1' }).verdict).toBe('deny');
    expect(core.decide({ agentId: 'a1' }).verdict).toBe('allow');
    expect(core.decide({ tenant: 'default', agentId: 'a1' }).verdict).toBe('allow');
    expect(core.decide({ tenant: 'other', agentId: 'a1' }).rule).toBe('unknown_agent');
    expect(core.metrics().agents).toBe(2);
  });

  it('an agent with only a closed CircuitSignal is decided as unknown for its band', () => {
    const { core } = setup();
    core.ingest('circuit', signal({ state: 'closed', previous: 'half_open' }));
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'challenge', rule: 'unknown_agent', circuit: 'closed', band: null });
  });
});

describe('enforcer decide(): circuits', () => {
  it('denies an open circuit until `until`, then grants the fallback probe budget locally', () => {
    const { core, clock } = setup();
    core.ingest('trust', trust({ seq: 5, circuit: 'open', band: 'watch' }));
    core.ingest('circuit', signal({ seq: 5, until: T0 + 60_000 }));
    clock.t = T0 + 59_999;
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', rule: 'circuit_open', circuit: 'open', reasons: [{ code: 'k_of_n_anomalous' }] });
    clock.t = T0 + 60_000;
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'allow', rule: 'half_open_probe' });
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', rule: 'probes_exhausted' });
  });

  it('keeps denying past `until` with fallbackProbeBudget 0, and honours clockToleranceMs', () => {
    const a = setup({ fallbackProbeBudget: 0 });
    a.core.ingest('circuit', signal({ until: T0 + 1_000 }));
    a.clock.t = T0 + 10_000;
    expect(a.core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', rule: 'probes_exhausted' });
    const b = setup({ clockToleranceMs: 5_000 });
    b.core.ingest('circuit', signal({ until: T0 + 1_000 }));
    b.clock.t = T0 + 5_999;
    expect(b.core.decide({ agentId: 'a1' }).rule).toBe('circuit_open');
    b.clock.t = T0 + 6_000;
    expect(b.core.decide({ agentId: 'a1' }).rule).toBe('half_open_probe');
  });

  it('denies an open circuit known only from a TrustUpdate (no until) whatever the time', () => {
    const { core, clock } = setup();
    core.ingest('trust', trust({ circuit: 'open' }));
    clock.t = T0 + 200_000;
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', rule: 'circuit_open' });
  });

  it('half-open: allows at most probeBudget requests, then denies until a newer record arrives', () => {
    const { core } = setup();
    core.ingest('trust', trust({ seq: 10, circuit: 'half_open', band: 'watch' }));
    core.ingest('circuit', signal({ seq: 10, state: 'half_open', previous: 'open', probeBudget: 3 }));
    const verdicts = Array.from({ length: 5 }, () => core.decide({ agentId: 'a1' }));
    expect(verdicts.map((d) => d.verdict)).toEqual(['allow', 'allow', 'allow', 'deny', 'deny']);
    expect(verdicts.map((d) => d.rule)).toEqual(['half_open_probe', 'half_open_probe', 'half_open_probe', 'probes_exhausted', 'probes_exhausted']);
    // A heartbeat TrustUpdate with the same circuit state does not refill the budget.
    core.ingest('trust', trust({ seq: 11, circuit: 'half_open', band: 'watch' }));
    expect(core.decide({ agentId: 'a1' }).rule).toBe('probes_exhausted');
    // A newer half-open announcement does.
    core.ingest('circuit', signal({ seq: 12, state: 'half_open', previous: 'open', probeBudget: 1 }));
    expect(core.decide({ agentId: 'a1' }).verdict).toBe('allow');
    expect(core.decide({ agentId: 'a1' }).verdict).toBe('deny');
    // Closed by the processor.
    core.ingest('circuit', signal({ seq: 13, state: 'closed', previous: 'half_open' }));
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'allow', rule: 'band', circuit: 'closed' });
  });

  it('half-open: a request the band denies does not use a probe; a challenged one does', () => {
    const { core } = setup();
    core.ingest('trust', trust({ circuit: 'half_open', band: 'restrict' }));
    core.ingest('circuit', signal({ state: 'half_open', previous: 'open', probeBudget: 1 }));
    expect(core.decide({ agentId: 'a1', action: { sensitivity: 'critical' } })).toMatchObject({ verdict: 'deny', rule: 'band' });
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'challenge', rule: 'half_open_probe' });
    expect(core.decide({ agentId: 'a1' }).rule).toBe('probes_exhausted');
  });

  it('half-open without a probeBudget uses the fallback budget', () => {
    const { core } = setup({ fallbackProbeBudget: 2 });
    core.ingest('trust', trust({ circuit: 'half_open' }));
    expect([1, 2, 3].map(() => core.decide({ agentId: 'a1' }).verdict)).toEqual(['allow', 'allow', 'deny']);
  });

  it('forced_open denies and forced_closed allows whatever the band and freshness', () => {
    const { core, clock } = setup();
    core.ingest('trust', trust({ band: 'trusted' }));
    core.ingest('circuit', signal({ seq: 2, state: 'forced_open', previous: 'closed' }));
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open', circuit: 'forced_open' });
    core.ingest('trust', trust({ seq: 3, band: 'block', trust: 0.1, circuit: 'forced_closed' }));
    core.ingest('circuit', signal({ seq: 3, state: 'forced_closed', previous: 'forced_open' }));
    expect(core.decide({ agentId: 'a1', action: { sensitivity: 'critical' } })).toMatchObject({
      verdict: 'allow',
      rule: 'circuit_forced_closed',
      band: 'block',
    });
    clock.t = T0 + 10 * 300_000; // record past its ttl, feed silent
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'allow', rule: 'circuit_forced_closed', stale: true });
  });

  it('the circuit comes from the newer record: a newer TrustUpdate with another state overrides an older CircuitSignal', () => {
    const { core } = setup();
    core.ingest('circuit', signal({ seq: 4, state: 'open', until: T0 + 60_000 }));
    core.ingest('trust', trust({ seq: 9, circuit: 'closed' }));
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'allow', circuit: 'closed', seq: 9 });
    // An older signal arriving late (other topic) does not win either.
    core.ingest('circuit', signal({ seq: 6, state: 'half_open', previous: 'open', probeBudget: 0 }));
    expect(core.decide({ agentId: 'a1' }).circuit).toBe('closed');
  });

  it('a newer heartbeat TrustUpdate with the same state keeps the CircuitSignal details (until)', () => {
    const { core, clock } = setup();
    core.ingest('trust', trust({ seq: 20, circuit: 'open' }));
    core.ingest('circuit', signal({ seq: 18, state: 'open', until: T0 + 30_000 }));
    expect(core.decide({ agentId: 'a1' }).rule).toBe('circuit_open');
    clock.t = T0 + 30_000;
    expect(core.decide({ agentId: 'a1' }).rule).toBe('half_open_probe');
  });
});

describe('enforcer decide(): freshness', () => {
  it('a TrustUpdate past its ttl is stale: fail-open allows, fail-closed denies', () => {
    for (const [onStale, verdict] of [
      ['fail-open', 'allow'],
      ['fail-closed', 'deny'],
    ] as const) {
      const { core, clock } = setup({ onStale, feedTimeoutMs: 10_000_000 });
      core.ingest('trust', trust({ band: 'restrict', ttlMs: 60_000 }));
      clock.t = T0 + 60_000;
      expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'challenge', stale: false, rule: 'band' });
      clock.t = T0 + 60_001;
      expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict, stale: true, rule: 'stale_record', band: 'restrict' });
    }
  });

  it('clockToleranceMs extends the ttl', () => {
    const { core, clock } = setup({ clockToleranceMs: 2_000, feedTimeoutMs: 10_000_000 });
    core.ingest('trust', trust({ ttlMs: 60_000 }));
    clock.t = T0 + 62_000;
    expect(core.decide({ agentId: 'a1' }).stale).toBe(false);
    clock.t = T0 + 62_001;
    expect(core.decide({ agentId: 'a1' }).stale).toBe(true);
  });

  it('a silent feed makes every decision stale, unknown agents included; a fetch heartbeat refreshes it', () => {
    const { core, clock } = setup({ feedTimeoutMs: 5_000, onStale: 'fail-closed' });
    core.ingest('trust', trust({ band: 'trusted' }));
    clock.t = T0 + 5_001;
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'deny', stale: true, rule: 'stale_feed', band: 'trusted' });
    expect(core.decide({ agentId: 'zz' })).toMatchObject({ verdict: 'deny', stale: true, rule: 'stale_feed' });
    core.feedAlive();
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'allow', stale: false, rule: 'band' });
    expect(core.metrics().feedAgeMs).toBe(0);
  });

  it('before the snapshot is loaded decisions are stale (not_ready); open circuits still deny', () => {
    const clock = { t: T0 };
    const core = createEnforcerCore({ keys: [KEY], now: () => clock.t, logger: createLogger({ level: 'silent' }) });
    core.ingest('trust', trust({ agentId: 'a1' }));
    core.ingest('circuit', signal({ agentId: 'a2', until: T0 + 1_000 }));
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'allow', stale: true, rule: 'not_ready' });
    expect(core.decide({ agentId: 'a2' })).toMatchObject({ verdict: 'deny', rule: 'circuit_open' });
    expect(core.metrics().ready).toBe(false);
    core.markReady();
    expect(core.decide({ agentId: 'a1' })).toMatchObject({ verdict: 'allow', stale: false, rule: 'band' });
  });
});

describe('enforcer decide(): shadow mode', () => {
  it('shadow records are held apart, logged and counted, and never enforced', () => {
    const lines: string[] = [];
    const { core } = setup({}, lines);
    expect(core.ingest('trust', trust({ mode: 'shadow', band: 'block', trust: 0.1 }))).toBe('accepted');
    expect(core.ingest('circuit', signal({ mode: 'shadow', state: 'forced_open', previous: 'closed', seq: 2 }))).toBe('accepted');
    const d = core.decide({ agentId: 'a1' });
    expect(d).toMatchObject({ verdict: 'challenge', rule: 'unknown_agent', band: null });
    expect(d.shadow).toMatchObject({ verdict: 'deny', rule: 'circuit_forced_open', band: 'block', trust: 0.1, circuit: 'forced_open', shadow: null });
    const m = core.metrics();
    expect(m).toMatchObject({ accepted: 2, shadowRecords: 2, shadowDisagreements: 1, decisions: { challenge: 1 }, shadowDecisions: { deny: 1 } });
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; mode: string; agentId: string });
    expect(logged.filter((l) => l.msg === 'shadow record')).toHaveLength(2);
    expect(logged[0]).toMatchObject({ mode: 'shadow', agentId: 'a1' });
  });

  it('with both, the enforce record decides and the shadow record is reported beside it', () => {
    const { core } = setup();
    core.ingest('trust', trust({ seq: 3, band: 'trusted' }));
    core.ingest('trust', trust({ seq: 4, mode: 'shadow', band: 'restrict' }));
    const d = core.decide({ agentId: 'a1', action: { sensitivity: 'high' } });
    expect(d).toMatchObject({ verdict: 'allow', band: 'trusted', seq: 3 });
    expect(d.shadow).toMatchObject({ verdict: 'deny', band: 'restrict', seq: 4 });
  });

  it('shadow half-open probes do not consume the enforced budget', () => {
    const { core } = setup();
    core.ingest('circuit', signal({ state: 'half_open', previous: 'open', probeBudget: 1 }));
    core.ingest('trust', trust({ circuit: 'half_open' }));
    core.ingest('circuit', signal({ seq: 2, mode: 'shadow', state: 'half_open', previous: 'open', probeBudget: 0 }));
    const d = core.decide({ agentId: 'a1' });
    expect(d.verdict).toBe('allow');
    expect(d.shadow?.rule).toBe('probes_exhausted');
  });
});

describe('enforcer metrics()', () => {
  it('is a snapshot: later decisions do not change an earlier one', () => {
    const { core } = setup();
    core.ingest('trust', trust());
    const before = core.metrics();
    core.decide({ agentId: 'a1' });
    expect(before.decisions.allow).toBe(0);
    expect(core.metrics().decisions.allow).toBe(1);
    expect(core.metrics()).toMatchObject({ accepted: 1, agents: 1, ready: true });
  });

  it('counts every circuit state the contract knows', () => {
    const states: CircuitState[] = ['closed', 'open', 'half_open', 'forced_open', 'forced_closed'];
    const { core } = setup();
    states.forEach((state, i) => expect(core.ingest('circuit', signal({ agentId: `a-${state}`, seq: i + 1, state, until: T0 + 1 }))).toBe('accepted'));
    expect(core.metrics().accepted).toBe(5);
  });
});
