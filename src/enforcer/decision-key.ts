/**
 * Where the processor keeps each agent's latest signed records for stateless gateways, and
 * where the SDK's Redis mode reads them: `<prefix>:d:{<tenant>:<agentId>}`, a hash with
 * `t` (TrustUpdate JSON), `ts` (its seq), `c` (CircuitSignal JSON), `cs` (its seq), `cst`
 * (its state). The hash tag is the agent's state tag, so both keys share a Redis Cluster slot;
 * the key is outside the `<prefix>:{` agent-state namespace, so state scans never see it.
 * See docs/enforcers.md ("Stateless gateways: Redis mode").
 */
import { agentTag } from '../state/keys.ts';

/** Hash fields of the decision key. */
export const DECISION_FIELDS = { trust: 't', trustSeq: 'ts', circuit: 'c', circuitSeq: 'cs', circuitState: 'cst' } as const;

/** `<prefix>:d:{<tenant>:<agentId>}` (tenant and agentId percent-encoded like every agent key). */
export function decisionKey(prefix: string, tenant: string, agentId: string): string {
  return `${prefix}:d:{${agentTag({ tenant, agentId })}}`;
}
