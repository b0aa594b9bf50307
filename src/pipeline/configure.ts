/**
 * The pipeline's settings from the configuration, in one place for every runner (Kafka
 * processor, replay, tests, benchmarks), so they cannot drift apart.
 */
import type { Config } from '../config/config.ts';
import { DEFAULT_POLICY, type Policy } from '../core/judge.ts';
import { CompiledRouteRules } from '../core/routes.ts';
import { createSigner, createVerifier } from '../outputs/sign.ts';
import type { PipelineDeps } from './batch-processor.ts';

export function policyFromConfig(config: Config): Policy {
  return { ...DEFAULT_POLICY, emit: { delta: config.trust.emitDelta, heartbeatMs: config.trust.heartbeatMs } };
}

/** Signing, policy, mode, ttl, operator control and escalation settings of the pipeline. */
export function configuredDeps(config: Config): Omit<PipelineDeps, 'store' | 'scorer' | 'sink' | 'audit'> {
  return {
    signer: createSigner(config.signing.keys, config.signing.activeKid),
    policy: policyFromConfig(config),
    mode: config.mode,
    ttlMs: config.trust.ttlMs,
    controlVerifier: config.control.keys.length ? createVerifier(config.control.keys) : null,
    escalation: {
      rules: config.escalation.rules,
      ttlMs: config.escalation.ttlMs,
      approveCredit: config.escalation.approveCredit,
      denyPenalty: config.escalation.denyPenalty,
    },
    rules: new CompiledRouteRules(config.detection.routes),
  };
}
