/**
 * Micro-benchmarks of the enforcement-side costs, each beside a baseline measured in the same
 * run: signing and verifying a TrustUpdate vs serialising it (JSON.stringify).
 */
import type { Config } from '../src/config/config.ts';
import type { TrustUpdate } from '../src/contract/schemas.ts';
import { createSigner, createVerifier } from '../src/outputs/sign.ts';

function perCall(n: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i); // warm-up
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) sink += fn(i) ? 1 : 0;
  const us = ((performance.now() - t0) / n) * 1000;
  if (sink < 0) throw new Error('unreachable');
  return Math.round(us * 100) / 100;
}

export async function extraSections(config: Config): Promise<Record<string, unknown>> {
  const signer = createSigner(config.signing.keys, config.signing.activeKid);
  const verifier = createVerifier(config.signing.keys);
  const unsigned = {
    v: 1 as const, tenant: 'default', agentId: 'agent-bench', seq: 1, eventId: 'e-1', ts: 1_767_225_600_000, trust: 0.8123, band: 'trusted' as const,
    components: { identity: 0.65, intent: 0.9, authorization: 1 }, anomaly: 0.12, reasons: [], circuit: 'closed' as const, model: 'trustline-iforest@1', mode: 'enforce' as const, ttlMs: 300_000,
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
  };
}
