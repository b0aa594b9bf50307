/**
 * Types shared by the traffic simulator: request specs produced by profiles and
 * scenarios, simulated events before serialization, agents, labels and set specs.
 */
import type { AuthMethod, Sensitivity } from '../../src/contract/schemas.ts';

/** Canonical names of the benign profiles (used as `scenario` in benign labels). */
export const PROFILE_NAMES = [
  'shopping',
  'travel-booking',
  'customer-support',
  'analytics',
  'inventory-sync',
  'coding-assistant',
  'search-crawler',
  'personal-assistant',
  'price-monitor',
  'it-ops',
] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** Attack scenarios, the `scenario` value of malicious labels. */
export const SCENARIO_NAMES = [
  'stolen_token',
  'enumeration',
  'scope_probing',
  'exfiltration',
  'payment_velocity',
  'prompt_injection_hijack',
  'credential_stuffing',
  'low_and_slow',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Business action of a request, in contract field order. */
export interface ActionSpec {
  name?: string;
  sensitivity?: Sensitivity;
  amount?: number;
  currency?: string;
  requiredScope?: string;
}

/** What a profile or a scenario decides about one request (identity is added later). */
export interface ReqSpec {
  method: string;
  route: string;
  path?: string;
  status: number;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
  action?: ActionSpec;
  onBehalfOf?: string;
}

/** Who issued a simulated request: the agent itself, or the attacker inside/behind it. */
export type Actor = 'agent' | 'attacker';

/** A simulated request before identity fields are resolved. */
export interface RawEvent {
  ts: number;
  actor: Actor;
  req: ReqSpec;
}

/** Network origin of a request. */
export interface NetIdentity {
  ip: string;
  asn: number;
  country: string;
  /** provider family, for documentation only (never serialized). */
  kind: 'cloud' | 'hosting' | 'residential' | 'mobile';
}

/** A fully resolved simulated event (serialized in contract field order by `event.ts`). */
export interface SimEvent {
  ts: number;
  tenant?: string;
  agentId: string;
  purpose?: string;
  authMethod: AuthMethod;
  verified: boolean;
  scopes?: readonly string[];
  tokenAgeS?: number;
  onBehalfOf?: string;
  userAgent?: string;
  req: ReqSpec;
  ip?: string;
  asn?: number;
  country?: string;
  actor: Actor;
}

/** Label of one agent in a `<name>.labels.json` sidecar. */
export interface AgentLabel {
  malicious: boolean;
  /** attack scenario for malicious agents, profile name for benign ones */
  scenario: string;
  /** event time of the first attack event; null for benign agents */
  attackStartTs: number | null;
  tenant: string;
  /** benign profile the agent follows (for attacks: the profile it had before, or the cover it uses) */
  profile: string;
  /** benign hard cases present in this agent's traffic, or attack variant notes */
  traits: string[];
}

/** Content of a labels sidecar file. */
export interface LabelsFile {
  set: string;
  seed: number;
  agents: Record<string, AgentLabel>;
}

/** One fixture file to generate, as recorded in `fixtures/sets.json`. */
export interface SetSpec {
  /** short name, also the base name of the labels sidecar */
  name: string;
  /** path relative to `fixtures/`, ending in `.jsonl` or `.jsonl.gz` */
  file: string;
  seed: number;
  kind: 'train' | 'validation' | 'demo';
  /** event time of the start of the set, epoch ms */
  startTs: number;
  durationMin: number;
  benignAgents: number;
  /** benign agents placed in a second tenant (counted in benignAgents) */
  secondTenantAgents: number;
  /** number of malicious agents per scenario */
  attacks: Partial<Record<ScenarioName, number>>;
  /** multiplier of session arrival rates (and divisor of batch periods) */
  intensity: number;
  /** minimum number of the host agent's own events before an attack starts */
  minPreAttackEvents: number;
  /** attack starts are drawn in this fraction of the duration */
  attackWindow: [number, number];
  /** share of benign agents that first appear mid-stream */
  coldStartShare: number;
}

/** `fixtures/sets.json`. */
export interface Manifest {
  version: 1;
  sets: SetSpec[];
}
