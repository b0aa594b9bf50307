/**
 * Public types of the enforcer SDK (`trustline/enforcer`).
 *
 * A decision is made in-process from the latest signed TrustUpdate and CircuitSignal held per
 * agent; nothing here performs I/O.
 */
import type { Band, CircuitState, Reason, Sensitivity } from '../contract/vocabulary.ts';

/** What an enforcement point does with a request. `hold` = park it for a human decision. */
export type Verdict = 'allow' | 'challenge' | 'deny' | 'hold';

/** Every verdict, in increasing strictness (`allow` < `challenge` < `hold` < `deny`). */
export const VERDICTS: readonly Verdict[] = Object.freeze(['allow', 'challenge', 'hold', 'deny'] as const);

/**
 * Which rule produced a verdict — a constant string, so a decision never builds text.
 *
 * - `band` — the policy matrix for the record's band and the action's sensitivity.
 * - `unknown_agent` — no record for this agent (and the feed is fresh).
 * - `not_ready` — the snapshot of the compacted topics is not loaded yet (stale policy applies).
 * - `stale_feed` — nothing heard from the topics for `feedTimeoutMs` (stale policy applies).
 * - `stale_record` — the agent's TrustUpdate is older than its `ttlMs` (stale policy applies).
 * - `circuit_open` — open circuit before its `until`, or open without a known `until`.
 * - `circuit_forced_open` / `circuit_forced_closed` — operator override.
 * - `half_open_probe` — half-open (or open past `until`), a local probe was granted.
 * - `probes_exhausted` — the local probe budget is used up; denied until a newer record.
 * - `escalation_pending` / `escalation_approved` / `escalation_denied` — the agent's latest
 *   escalation for this action name (query `action.name`), before its `expiresAt`: `hold`,
 *   `allow`, `deny`.
 * - `time_window` / `consent_required` / `amount_threshold` / `elevation_required` — a context
 *   policy rule (`ruleId` names it): outside the action's windows, the user's consent missing,
 *   an amount that needs a human, no active elevation grant.
 */
export type DecisionRule =
  | 'band'
  | 'unknown_agent'
  | 'not_ready'
  | 'stale_feed'
  | 'stale_record'
  | 'circuit_open'
  | 'circuit_forced_open'
  | 'circuit_forced_closed'
  | 'half_open_probe'
  | 'probes_exhausted'
  | 'escalation_pending'
  | 'escalation_approved'
  | 'escalation_denied'
  | 'time_window'
  | 'consent_required'
  | 'amount_threshold'
  | 'elevation_required';

/** The request being decided. `tenant` defaults to `"default"`. */
export type DecisionQuery = {
  tenant?: string;
  agentId: string;
  /**
   * The business action. Its `sensitivity` wins; otherwise the policy's `actions` map is looked
   * up by `name`; otherwise `policy.defaultSensitivity` applies.
   */
  action?: { name?: string; sensitivity?: Sensitivity; amount?: number; currency?: string };
  /** Request context for the context policy (see docs/enforcers.md, "Context policy"). */
  context?: {
    /** Kinds of action the represented user consented to (e.g. from the token's consent claims). */
    consents?: readonly string[] | ReadonlySet<string>;
  };
};

/**
 * The outcome of `decide()`. One object per call; `reasons` is the frozen array of the record
 * the verdict is based on (shared between calls — never mutate it).
 */
export type Decision = {
  verdict: Verdict;
  /** Trust of the agent's latest TrustUpdate, `null` when none is held. */
  trust: number | null;
  band: Band | null;
  /** Circuit state held for the agent (from the newest of its TrustUpdate and CircuitSignal), `null` when unknown. */
  circuit: CircuitState | null;
  reasons: readonly Reason[];
  /** The verdict rests on stale knowledge (record past ttl, feed silent, or snapshot not loaded). */
  stale: boolean;
  rule: DecisionRule;
  /** Id of the context-policy rule that decided (`rule` is one of the context kinds), else `null`. */
  ruleId: string | null;
  /** `seq` of the newest record the decision used, 0 when none. */
  seq: number;
  /**
   * What the agent's `mode: "shadow"` records would have decided — logged and counted, never
   * enforced. `null` when no shadow record is held (always `null` inside a shadow decision).
   */
  shadow: Decision | null;
};

/** Counters of an enforcer, as a plain snapshot. */
export type EnforcerMetrics = {
  /** Records verified and applied. */
  accepted: number;
  /** Records identical to the one held (same seq and signature): at-least-once re-deliveries. */
  duplicates: number;
  droppedUnsigned: number;
  droppedBadSignature: number;
  /** Signed records whose `seq` is not newer than the one held for that agent (replays). */
  droppedStaleSeq: number;
  /** Records that are not JSON objects of the expected shape, or carry an unknown `v`. */
  droppedMalformed: number;
  /** Records with a null value (compaction tombstones): ignored, they cannot be authenticated. */
  tombstones: number;
  /** Accepted records marked `mode: "shadow"` (subset of `accepted`). */
  shadowRecords: number;
  decisions: Record<Verdict, number>;
  /** Verdicts the shadow records would have produced. */
  shadowDecisions: Record<Verdict, number>;
  /** Decisions where the shadow verdict differed from the enforced one. */
  shadowDisagreements: number;
  /** Agents (tenant, agentId) with at least one record held. */
  agents: number;
  ready: boolean;
  /** Wall-clock ms since the feed was last heard from (record or fetch), `null` before the first. */
  feedAgeMs: number | null;
};

/** What happened to one ingested record. */
export type IngestOutcome = 'accepted' | 'duplicate' | 'unsigned' | 'bad_signature' | 'stale_seq' | 'malformed' | 'tombstone';

/** The record feeds an enforcer reads. */
export type FeedKind = 'trust' | 'circuit' | 'escalation';

/** The latest escalation held for an agent and action name (see `escalation()`). */
export type EscalationView = {
  escalationId: string;
  status: 'pending' | 'approved' | 'denied';
  /** Event time when the escalation lapses. */
  expiresAt: number;
  /** The escalated event's id (the pending record's), so a gateway can match its own request. */
  eventId: string;
  seq: number;
};
