/**
 * Micro-benchmarks of the enforcement-side costs, each beside a baseline measured in the same
 * run: signing and verifying a TrustUpdate vs serialising it (JSON.stringify); an enforcer's
 * `decide()` vs a plain `Map.get` on the same agent ids; `decide()` with a context policy vs
 * the same calls without one.
 */
import type { Config } from '../src/config/config.ts';
import type { TrustUpdate } from '../src/contract/schemas.ts';
import { createEnforcerCore, type ContextPolicyInput, type DecisionQuery, type EnforcerCore, type Verdict } from '../src/enforcer/index.ts';
import { createSigner, createVerifier } from '../src/outputs/sign.ts';
import { createLogger } from '../src/shared/logger.ts';

function perCall(n: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i); // warm-up
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) sink += fn(i) ? 1 : 0;
  const us = ((performance.now() - t0) / n) * 1000;
  if (sink < 0) throw new Error('unreachable');
  return Math.round(us * 100) / 100;
}

/**
 * `decide()` on an enforcer holding `agents` agents (bands cycling, every 10th with an open
 * circuit), `calls` calls round-robin over them, each building its query object as a gateway
 * would; the baseline is `Map.get` on the same ids.
 */
function decideSection(config: Config, agents = 10_000, calls = 1_000_000): Record<string, unknown> {
  const signer = createSigner(config.signing.keys, config.signing.activeKid);
  const core = createEnforcerCore({ keys: config.signing.keys, logger: createLogger({ level: 'silent' }), policy: { feedTimeoutMs: 3_600_000 } });
  const bands = ['trusted', 'watch', 'restrict', 'block'] as const;
  const ids: string[] = [];
  const ts = Date.now();
  for (let i = 0; i < agents; i++) {
    const agentId = `agent-${String(i).padStart(5, '0')}`;
    ids.push(agentId);
    const open = i % 10 === 9;
    const u = {
      v: 1 as const,
      tenant: 'default',
      agentId,
      seq: 1,
      eventId: `e-${i}`,
      ts,
      trust: 0.8,
      band: bands[i % 4]!,
      components: { identity: 0.65, intent: 0.9, authorization: 1 },
      anomaly: 0.1,
      reasons: [{ code: 'rate_spike', feature: 'rate_ratio', value: 3, baseline: 1 }],
      circuit: open ? ('open' as const) : ('closed' as const),
      model: 'trustline-tailsum@3',
      mode: 'enforce' as const,
      ttlMs: 3_600_000,
    };
    core.ingest('trust', { ...u, sig: signer.sign(u) });
    if (open) {
      const c = {
        v: 1 as const,
        tenant: 'default',
        agentId,
        seq: 1,
        state: 'open' as const,
        previous: 'closed' as const,
        reasons: [],
        offences: 1,
        issuedAt: ts,
        until: ts + 3_600_000,
        mode: 'enforce' as const,
      };
      core.ingest('circuit', { ...c, sig: signer.sign(c) });
    }
  }
  core.markReady();
  const plain = new Map(ids.map((id, i) => [id, { band: bands[i % 4]! }]));
  const action = { sensitivity: 'high' as const };
  const decideUs = perCall(calls, (i) => core.decide({ agentId: ids[i % agents]!, action }).verdict !== 'hold');
  const baselineUs = perCall(calls, (i) => plain.get(ids[i % agents]!) !== undefined);
  const verdicts: Record<Verdict, number> = core.metrics().decisions;
  return {
    agents,
    calls,
    decideUs,
    baseline: { name: 'Map.get on the same agent ids', us: baselineUs },
    overheadUs: Math.round((decideUs - baselineUs) * 100) / 100,
    verdicts,
  };
}

/** The context policy of the benchmark: a rule of every kind on the actions called. */
export const BENCH_CONTEXT_POLICY: ContextPolicyInput = {
  version: 1,
  tenants: { acme: { timeZone: 'Europe/Berlin' } },
  defaultTimeZone: 'America/New_York',
  rules: [
    {
      kind: 'time_window',
      id: 'customer-business-hours',
      actions: ['customer.*'],
      windows: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' },
        { days: ['sat'], from: '10:00', to: '14:00' },
      ],
    },
    { kind: 'consent', id: 'payments-consent', actions: ['payment.create'], consent: 'payments' },
    { kind: 'amount', id: 'large-payments', actions: ['payment.*'], atOrAbove: 1000 },
    {
      kind: 'time_window',
      id: 'deploy-window',
      actions: ['deploy.*'],
      timeZone: 'Europe/Berlin',
      windows: [{ days: ['tue', 'wed', 'thu'], from: '10:00', to: '16:00' }],
    },
    { kind: 'elevation', id: 'prod-elevation', actions: ['deploy.production'] },
  ],
  elevations: [{ id: 'CHG-1', agentId: 'agent-00001', actions: ['deploy.production'], until: '2100-01-01T00:00:00Z' }],
};

/**
 * `decide()` with {@link BENCH_CONTEXT_POLICY} vs the same enforcer and calls without it:
 * `agents` agents, `calls` calls cycling over four actions (a time window in the tenant zone, consent +
 * amount, a window + elevation, an action no rule names), tenants alternating default / acme.
 */
export function decideContextSection(agents = 10_000, calls = 1_000_000): Record<string, unknown> {
  const key = { kid: 'bench', alg: 'HS256' as const, secret: 'bench-context-policy-secret-0123456789' };
  const signer = createSigner([key], key.kid);
  const ts = Date.now();
  const build = (contextPolicy?: ContextPolicyInput): EnforcerCore => {
    const core = createEnforcerCore({
      keys: [key],
      logger: createLogger({ level: 'silent' }),
      policy: { feedTimeoutMs: 3_600_000 },
      ...(contextPolicy ? { contextPolicy } : {}),
    });
    for (let i = 0; i < agents; i++) {
      const u = {
        v: 1 as const,
        tenant: i % 2 === 0 ? 'default' : 'acme',
        agentId: `agent-${String(i).padStart(5, '0')}`,
        seq: 1,
        eventId: `e-${i}`,
        ts,
        trust: 0.8,
        band: 'trusted' as const,
        components: { identity: 0.65, intent: 0.9, authorization: 1 },
        anomaly: 0.1,
        reasons: [],
        circuit: 'closed' as const,
        model: 'trustline-tailsum@3',
        mode: 'enforce' as const,
        ttlMs: 3_600_000,
      };
      core.ingest('trust', { ...u, sig: signer.sign(u) });
    }
    core.markReady();
    return core;
  };
  const consents = ['payments'];
  const actions = [
    { name: 'customer.read' },
    { name: 'payment.create', amount: 2500, currency: 'EUR' },
    { name: 'deploy.production' },
    { name: 'orders.read' },
  ];
  const queries: DecisionQuery[] = [];
  for (let i = 0; i < agents; i++) {
    const agentId = `agent-${String(i).padStart(5, '0')}`;
    queries.push({ ...(i % 2 === 0 ? {} : { tenant: 'acme' }), agentId, action: actions[i % 4]!, context: { consents } });
  }
  const plain = build();
  const withPolicy = build(BENCH_CONTEXT_POLICY);
  // Interleave three rounds each and keep the best, so a noisy neighbour does not decide the figure.
  let plainUs = Infinity;
  let contextUs = Infinity;
  for (let round = 0; round < 3; round++) {
    plainUs = Math.min(
      plainUs,
      perCall(calls, (i) => plain.decide(queries[i % agents]!).verdict !== 'hold'),
    );
    contextUs = Math.min(
      contextUs,
      perCall(calls, (i) => withPolicy.decide(queries[i % agents]!).verdict !== 'hold'),
    );
  }
  return {
    agents,
    calls,
    rules: BENCH_CONTEXT_POLICY.rules.length,
    decideUs: contextUs,
    baseline: { name: 'decide() without a context policy, same calls', us: plainUs },
    overheadUs: Math.round((contextUs - plainUs) * 100) / 100,
    verdicts: withPolicy.metrics().decisions,
  };
}

export async function extraSections(config: Config): Promise<Record<string, unknown>> {
  const signer = createSigner(config.signing.keys, config.signing.activeKid);
  const verifier = createVerifier(config.signing.keys);
  const unsigned = {
    v: 1 as const,
    tenant: 'default',
    agentId: 'agent-bench',
    seq: 1,
    eventId: 'e-1',
    ts: 1_767_225_600_000,
    trust: 0.8123,
    band: 'trusted' as const,
    components: { identity: 0.65, intent: 0.9, authorization: 1 },
    anomaly: 0.12,
    reasons: [],
    circuit: 'closed' as const,
    model: 'trustline-tailsum@3',
    mode: 'enforce' as const,
    ttlMs: 300_000,
  };
  const record: TrustUpdate = { ...unsigned, sig: signer.sign(unsigned) };
  const n = 50_000;
  return {
    signing: {
      alg: record.sig.alg,
      calls: n,
      signUs: perCall(n, (i) => signer.sign({ ...unsigned, seq: i + 1 })),
      verifyUs: perCall(n, () => verifier.verify(record)),
      baseline: { name: 'JSON.stringify of the same record', us: perCall(n, (i) => JSON.stringify({ ...unsigned, seq: i + 1 })) },
    },
    decide: decideSection(config),
    decideContext: decideContextSection(),
  };
}
