import { describe, expect, it } from 'vitest';
import { agentKeyOfControl, agentKeyOfEvent, agentKeyString, eventAgentKey, parseAgentKeyString } from '../../src/core/agent-key.ts';
import { D, newAgentState } from '../../src/core/agent-state.ts';
import { DEFAULT_ESCALATION, emptyTail } from '../../src/core/control.ts';
import { FEATURE_COUNT } from '../../src/core/features.ts';
import { DEFAULT_POLICY, cooldownUntil } from '../../src/core/judge.ts';
import { admitControl, observeEvent, stepControl, stepEvent, type StepSettings } from '../../src/core/step.ts';
import { signControl } from '../../src/control/sign-control.ts';
import type { SigningKey } from '../../src/outputs/sign.ts';
import { T0, ev } from '../support/events.ts';

const OP: SigningKey = { kid: 'op-1', alg: 'HS256', secret: 'operator secret for the step tests ..' };
const SETTINGS: StepSettings = { policy: DEFAULT_POLICY, escalation: DEFAULT_ESCALATION, featureStats: [] };
const row = new Float32Array(FEATURE_COUNT);

describe('agent keys', () => {
  it('an event and a control record name the same agent the same way; the default tenant is explicit', () => {
    const e = ev({ agent: { id: 'a-1' } });
    const c = signControl({ controlId: 'c', agentId: 'a-1', action: 'reset', issuedAt: T0, operator: 'op' }, OP);
    expect(agentKeyOfEvent(e)).toEqual({ tenant: 'default', agentId: 'a-1' });
    expect(agentKeyOfControl(c)).toEqual(agentKeyOfEvent(e));
    expect(eventAgentKey(ev({ tenant: 't', agent: { id: 'x' } }))).toBe(agentKeyString('t', 'x'));
    expect(parseAgentKeyString(agentKeyString('t', 'x:y'))).toEqual({ tenant: 't', agentId: 'x:y' });
  });
});

describe('observeEvent: event time', () => {
  it("the first event keeps its time; a late event is clamped forward to the agent's last time, never backwards", () => {
    const s = newAgentState();
    const a = observeEvent(s, ev({ ts: T0 + 10_000 }), row, 0);
    expect(a).toMatchObject({ ts: T0 + 10_000, dt: 0, first: true });
    const late = observeEvent(s, ev({ ts: T0 + 2_000 }), row, 0);
    expect(late).toMatchObject({ ts: T0 + 10_000, dt: 0, first: false });
    const next = observeEvent(s, ev({ ts: T0 + 13_000 }), row, 0);
    expect(next).toMatchObject({ ts: T0 + 13_000, dt: 3_000, first: false });
    expect(s.d[D.lastTs]).toBe(T0 + 13_000);
    expect(s.d[D.seq]).toBe(3);
  });
});

describe('stepEvent', () => {
  it('rounds the anomaly as every output carries it and escalates a matching action once while pending', () => {
    const s = newAgentState();
    const tail = emptyTail();
    const big = ev({ ts: T0, action: { name: 'payout', amount: 5_000, currency: 'EUR', sensitivity: 'critical' } });
    const o = observeEvent(s, big, row, 0);
    const everyBand: StepSettings = {
      ...SETTINGS,
      escalation: { ...DEFAULT_ESCALATION, rules: [{ minAmount: 1000, bands: ['trusted', 'watch', 'restrict', 'block'] }] },
    };
    const r = stepEvent(s, tail, big, o, 0.999_87, row, 0, s.d[D.seq]!, everyBand);
    expect(r.anomaly).toBe(0.9999);
    expect(r.escalation?.reasons[0]).toEqual({ code: 'amount_at_or_above', value: 5_000, baseline: 1_000 });
    expect(r.escalation!.expiresAt).toBe(o.ts + DEFAULT_ESCALATION.ttlMs);
    const again = ev({ ts: T0 + 1_000, action: big.action! });
    const o2 = observeEvent(s, again, row, 0);
    expect(stepEvent(s, tail, again, o2, 0.9999, row, 0, s.d[D.seq]!, everyBand).escalation).toBeNull();
    // … and once it has expired, the next matching action escalates again.
    const later = ev({ ts: T0 + DEFAULT_ESCALATION.ttlMs + 1, action: big.action! });
    const o3 = observeEvent(s, later, row, 0);
    expect(stepEvent(s, tail, later, o3, 0.9999, row, 0, s.d[D.seq]!, everyBand).escalation).not.toBeNull();
  });

  it('without an event (offline evaluation) nothing escalates, and without features reasons are the hard signals only', () => {
    const s = newAgentState();
    const e = ev({ ts: T0, action: { amount: 5_000, requiredScope: 'payments:write' } });
    const o = observeEvent(s, e, row, 0);
    const r = stepEvent(s, emptyTail(), null, o, 0.9999, null, 0, 1, SETTINGS);
    expect(r.escalation).toBeNull();
    expect(r.reasons).toEqual([{ code: 'scope_violation' }]);
  });
});

describe('control admission', () => {
  it('a duplicate (issuedAt not after the last admitted) takes no seq and leaves the state untouched', () => {
    const s = newAgentState();
    const tail = emptyTail();
    observeEvent(s, ev({ ts: T0 + 9_000 }), row, 0);
    const c = signControl({ controlId: 'c1', agentId: 'agent-1', action: 'force_open', issuedAt: T0 + 5_000, operator: 'op' }, OP);
    expect(admitControl(s, tail, c)).toEqual({ ts: T0 + 9_000, seq: 2 });
    const before = Buffer.from(s.buf);
    expect(admitControl(s, tail, { ...c, controlId: 'c1-again' })).toBeNull();
    expect(Buffer.from(s.buf).equals(before)).toBe(true);
    expect(stepControl(s, tail, c, T0 + 9_000, SETTINGS)).toMatchObject({ outcome: 'applied', circuitChange: { previous: 'closed', state: 'forced_open' } });
  });

  it('the breaker cooldown doubles with each offence up to the maximum', () => {
    const p = DEFAULT_POLICY;
    expect(cooldownUntil(T0, 1, p)).toBe(T0 + p.breaker.baseCooldownMs);
    expect(cooldownUntil(T0, 3, p)).toBe(T0 + 4 * p.breaker.baseCooldownMs);
    expect(cooldownUntil(T0, 60, p)).toBe(T0 + p.breaker.maxCooldownMs);
  });
});
