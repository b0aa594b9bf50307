/**
 * Context policy (ABAC) of the enforcer SDK: time windows in IANA zones (DST boundaries
 * included), consent, amount thresholds through the escalation round trip, time-bound
 * elevation grants that lapse by themselves, how context verdicts combine with band and
 * circuit, and validation (TypeBox at runtime, the committed JSON Schema for other tools).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { Band, CircuitState } from '../../src/contract/schemas.ts';
import type { Judgement } from '../../src/core/judge.ts';
import { compileContextPolicy, createEnforcerCore, loadContextPolicy, type ContextPolicyInput, type EnforcerCore } from '../../src/enforcer/index.ts';
import { createZoneClock } from '../../src/enforcer/time-zone.ts';
import { buildCircuitSignal, buildEscalation, buildTrustUpdate } from '../../src/outputs/records.ts';
import { createSigner, type SigningKey } from '../../src/outputs/sign.ts';
import { TrustlineError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/logger.ts';

const KEY: SigningKey = { kid: 'k1', alg: 'HS256', secret: 'context-policy-unit-test-secret-0123' };
const signer = createSigner([KEY], KEY.kid);
const iso = (s: string): number => Date.parse(s);

function judgement(band: Band, circuit: CircuitState = 'closed'): Judgement {
  return {
    trust: band === 'trusted' ? 0.9 : 0.5,
    band,
    components: { identity: 0.8, intent: 0.7, authorization: 1 },
    circuit,
    circuitChange: null,
    emitTrust: true,
    offences: 0,
  };
}

/** A ready core at `clock.t` holding a fresh TrustUpdate per agent (`band`, ttl 30 days). */
function setup(
  contextPolicy: ContextPolicyInput,
  clock: { t: number },
  agents: Record<string, Band> = { 'agent-1': 'trusted' },
  onStale: 'fail-open' | 'fail-closed' = 'fail-open',
): EnforcerCore {
  const core = createEnforcerCore({
    keys: [KEY],
    contextPolicy,
    now: () => clock.t,
    logger: createLogger({ level: 'silent' }),
    policy: { onStale, feedTimeoutMs: 365 * 86_400_000 },
  });
  core.markReady();
  let seq = 1;
  for (const [agentId, band] of Object.entries(agents)) {
    const [tenant, id] = agentId.includes('/') ? agentId.split('/') : ['default', agentId];
    core.ingest(
      'trust',
      buildTrustUpdate(
        { tenant: tenant!, agentId: id!, seq: seq++, eventId: `e-${agentId}`, ts: clock.t, model: 'm@1', mode: 'enforce' },
        judgement(band),
        0.1,
        [],
        30 * 86_400_000,
        signer,
      ),
    );
  }
  return core;
}

describe('zone clock', () => {
  it('matches Intl at every minute around DST transitions and at random instants (cached per hour)', () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Sao_Paulo', 'UTC'];
    // Transitions in 2026: EU 29 Mar / 25 Oct 01:00Z; US 8 Mar 07:00Z / 1 Nov 06:00Z; Lord Howe 5 Apr / 4 Oct (30-min shift).
    const around = [
      '2026-03-29T01:00:00Z',
      '2026-10-25T01:00:00Z',
      '2026-03-08T07:00:00Z',
      '2026-11-01T06:00:00Z',
      '2026-04-04T15:00:00Z',
      '2026-10-03T15:30:00Z',
    ].map(iso);
    let checked = 0;
    for (const zone of zones) {
      const clock = createZoneClock(zone);
      const fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
      const intlOffset = (t: number): number => {
        const p = Object.fromEntries(fmt.formatToParts(t).map((x) => [x.type, Number(x.value)]));
        return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(t / 1000) * 1000;
      };
      const instants: number[] = [];
      for (const c of around) for (let m = -90; m <= 90; m++) instants.push(c + m * 60_000 - 1, c + m * 60_000);
      let x = 12345;
      for (let i = 0; i < 2000; i++) {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        instants.push(iso('2026-01-01T00:00:00Z') + Math.floor((x / 2 ** 31) * 365 * 86_400_000));
      }
      for (const t of instants) {
        expect(clock.offsetAt(t), `${zone} at ${new Date(t).toISOString()}`).toBe(intlOffset(t));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10_000);
    expect(createZoneClock('Europe/Berlin').offsetAt(iso('2026-03-29T00:59:59.999Z'))).toBe(3_600_000);
    expect(createZoneClock('Europe/Berlin').offsetAt(iso('2026-03-29T01:00:00Z'))).toBe(7_200_000);
  });
});

const BUSINESS_HOURS: ContextPolicyInput = {
  version: 1,
  defaultTimeZone: 'UTC',
  tenants: { acme: { timeZone: 'Europe/Berlin' }, nyc: { timeZone: 'America/New_York' } },
  rules: [
    {
      kind: 'time_window',
      id: 'customer-data-business-hours',
      actions: ['customer.*'],
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }],
    },
  ],
};

describe('time_window rules', () => {
  const read = (tenant: string) => ({ tenant, agentId: 'agent-1', action: { name: 'customer.read' } });

  it('allows only in business hours of the tenant zone, across the EU spring-forward (29 Mar 2026)', () => {
    const clock = { t: iso('2026-03-27T07:59:00Z') }; // Fri 08:59 CET (+1)
    const core = setup(BUSINESS_HOURS, clock, { 'acme/agent-1': 'trusted', 'nyc/agent-1': 'trusted', 'agent-1': 'trusted' });
    expect(core.decide(read('acme'))).toMatchObject({ verdict: 'deny', rule: 'time_window', ruleId: 'customer-data-business-hours', band: 'trusted' });
    clock.t = iso('2026-03-27T08:00:00Z'); // Fri 09:00 CET
    expect(core.decide(read('acme'))).toMatchObject({ verdict: 'allow', rule: 'band', ruleId: null });
    clock.t = iso('2026-03-27T15:59:59Z'); // Fri 16:59:59 CET
    expect(core.decide(read('acme')).verdict).toBe('allow');
    clock.t = iso('2026-03-27T16:00:00Z'); // Fri 17:00 CET
    expect(core.decide(read('acme')).verdict).toBe('deny');
    clock.t = iso('2026-03-28T10:00:00Z'); // Saturday
    expect(core.decide(read('acme')).verdict).toBe('deny');
    // Monday after the switch: 09:00 CEST is 07:00Z; 08:00Z in winter time would have been 09:00.
    clock.t = iso('2026-03-30T06:59:59Z');
    expect(core.decide(read('acme')).verdict).toBe('deny');
    clock.t = iso('2026-03-30T07:00:00Z');
    expect(core.decide(read('acme')).verdict).toBe('allow');
    clock.t = iso('2026-03-30T14:59:59Z'); // 16:59:59 CEST
    expect(core.decide(read('acme')).verdict).toBe('allow');
    clock.t = iso('2026-03-30T15:00:00Z'); // 17:00 CEST
    expect(core.decide(read('acme')).verdict).toBe('deny');
    // Same instants for the default tenant (UTC) and New York differ.
    clock.t = iso('2026-03-30T07:00:00Z');
    expect(core.decide(read('default')).verdict).toBe('deny'); // 07:00 UTC
    expect(core.decide(read('nyc')).verdict).toBe('deny'); // 03:00 EDT
    clock.t = iso('2026-03-30T13:00:00Z'); // 09:00 EDT, 13:00 UTC, 15:00 CEST
    expect(core.decide(read('nyc')).verdict).toBe('allow');
    expect(core.decide(read('default')).verdict).toBe('allow');
    expect(core.decide(read('acme')).verdict).toBe('allow');
    // Actions outside the selector are not concerned; a request without an action name is not either.
    clock.t = iso('2026-03-28T10:00:00Z');
    expect(core.decide({ tenant: 'acme', agentId: 'agent-1', action: { name: 'orders.read' } })).toMatchObject({ verdict: 'allow', rule: 'band' });
    expect(core.decide({ tenant: 'acme', agentId: 'agent-1' })).toMatchObject({ verdict: 'allow', rule: 'band' });
  });

  it('handles the US fall-back (1 Nov 2026): the repeated hour counts twice, and windows follow wall time', () => {
    const clock = { t: iso('2026-10-30T12:00:00Z') };
    const policy: ContextPolicyInput = {
      version: 1,
      tenants: { nyc: { timeZone: 'America/New_York' } },
      rules: [{ kind: 'time_window', id: 'night-batch', actions: ['batch.run'], windows: [{ from: '01:00', to: '02:00' }] }],
    };
    const core = setup(policy, clock, { 'nyc/agent-1': 'trusted' });
    const run = { tenant: 'nyc', agentId: 'agent-1', action: { name: 'batch.run' } };
    clock.t = iso('2026-11-01T04:59:59Z'); // 00:59:59 EDT
    expect(core.decide(run).verdict).toBe('deny');
    clock.t = iso('2026-11-01T05:00:00Z'); // 01:00 EDT (first time)
    expect(core.decide(run).verdict).toBe('allow');
    clock.t = iso('2026-11-01T05:59:59Z'); // 01:59:59 EDT
    expect(core.decide(run).verdict).toBe('allow');
    clock.t = iso('2026-11-01T06:00:00Z'); // 01:00 EST (second time)
    expect(core.decide(run).verdict).toBe('allow');
    clock.t = iso('2026-11-01T06:59:59Z'); // 01:59:59 EST
    expect(core.decide(run).verdict).toBe('allow');
    clock.t = iso('2026-11-01T07:00:00Z'); // 02:00 EST
    expect(core.decide(run).verdict).toBe('deny');
    // Next day: one hour only, 06:00Z–07:00Z.
    clock.t = iso('2026-11-02T05:30:00Z');
    expect(core.decide(run).verdict).toBe('deny');
    clock.t = iso('2026-11-02T06:30:00Z');
    expect(core.decide(run).verdict).toBe('allow');
  });

  it('a window inside the spring-forward gap (02:00–03:00 on 8 Mar 2026 in New York) never opens that day', () => {
    const clock = { t: iso('2026-03-07T07:30:00Z') }; // Sat 02:30 EST
    const core = setup(
      {
        version: 1,
        defaultTimeZone: 'America/New_York',
        rules: [{ kind: 'time_window', id: 'gap', actions: ['x'], windows: [{ from: '02:00', to: '03:00' }] }],
      },
      clock,
    );
    const q = { agentId: 'agent-1', action: { name: 'x' } };
    expect(core.decide(q).verdict).toBe('allow');
    for (let t = iso('2026-03-08T05:00:00Z'); t < iso('2026-03-08T09:00:00Z'); t += 60_000) {
      clock.t = t;
      expect(core.decide(q).verdict, new Date(t).toISOString()).toBe('deny');
    }
    clock.t = iso('2026-03-09T06:30:00Z'); // Mon 02:30 EDT
    expect(core.decide(q).verdict).toBe('allow');
  });

  it('release windows: overnight weekly windows in an explicit zone, absolute date ranges, a custom verdict', () => {
    const clock = { t: iso('2026-06-01T00:00:00Z') };
    const policy: ContextPolicyInput = {
      version: 1,
      tenants: { acme: { timeZone: 'America/New_York' } },
      rules: [
        {
          kind: 'time_window',
          id: 'deploy-release-window',
          actions: ['deploy.*'],
          timeZone: 'Europe/Berlin', // the release team's zone, whatever the tenant's
          windows: [
            { days: ['tue'], from: '22:00', to: '02:00' },
            { start: '2026-06-05T10:00:00Z', end: '2026-06-05T12:00:00Z' },
          ],
          verdict: 'hold',
        },
      ],
    };
    const core = setup(policy, clock, { 'acme/agent-1': 'trusted' });
    const deploy = { tenant: 'acme', agentId: 'agent-1', action: { name: 'deploy.production' } };
    // 2 Jun 2026 is a Tuesday; CEST = UTC+2.
    clock.t = iso('2026-06-02T19:59:00Z'); // Tue 21:59 CEST
    expect(core.decide(deploy)).toMatchObject({ verdict: 'hold', rule: 'time_window', ruleId: 'deploy-release-window' });
    clock.t = iso('2026-06-02T20:00:00Z'); // Tue 22:00
    expect(core.decide(deploy).verdict).toBe('allow');
    clock.t = iso('2026-06-02T23:59:00Z'); // Wed 01:59 — the Tuesday window runs past midnight
    expect(core.decide(deploy).verdict).toBe('allow');
    clock.t = iso('2026-06-03T00:00:00Z'); // Wed 02:00
    expect(core.decide(deploy).verdict).toBe('hold');
    clock.t = iso('2026-06-03T20:30:00Z'); // Wed 22:30: not a window day
    expect(core.decide(deploy).verdict).toBe('hold');
    clock.t = iso('2026-06-05T10:00:00Z'); // the one-off range
    expect(core.decide(deploy).verdict).toBe('allow');
    clock.t = iso('2026-06-05T12:00:00Z');
    expect(core.decide(deploy).verdict).toBe('hold');
  });
});

describe('consent rules', () => {
  it("denies without the represented user's consent; accepts arrays and sets", () => {
    const clock = { t: iso('2026-06-01T12:00:00Z') };
    const core = setup(
      { version: 1, rules: [{ kind: 'consent', id: 'payments-consent', actions: ['payment.create', 'payment.refund'], consent: 'payments' }] },
      clock,
    );
    const pay = { agentId: 'agent-1', action: { name: 'payment.create' } };
    expect(core.decide(pay)).toMatchObject({ verdict: 'deny', rule: 'consent_required', ruleId: 'payments-consent', reasons: [] });
    expect(core.decide({ ...pay, context: {} }).verdict).toBe('deny');
    expect(core.decide({ ...pay, context: { consents: ['profile'] } }).verdict).toBe('deny');
    expect(core.decide({ ...pay, context: { consents: ['profile', 'payments'] } })).toMatchObject({ verdict: 'allow', rule: 'band', ruleId: null });
    expect(core.decide({ ...pay, context: { consents: new Set(['payments']) } }).verdict).toBe('allow');
    expect(core.decide({ agentId: 'agent-1', action: { name: 'payment.refund' }, context: { consents: new Set(['x']) } }).verdict).toBe('deny');
    expect(core.decide({ agentId: 'agent-1', action: { name: 'orders.read' } }).verdict).toBe('allow');
  });
});

describe('amount rules and the escalation round trip', () => {
  const policy: ContextPolicyInput = {
    version: 1,
    rules: [
      { kind: 'amount', id: 'large-payments', actions: ['payment.*'], atOrAbove: 1000 },
      { kind: 'amount', id: 'usd-wires', actions: ['wire.send'], atOrAbove: 50, currency: 'USD', verdict: 'deny' },
    ],
  };

  function esc(status: 'pending' | 'approved' | 'denied', t: number) {
    return buildEscalation(
      {
        escalationId: 'agent-1:9',
        tenant: 'default',
        agentId: 'agent-1',
        seq: 9,
        eventId: status === 'pending' ? 'p1' : 'ctl-1',
        ts: t,
        action: status === 'pending' ? { name: 'payment.create', amount: 5000 } : {},
        reasons: [{ code: status === 'pending' ? 'amount_at_or_above' : `operator_${status}` }],
        expiresAt: t + 900_000,
        status,
        mode: 'enforce',
        ...(status === 'pending' ? {} : { decidedBy: 'alice', decidedAt: t, controlId: 'ctl-1' }),
      },
      signer,
    );
  }

  it('holds at or above the threshold until a human approves; a denial denies; expiry holds again', () => {
    const clock = { t: iso('2026-06-01T12:00:00Z') };
    const core = setup(policy, clock);
    const pay = (amount: number) => ({ agentId: 'agent-1', action: { name: 'payment.create', amount, currency: 'EUR' } });
    expect(core.decide(pay(999.99))).toMatchObject({ verdict: 'allow', rule: 'band' });
    expect(core.decide(pay(1000))).toMatchObject({ verdict: 'hold', rule: 'amount_threshold', ruleId: 'large-payments' });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'payment.create' } }).verdict).toBe('allow'); // no amount
    core.ingest('escalation', esc('pending', clock.t));
    expect(core.decide(pay(5000))).toMatchObject({ verdict: 'hold', rule: 'escalation_pending' });
    core.ingest('escalation', esc('approved', clock.t));
    expect(core.decide(pay(5000))).toMatchObject({ verdict: 'allow', rule: 'escalation_approved', ruleId: null });
    clock.t += 900_000; // the approval lapsed
    expect(core.decide(pay(5000))).toMatchObject({ verdict: 'hold', rule: 'amount_threshold' });
  });

  it('a denied escalation denies; the currency filter and a custom verdict apply', () => {
    const clock = { t: iso('2026-06-01T12:00:00Z') };
    const core = setup(policy, clock);
    core.ingest('escalation', esc('pending', clock.t));
    core.ingest('escalation', esc('denied', clock.t));
    expect(core.decide({ agentId: 'agent-1', action: { name: 'payment.create', amount: 5000 } })).toMatchObject({ verdict: 'deny', rule: 'escalation_denied' });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'wire.send', amount: 60, currency: 'USD' } })).toMatchObject({
      verdict: 'deny',
      rule: 'amount_threshold',
      ruleId: 'usd-wires',
    });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'wire.send', amount: 60, currency: 'EUR' } }).verdict).toBe('allow');
  });
});

describe('elevation rules', () => {
  const policy: ContextPolicyInput = {
    version: 1,
    rules: [{ kind: 'elevation', id: 'prod-needs-elevation', actions: ['deploy.production', 'db.*'] }],
    elevations: [
      {
        id: 'CHG-4711',
        agentId: 'deploy-bot',
        actions: ['deploy.production'],
        from: '2026-06-01T10:00:00Z',
        until: '2026-06-01T12:00:00Z',
        reason: 'release 2.3',
      },
      { id: 'INC-99', agentId: 'dba-bot', tenant: 'acme', actions: ['db.*'], until: '2026-06-02T00:00:00+02:00' },
    ],
  };

  it('needs an active grant, which lapses by itself at `until`', () => {
    const clock = { t: iso('2026-06-01T09:59:59Z') };
    const core = setup(policy, clock, { 'deploy-bot': 'trusted', 'other-bot': 'trusted', 'acme/dba-bot': 'watch', 'dba-bot': 'trusted' });
    const deploy = { agentId: 'deploy-bot', action: { name: 'deploy.production' } };
    expect(core.decide(deploy)).toMatchObject({ verdict: 'deny', rule: 'elevation_required', ruleId: 'prod-needs-elevation' });
    clock.t = iso('2026-06-01T10:00:00Z');
    expect(core.decide(deploy)).toMatchObject({ verdict: 'allow', rule: 'band' });
    expect(core.decide({ agentId: 'other-bot', action: { name: 'deploy.production' } }).verdict).toBe('deny'); // not its grant
    clock.t = iso('2026-06-01T11:59:59.999Z');
    expect(core.decide(deploy).verdict).toBe('allow');
    clock.t = iso('2026-06-01T12:00:00Z');
    expect(core.decide(deploy)).toMatchObject({ verdict: 'deny', rule: 'elevation_required' });
    // Tenant-scoped grant with a prefix; trust still applies on top (watch × high = challenge).
    clock.t = iso('2026-06-01T21:00:00Z'); // 23:00 +02:00
    expect(core.decide({ tenant: 'acme', agentId: 'dba-bot', action: { name: 'db.migrate', sensitivity: 'high' } })).toMatchObject({
      verdict: 'challenge',
      rule: 'band',
    });
    expect(core.decide({ agentId: 'dba-bot', action: { name: 'db.migrate' } }).verdict).toBe('deny'); // default tenant: no grant
    clock.t = iso('2026-06-01T22:00:00Z');
    expect(core.decide({ tenant: 'acme', agentId: 'dba-bot', action: { name: 'db.migrate' } }).verdict).toBe('deny');
  });

  it('grants can be replaced at runtime; a bad document is refused and the current one stays', () => {
    const clock = { t: iso('2026-07-01T10:00:00Z') };
    const core = setup(policy, clock, { 'deploy-bot': 'trusted' });
    const deploy = { agentId: 'deploy-bot', action: { name: 'deploy.production' } };
    expect(core.decide(deploy).verdict).toBe('deny');
    core.setContextPolicy({ ...policy, elevations: [{ id: 'CHG-5000', agentId: 'deploy-bot', actions: ['deploy.*'], until: '2026-07-01T11:00:00Z' }] });
    expect(core.decide(deploy).verdict).toBe('allow');
    expect(() => core.setContextPolicy({ ...policy, rules: [{ kind: 'elevation', id: 'x', actions: [] }] } as unknown as ContextPolicyInput)).toThrow(
      TrustlineError,
    );
    expect(core.decide(deploy).verdict).toBe('allow');
    core.setContextPolicy(null);
    clock.t = iso('2026-07-01T12:00:00Z');
    expect(core.decide(deploy)).toMatchObject({ verdict: 'allow', rule: 'band' });
  });
});

describe('combining context with band and circuit', () => {
  const policy: ContextPolicyInput = {
    version: 1,
    rules: [
      { kind: 'amount', id: 'big', actions: ['payment.create'], atOrAbove: 1000 },
      { kind: 'consent', id: 'consent', actions: ['payment.create'], consent: 'payments', verdict: 'challenge' },
      { kind: 'time_window', id: 'never', actions: ['deploy.production'], windows: [{ start: '2000-01-01T00:00:00Z', end: '2000-01-02T00:00:00Z' }] },
      { kind: 'consent', id: 'acme-only', actions: ['profile.read'], consent: 'profile', tenants: ['acme'] },
    ],
  };

  it('the stricter verdict wins, and the strictest violated rule decides', () => {
    const clock = { t: iso('2026-06-01T12:00:00Z') };
    const core = setup(policy, clock, { 'agent-1': 'trusted', 'agent-r': 'restrict', 'acme/agent-1': 'trusted' });
    // Both amount (hold) and consent (challenge) violated: hold.
    expect(core.decide({ agentId: 'agent-1', action: { name: 'payment.create', amount: 2000 } })).toMatchObject({ verdict: 'hold', ruleId: 'big' });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'payment.create', amount: 5 } })).toMatchObject({ verdict: 'challenge', ruleId: 'consent' });
    // Band deny beats a context hold.
    expect(
      core.decide({ agentId: 'agent-r', action: { name: 'payment.create', amount: 2000, sensitivity: 'critical' }, context: { consents: ['payments'] } }),
    ).toMatchObject({ verdict: 'deny', rule: 'band', ruleId: null });
    // Tenant-scoped rule.
    expect(core.decide({ agentId: 'agent-1', action: { name: 'profile.read' } }).verdict).toBe('allow');
    expect(core.decide({ tenant: 'acme', agentId: 'agent-1', action: { name: 'profile.read' } })).toMatchObject({ verdict: 'deny', ruleId: 'acme-only' });
  });

  it('context denies even an operator-allowlisted (forced closed) agent, a stale fail-open decision and an unknown agent', () => {
    const clock = { t: iso('2026-06-01T12:00:00Z') };
    const core = setup(policy, clock, { 'agent-1': 'trusted' });
    core.ingest(
      'circuit',
      buildCircuitSignal(
        { tenant: 'default', agentId: 'agent-1', seq: 5, eventId: 'c5', ts: clock.t, model: 'm@1', mode: 'enforce' },
        { state: 'forced_closed', previous: 'closed' },
        0,
        [],
        signer,
      ),
    );
    expect(core.decide({ agentId: 'agent-1' })).toMatchObject({ verdict: 'allow', rule: 'circuit_forced_closed' });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'deploy.production' } })).toMatchObject({
      verdict: 'deny',
      rule: 'time_window',
      ruleId: 'never',
      circuit: 'forced_closed',
    });
    expect(core.decide({ agentId: 'nobody', action: { name: 'deploy.production' } })).toMatchObject({ verdict: 'deny', rule: 'time_window', band: null });
    clock.t += 31 * 86_400_000; // the TrustUpdate is past its ttl: fail-open allow, but not for this action
    const stale = createEnforcerCore({ keys: [KEY], contextPolicy: policy, now: () => clock.t, logger: createLogger({ level: 'silent' }) });
    expect(stale.decide({ agentId: 'x', action: { name: 'orders.read' } })).toMatchObject({ verdict: 'allow', rule: 'not_ready', stale: true });
    expect(stale.decide({ agentId: 'x', action: { name: 'deploy.production' } })).toMatchObject({ verdict: 'deny', rule: 'time_window', stale: true });
    expect(stale.metrics().decisions).toEqual({ allow: 1, challenge: 0, deny: 1, hold: 0 });
  });

  it('a request the context refuses does not use a half-open probe', () => {
    const clock = { t: iso('2026-06-01T12:00:00Z') };
    const core = setup(policy, clock, { 'agent-1': 'trusted' });
    core.ingest(
      'circuit',
      buildCircuitSignal(
        { tenant: 'default', agentId: 'agent-1', seq: 5, eventId: 'c5', ts: clock.t, model: 'm@1', mode: 'enforce' },
        { state: 'half_open', previous: 'open', probeBudget: 1 },
        1,
        [],
        signer,
      ),
    );
    expect(core.decide({ agentId: 'agent-1', action: { name: 'deploy.production' } })).toMatchObject({ verdict: 'deny', rule: 'time_window' });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'orders.read' } })).toMatchObject({ verdict: 'allow', rule: 'half_open_probe' });
    expect(core.decide({ agentId: 'agent-1', action: { name: 'orders.read' } })).toMatchObject({ verdict: 'deny', rule: 'probes_exhausted' });
  });

  it('shadow decisions get the same context verdict', () => {
    const clock = { t: iso('2026-06-01T12:00:00Z') };
    const core = setup(policy, clock, {});
    core.ingest(
      'trust',
      buildTrustUpdate(
        { tenant: 'default', agentId: 's', seq: 1, eventId: 'e', ts: clock.t, model: 'm@1', mode: 'shadow' },
        judgement('trusted'),
        0.1,
        [],
        3_600_000,
        signer,
      ),
    );
    const d = core.decide({ agentId: 's', action: { name: 'deploy.production' } });
    expect(d).toMatchObject({ verdict: 'deny', rule: 'time_window' });
    expect(d.shadow).toMatchObject({ verdict: 'deny', rule: 'time_window', ruleId: 'never', band: 'trusted' });
  });
});

describe('validation', () => {
  const bad = (doc: unknown): string => {
    try {
      compileContextPolicy(doc, 'policy.json');
    } catch (err) {
      expect(err).toBeInstanceOf(TrustlineError);
      expect((err as TrustlineError).code).toBe('CONFIG_INVALID');
      return (err as Error).message;
    }
    throw new Error('accepted a bad document');
  };

  it('names the file and the JSON path of each problem', () => {
    expect(bad({ version: 1, rules: [], extra: 1 })).toMatch(/^policy\.json: invalid context policy/);
    expect(bad({ version: 2, rules: [] })).toMatch(/\/version/);
    expect(bad({ version: 1, rules: [{ kind: 'time_window', id: 'w', actions: ['x'], windows: [{ from: '9:00', to: '17:00' }] }] })).toMatch(/\/rules\/0/);
    expect(bad({ version: 1, rules: [{ kind: 'time_window', id: 'w', actions: ['x'], windows: [{ from: '09:00', to: '09:00' }] }] })).toMatch(
      /\/rules\/0\/windows\/0: from and to are equal/,
    );
    expect(
      bad({ version: 1, rules: [{ kind: 'time_window', id: 'w', actions: ['x'], timeZone: 'Mars/Olympus', windows: [{ from: '09:00', to: '10:00' }] }] }),
    ).toMatch(/unknown time zone "Mars\/Olympus"/);
    expect(bad({ version: 1, tenants: { acme: { timeZone: 'Nowhere/Land' } }, rules: [] })).toMatch(/\/tenants\/acme\/timeZone/);
    expect(
      bad({
        version: 1,
        rules: [
          { kind: 'consent', id: 'a', actions: ['x'], consent: 'c' },
          { kind: 'consent', id: 'a', actions: ['y'], consent: 'c' },
        ],
      }),
    ).toMatch(/duplicate rule id "a"/);
    expect(bad({ version: 1, rules: [], elevations: [{ id: 'g', agentId: 'a', actions: ['x'], until: '2026-06-01T10:00:00' }] })).toMatch(
      /\/elevations\/0\/until/,
    ); // no offset
    expect(
      bad({ version: 1, rules: [], elevations: [{ id: 'g', agentId: 'a', actions: ['x'], from: '2026-06-01T10:00:00Z', until: '2026-06-01T10:00:00Z' }] }),
    ).toMatch(/until must be after from/);
    expect(bad({ version: 1, rules: [{ kind: 'amount', id: 'a', actions: ['pay*'], atOrAbove: 1 }] })).toMatch(/\/rules\/0/); // a star only as ".*" or "*"
    expect(bad({ version: 1, rules: [{ kind: 'bogus', id: 'a', actions: ['x'] }] })).toMatch(/\/rules\/0/);
  });

  it('loads from a JSON file; the committed JSON Schema (generated from TypeBox) accepts the example and rejects a bad one', () => {
    const compiled = loadContextPolicy('examples/mcp/context-policy.json');
    expect(compiled.size.rules).toBeGreaterThan(0);
    expect(() => loadContextPolicy('test/enforcer/context-policy.test.ts')).toThrow(/^test\/enforcer\/context-policy\.test\.ts: /);
    const schema = JSON.parse(readFileSync('schemas/enforcer-context-policy.schema.json', 'utf8')) as object;
    const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
    expect(validate(JSON.parse(readFileSync('examples/mcp/context-policy.json', 'utf8')))).toBe(true);
    expect(validate({ version: 1, rules: [{ kind: 'amount', id: 'a', actions: ['x'] }] })).toBe(false);
  });
});
