/**
 * Peer groups: the population prior every agent's baseline is shrunk toward
 * (docs/detection.md, "Hierarchical baselines").
 *
 * An agent's peer group is (tenant, declared purpose, auth method). For each group the pipeline
 * keeps one small {@link PeerState} per source partition: agents are spread over partitions by
 * their key, so every partition's record is a sample of the same population, and a partition's
 * replay rebuilds its records byte for byte (one writer per record, updated in source order,
 * saved with the agents' states under a compare-and-set on the source position).
 *
 * What a record holds: for each profiled quantity — the agent's long-run request rate (log10 of
 * 1 + requests per minute) and its long-run shares of client errors, privileged requests and
 * high/critical actions — the mean and the between-agent variance over the agents of the group.
 * Agents report their own long-run estimate at their 8th, 16th, 32nd … event (powers of two
 * from 8): an agent's influence grows only with the logarithm of its volume, one noisy first
 * request never reports, and a flood of events from one agent cannot redefine what is normal
 * for its peers. Reports are folded with weight max(1/reports, {@link PEER_ALPHA}), so the record
 * follows the last ~{@link PEER_WINDOW} reports.
 *
 * Empirical Bayes: the group's prior for a share is a Beta with the group's mean μ and a
 * strength m = μ(1 − μ)/v − 1 (method of moments, clamped to [{@link M_MIN}, {@link M_MAX}]);
 * for the rate a Gamma–Poisson prior with the group's typical rate and a prior exposure of
 * {@link RATE_PRIOR_MINUTES} minutes. A group with few reports is itself shrunk toward the
 * FLEET prior ({@link FLEET_PRIOR}: weakly informative, generic values — not fitted to any data
 * set) with the weight of {@link FLEET_REPORTS} reports.
 *
 * Cost: {@link PEER_RECORD_BYTES} bytes per (partition, peer group) record; no allocation per
 * event. Bounded by the number of distinct (tenant, purpose, auth method) per partition.
 */
import type { AgentRequestEvent } from '../contract/schemas.ts';

/** Profiled quantities, in record order. */
export const Q = { logRate: 0, errShare: 1, privShare: 2, sensShare: 3 } as const;
export const Q_COUNT = 4;

/**
 * The fleet prior: mean and between-agent standard deviation of each quantity. Generic,
 * weakly informative values (about one request a minute give or take half a decade; a few
 * percent of errors, privileged requests and high/critical actions), deliberately wide so that a
 * group's own reports take over after a few agents.
 */
export const FLEET_PRIOR: { mean: readonly number[]; sd: readonly number[] } = {
  mean: [Math.log10(2), 0.05, 0.02, 0.05],
  sd: [0.5, 0.08, 0.05, 0.08],
};
/** Weight of the fleet prior, in reports. */
export const FLEET_REPORTS = 4;
export const PEER_ALPHA = 0.02;
export const PEER_WINDOW = 1 / PEER_ALPHA;
/** Beta prior strength bounds (pseudo-events). */
export const M_MIN = 2;
export const M_MAX = 200;
/** Prior exposure of the Gamma–Poisson rate prior, minutes. */
export const RATE_PRIOR_MINUTES = 5;
/** The first event count at which an agent reports (then every doubling). */
export const REPORT_FROM = 8;

/** Layout tag of a stored peer record (never a valid agent-state layout version). */
export const PEER_LAYOUT_VERSION = 0x50;
/** 1 layout byte, float64 watermark (at byte 1, like agent states, for the compare-and-set), float64 reports, then mean and variance per quantity (float32). */
export const PEER_RECORD_BYTES = 1 + 8 + 8 + Q_COUNT * 2 * 4;

export type PeerState = {
  /** Last applied source position; -1 = none. */
  watermark: number;
  reports: number;
  mean: Float32Array;
  variance: Float32Array;
};

export function newPeerState(): PeerState {
  return { watermark: -1, reports: 0, mean: new Float32Array(Q_COUNT), variance: new Float32Array(Q_COUNT) };
}

/** An independent copy (judging an event against a record that already holds it, without folding it in again). */
export function clonePeerState(p: PeerState): PeerState {
  return { watermark: p.watermark, reports: p.reports, mean: Float32Array.from(p.mean), variance: Float32Array.from(p.variance) };
}

export function encodePeerState(p: PeerState): Buffer {
  const out = Buffer.alloc(PEER_RECORD_BYTES);
  out[0] = PEER_LAYOUT_VERSION;
  out.writeDoubleLE(p.watermark, 1);
  out.writeDoubleLE(p.reports, 9);
  for (let i = 0; i < Q_COUNT; i++) {
    out.writeFloatLE(p.mean[i]!, 17 + i * 8);
    out.writeFloatLE(p.variance[i]!, 21 + i * 8);
  }
  return out;
}

/** Inverse of {@link encodePeerState}; null for anything else (then the group restarts from the fleet prior). */
export function decodePeerState(bytes: Uint8Array): PeerState | null {
  if (bytes.byteLength !== PEER_RECORD_BYTES || bytes[0] !== PEER_LAYOUT_VERSION) return null;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = newPeerState();
  p.watermark = b.readDoubleLE(1);
  p.reports = b.readDoubleLE(9);
  for (let i = 0; i < Q_COUNT; i++) {
    p.mean[i] = b.readFloatLE(17 + i * 8);
    p.variance[i] = b.readFloatLE(21 + i * 8);
  }
  return p;
}

/** Tenant of the stored peer records: not a valid event tenant (`#`), so never an agent's key. */
export const PEER_TENANT = '#peers';

/** The peer group of an event: tenant, declared purpose, auth method. */
export function peerGroupOf(ev: AgentRequestEvent): string {
  return `${ev.tenant ?? 'default'}\u0000${ev.agent.purpose ?? ''}\u0000${ev.agent.auth.method}`;
}

/** The state-store key of the record of `ev`'s group in one source partition: `#peers` / `<partition>/<tenant>/<purpose>/<auth method>` (URI-encoded parts). */
export function peerKeyOf(ev: AgentRequestEvent, partition: number): { tenant: string; agentId: string } {
  return {
    tenant: PEER_TENANT,
    agentId: `${partition}/${encodeURIComponent(ev.tenant ?? 'default')}/${encodeURIComponent(ev.agent.purpose ?? '')}/${ev.agent.auth.method}`,
  };
}

/** True when the agent reports to its group at its `n`-th event (8, 16, 32, …). */
export function reportsAt(n: number): boolean {
  return n >= REPORT_FROM && (n & (n - 1)) === 0;
}

/** Folds one agent's long-run profile (one value per quantity) into the group's record. */
export function report(p: PeerState, profile: ArrayLike<number>): void {
  p.reports = Math.min(p.reports + 1, 1e9);
  const a = Math.max(1 / p.reports, PEER_ALPHA);
  for (let i = 0; i < Q_COUNT; i++) {
    const x = profile[i]!;
    const d = x - p.mean[i]!;
    p.mean[i] = p.mean[i]! + a * d;
    p.variance[i] = (1 - a) * (p.variance[i]! + a * d * d);
  }
}

/**
 * The prior an agent of the group is judged against: mean and between-agent variance per
 * quantity, and how much of it comes from the group itself (`confidence` = reports / (reports +
 * FLEET_REPORTS), 0 for a group nobody has reported to yet). Comparisons WITH the peers (the
 * `*_vs_peers` features) are weighted by it: the first agents of a new group have no peers to
 * differ from, only a generic fleet prior that is good for shrinking a young baseline but not
 * for calling an agent abnormal.
 */
export type Prior = { mean: Float64Array; variance: Float64Array; confidence: number };

export function newPrior(): Prior {
  return { mean: new Float64Array(Q_COUNT), variance: new Float64Array(Q_COUNT), confidence: 0 };
}

/** The group's prior, shrunk toward the fleet prior by {@link FLEET_REPORTS} reports; the fleet prior alone when `p` is null. Writes into `out`. */
export function priorOf(p: PeerState | null, out: Prior): Prior {
  const r = p ? p.reports : 0;
  const w = r / (r + FLEET_REPORTS);
  out.confidence = w;
  for (let i = 0; i < Q_COUNT; i++) {
    const fm = FLEET_PRIOR.mean[i]!;
    const fv = FLEET_PRIOR.sd[i]! ** 2;
    if (w === 0) {
      out.mean[i] = fm;
      out.variance[i] = fv;
    } else {
      const m = p!.mean[i]!;
      out.mean[i] = w * m + (1 - w) * fm;
      // Mixture variance: within both components plus the spread between their means.
      out.variance[i] = w * p!.variance[i]! + (1 - w) * fv + w * (1 - w) * (m - fm) ** 2;
    }
  }
  return out;
}

/** Beta prior strength (pseudo-events) of a share with mean `mu` and between-agent variance `v`. */
export function betaStrength(mu: number, v: number): number {
  const mm = mu < 1e-4 ? 1e-4 : mu > 1 - 1e-4 ? 1 - 1e-4 : mu;
  const m = (mm * (1 - mm)) / Math.max(v, 1e-6) - 1;
  return m < M_MIN ? M_MIN : m > M_MAX ? M_MAX : m;
}

/** Posterior mean of a share: `own` over `n` effective observations, shrunk toward `mu` with strength `m`. */
export function shrinkShare(own: number, n: number, mu: number, m: number): number {
  return (n * own + m * mu) / (n + m);
}

/**
 * How far an agent's posterior share `post` lies above its group's distribution (mean `mu`,
 * strength `m`): a z-score against the Beta prior's standard deviation, √(μ(1 − μ)/(m + 1)).
 * Negative values (below the group) are kept; the model only scores the risky side.
 */
export function shareZ(post: number, mu: number, m: number): number {
  const mm = mu < 1e-3 ? 1e-3 : mu;
  return (post - mu) / Math.sqrt((mm * (1 - mm)) / (m + 1));
}

/** A memory of peer records by (partition, group), for offline tools (training export, evaluation) that have no store. */
export class PeerBook {
  private readonly records = new Map<string, PeerState>();

  get(ev: AgentRequestEvent, partition = 0): PeerState {
    const k = `${partition}\u0000${peerGroupOf(ev)}`;
    let p = this.records.get(k);
    if (!p) this.records.set(k, (p = newPeerState()));
    return p;
  }

  get size(): number {
    return this.records.size;
  }
}
