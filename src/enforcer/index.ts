/**
 * `trustline/enforcer` — the enforcer SDK for gateways, API proxies and MCP servers.
 *
 * ```ts
 * import { createEnforcer } from 'trustline/enforcer';
 *
 * const enforcer = createEnforcer({
 *   kafka: { brokers: ['kafka:9092'] },
 *   keys: [{ kid: 'k1', alg: 'HS256', secret: process.env.TRUSTLINE_KEY! }],
 *   policy: { onStale: 'fail-closed', actions: { 'payment.create': 'critical' } },
 * });
 * await enforcer.ready();
 * const d = enforcer.decide({ agentId, action: { name: 'payment.create' } });
 * if (d.verdict !== 'allow') ...
 * ```
 *
 * See docs/enforcers.md.
 */
export { createEnforcer, type Enforcer, type EnforcerOptions } from './kafka-enforcer.ts';
export { createRedisEnforcer, type RedisEnforcer, type RedisEnforcerOptions, type RedisLookupClient } from './redis-enforcer.ts';
export { decisionKey, DECISION_FIELDS } from './decision-key.ts';
export { createEnforcerCore, type EnforcerCore, type EnforcerCoreOptions } from './core.ts';
export { PROMETHEUS_CONTENT_TYPE, enforcerPrometheus } from './prometheus.ts';
export { DEFAULT_ENFORCER_POLICY, resolvePolicy, type EnforcerPolicy, type EnforcerPolicyInput } from './policy.ts';
export { compileContextPolicy, loadContextPolicy, ContextPolicySchema, type CompiledContextPolicy, type ContextPolicyInput } from './context-policy.ts';
export {
  VERDICTS,
  type Decision,
  type DecisionQuery,
  type DecisionRule,
  type EnforcerMetrics,
  type EscalationView,
  type FeedKind,
  type IngestOutcome,
  type Verdict,
} from './types.ts';
export type { SigningKey } from '../outputs/sign.ts';
export { createEnforcerLogger, type EnforcerLogFn, type EnforcerLogger } from './logger.ts';
export type { Band, CircuitState, Reason, Sensitivity } from '../contract/vocabulary.ts';
