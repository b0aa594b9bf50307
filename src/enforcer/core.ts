/**
 * The enforcer's in-memory table and decision function, independent of any transport.
 *
 * Guarantees:
 * - Only records that verify against the configured key ring are held; per agent and per
 *   feed, a record replaces the held one only when its `seq` is strictly newer.
 * - `mode: "shadow"` records are held apart and never change an enforced verdict.
 * - `decide()` does no I/O and allocates only its result (plus the shadow result when a
 *   shadow record is held): no closures, no arrays, no strings; the `reasons` it returns are
 *   the frozen arrays of the held records.
 *
 * Clock: record times (`ts`, `until`) are event time — the gateway's clock when it saw the
 * request — and are compared with this enforcer's clock (`now`, default the wall clock). The
 * two must be synchronised (NTP); `policy.clockToleranceMs` absorbs a known skew.
 */
import type { CircuitState, Reason, Sensitivity } from '../contract/vocabulary.ts';
import { createVerifier, type SigningKey, type Verifier } from '../outputs/sign.ts';
import { createEnforcerLogger, type EnforcerLogger } from './logger.ts';
import { compileContextPolicy, SEVERITY, type CompiledContextPolicy, type CompiledRule, type ContextPolicyInput } from './context-policy.ts';
import { NO_REASONS, parseFeedRecord, type HeldEscalation, type HeldSignal, type HeldTrust } from './feed-record.ts';
import { resolvePolicy, type EnforcerPolicy, type EnforcerPolicyInput } from './policy.ts';
import { enforcerPrometheus } from './prometheus.ts';
import type { Decision, DecisionQuery, DecisionRule, EnforcerMetrics, EscalationView, FeedKind, IngestOutcome, Verdict } from './types.ts';

/** Options of {@link createEnforcerCore}. */
export type EnforcerCoreOptions = {
  /** Verification key ring (`kid` → key). HS256: the shared secret; Ed25519: a public or private PEM. */
  keys: readonly SigningKey[];
  policy?: EnforcerPolicyInput;
  /**
   * Context policy (time windows, consent, amount thresholds, elevation grants): a document,
   * or one compiled with `compileContextPolicy` / `loadContextPolicy`. See docs/enforcers.md.
   */
  contextPolicy?: ContextPolicyInput | CompiledContextPolicy;
  /** The enforcer's clock, epoch ms. Default: the wall clock. */
  now?: () => number;
  /** Logger for shadow records and dropped records (a pino logger fits). Default: JSON lines on stderr, `trustline-enforcer`, info and above. */
  logger?: EnforcerLogger;
};

/** An enforcer fed by the caller: the Kafka enforcer is built on it, and so can other transports. */
export type EnforcerCore = {
  /** Authenticate and apply one record of the `trust`, `circuit` or `escalation` feed (JSON bytes, text or parsed). */
  ingest(kind: FeedKind, value: Buffer | string | object | null): IngestOutcome;
  /** Record that the feed is alive without a record (e.g. an empty fetch from the broker). */
  feedAlive(): void;
  /** Declare the snapshot loaded: decisions stop being `not_ready`. */
  markReady(): void;
  readonly isReady: boolean;
  decide(query: DecisionQuery): Decision;
  /** The latest enforcing escalation held for an agent and action name, or null (no expiry check). */
  escalation(query: { tenant?: string; agentId: string; actionName: string }): EscalationView | null;
  metrics(): EnforcerMetrics;
  /** The same counters as Prometheus text exposition (`trustline_enforcer_*`; serve with PROMETHEUS_CONTENT_TYPE). */
  prometheus(options?: { prefix?: string; labels?: Record<string, string> }): string;
  readonly policy: EnforcerPolicy;
  /**
   * Replace the context policy (validated and compiled first: a bad document throws and the
   * current one stays); `null` removes it. Takes effect for the next decision.
   */
  setContextPolicy(policy: ContextPolicyInput | CompiledContextPolicy | null): void;
};

function compiledContext(p: ContextPolicyInput | CompiledContextPolicy | null | undefined): CompiledContextPolicy | null {
  if (p === undefined || p === null) return null;
  return 'evaluate' in p && typeof p.evaluate === 'function' ? p : compileContextPolicy(p);
}

/**
 * Combine the context rule a request violates with the band/circuit decision: the stricter
 * verdict wins (ties keep the band/circuit rule). A `hold` rule is lifted by an approved
 * escalation for the action — the human decided.
 */
function applyContext(d: Decision, r: CompiledRule | null): void {
  if (r === null || r.severity <= SEVERITY[d.verdict]) return;
  if (r.verdict === 'hold' && d.rule === 'escalation_approved') return;
  d.verdict = r.verdict;
  d.rule = r.rule;
  d.ruleId = r.id;
  d.reasons = NO_REASONS;
}

/** What is held for one agent in one mode. */
type Side = {
  trust: HeldTrust | null;
  signal: HeldSignal | null;
  /** Local probes granted since the effective circuit last changed. */
  probesUsed: number;
  /** Latest escalation per action name (bounded by the agent's distinct escalated action names), `null` until the first. */
  escalations: Map<string, HeldEscalation> | null;
};

/** Most distinct action names with an escalation held per agent; the oldest (by seq) is dropped beyond it. */
const MAX_ESCALATIONS_PER_AGENT = 32;

type Entry = { enforce: Side | null; shadow: Side | null };

/** The CircuitSignal that defines the circuit, when it is not superseded by a newer TrustUpdate with another state. */
function effectiveSignal(side: Side): HeldSignal | null {
  const s = side.signal;
  const t = side.trust;
  return s !== null && (t === null || s.seq >= t.seq || s.state === t.circuit) ? s : null;
}

function effectiveState(side: Side): CircuitState | null {
  const s = effectiveSignal(side);
  return s !== null ? s.state : side.trust !== null ? side.trust.circuit : null;
}

const DEFAULT_TENANT = 'default';

/** Create an enforcer table fed through {@link EnforcerCore.ingest}. */
export function createEnforcerCore(options: EnforcerCoreOptions): EnforcerCore {
  const policy = resolvePolicy(options.policy);
  let context = compiledContext(options.contextPolicy);
  const verifier: Verifier = createVerifier(options.keys);
  // eslint-disable-next-line no-restricted-properties -- enforcers compare record times with their own clock (see the module header)
  const now = options.now ?? Date.now;
  const log = options.logger ?? createEnforcerLogger({ name: 'trustline-enforcer' });
  const tenants = new Map<string, Map<string, Entry>>();
  const defaultTenant = new Map<string, Entry>();
  tenants.set(DEFAULT_TENANT, defaultTenant);

  const m = {
    accepted: 0,
    duplicates: 0,
    droppedUnsigned: 0,
    droppedBadSignature: 0,
    droppedStaleSeq: 0,
    droppedMalformed: 0,
    tombstones: 0,
    shadowRecords: 0,
    shadowDisagreements: 0,
  };
  const decisions: Record<Verdict, number> = { allow: 0, challenge: 0, deny: 0, hold: 0 };
  const shadowDecisions: Record<Verdict, number> = { allow: 0, challenge: 0, deny: 0, hold: 0 };
  let agents = 0;
  let ready = false;
  let lastFeedAt = Number.NEGATIVE_INFINITY;

  const { bands, actions, defaultSensitivity, unknown, feedTimeoutMs, fallbackProbeBudget, clockToleranceMs } = policy;
  const staleVerdict: Verdict = policy.onStale === 'fail-open' ? 'allow' : 'deny';

  function entryFor(tenant: string, agentId: string): Entry {
    let byAgent = tenants.get(tenant);
    if (byAgent === undefined) tenants.set(tenant, (byAgent = new Map()));
    let e = byAgent.get(agentId);
    if (e === undefined) {
      byAgent.set(agentId, (e = { enforce: null, shadow: null }));
      agents++;
    }
    return e;
  }

  function ingest(kind: FeedKind, value: Buffer | string | object | null): IngestOutcome {
    lastFeedAt = now();
    const p = parseFeedRecord(kind, value, verifier);
    if (p.outcome !== 'accepted') {
      if (p.outcome === 'tombstone') m.tombstones++;
      else if (p.outcome === 'unsigned') m.droppedUnsigned++;
      else if (p.outcome === 'bad_signature') m.droppedBadSignature++;
      else m.droppedMalformed++;
      if (p.outcome !== 'tombstone') log.warn({ feed: kind, outcome: p.outcome, tenant: p.tenant, agentId: p.agentId, kid: p.kid }, 'dropped record');
      return p.outcome;
    }
    const entry = entryFor(p.tenant, p.agentId);
    const shadow = p.held.mode === 'shadow';
    let side = shadow ? entry.shadow : entry.enforce;
    if (side === null) {
      side = { trust: null, signal: null, probesUsed: 0, escalations: null };
      if (shadow) entry.shadow = side;
      else entry.enforce = side;
    }
    if (p.kind === 'escalation') return ingestEscalation(side, p.held, kind, p.tenant, p.agentId);
    const held = p.kind === 'trust' ? side.trust : side.signal;
    if (held !== null && p.held.seq <= held.seq) {
      if (p.held.seq === held.seq && p.held.sigValue === held.sigValue) {
        m.duplicates++;
        return 'duplicate';
      }
      m.droppedStaleSeq++;
      log.debug(
        { feed: kind, tenant: p.tenant, agentId: p.agentId, seq: p.held.seq, heldSeq: held.seq },
        'ignored record with a seq not newer than the held one',
      );
      return 'stale_seq';
    }
    const beforeState = effectiveState(side);
    const beforeSignal = effectiveSignal(side);
    if (p.kind === 'trust') side.trust = p.held;
    else side.signal = p.held;
    const afterSignal = effectiveSignal(side);
    if (effectiveState(side) !== beforeState || (afterSignal !== null && afterSignal !== beforeSignal)) side.probesUsed = 0;
    m.accepted++;
    if (shadow) {
      m.shadowRecords++;
      if (p.kind === 'trust')
        log.info(
          {
            feed: kind,
            mode: 'shadow',
            tenant: p.tenant,
            agentId: p.agentId,
            seq: p.held.seq,
            trust: p.held.trust,
            band: p.held.band,
            circuit: p.held.circuit,
          },
          'shadow record',
        );
      else
        log.info(
          { feed: kind, mode: 'shadow', tenant: p.tenant, agentId: p.agentId, seq: p.held.seq, state: p.held.state, until: p.held.until },
          'shadow record',
        );
    }
    return 'accepted';
  }

  /**
   * An escalation record: a pending one is held by its action name; a decision (same
   * escalationId) replaces it and inherits its action name. Older seqs per action name, and a
   * decided escalation going back to pending, are replays.
   */
  function ingestEscalation(side: Side, e: HeldEscalation, kind: FeedKind, tenant: string, agentId: string): IngestOutcome {
    const map = (side.escalations ??= new Map());
    let name = e.actionName;
    let held: HeldEscalation | undefined;
    if (name === null) {
      for (const h of map.values()) if (h.escalationId === e.escalationId) held = h;
      if (held === undefined) {
        m.droppedMalformed++;
        log.warn({ feed: kind, tenant, agentId, escalationId: e.escalationId }, 'dropped escalation decision without a known pending escalation');
        return 'malformed';
      }
      name = held.actionName!;
    } else held = map.get(name);
    if (held !== undefined) {
      if (held.escalationId === e.escalationId && held.status === e.status) {
        m.duplicates++;
        return 'duplicate';
      }
      if (e.seq < held.seq || (e.seq === held.seq && (e.status === 'pending' || held.status !== 'pending'))) {
        m.droppedStaleSeq++;
        return 'stale_seq';
      }
    }
    // A decision keeps the pending record's eventId: it names the request that was escalated.
    map.set(name, e.actionName === null ? Object.freeze({ ...e, actionName: name, eventId: held!.eventId }) : e);
    if (map.size > MAX_ESCALATIONS_PER_AGENT) {
      let oldest: string | null = null;
      let seq = Infinity;
      for (const [k, h] of map) {
        if (h.seq < seq) {
          seq = h.seq;
          oldest = k;
        }
      }
      if (oldest !== null) map.delete(oldest);
    }
    m.accepted++;
    return 'accepted';
  }

  function result(verdict: Verdict, side: Side | null, circuit: CircuitState | null, reasons: readonly Reason[], stale: boolean, rule: DecisionRule): Decision {
    const t = side === null ? null : side.trust;
    const s = side === null ? null : side.signal;
    const seq = t === null ? (s === null ? 0 : s.seq) : s === null || t.seq >= s.seq ? t.seq : s.seq;
    return { verdict, trust: t === null ? null : t.trust, band: t === null ? null : t.band, circuit, reasons, stale, rule, ruleId: null, seq, shadow: null };
  }

  /** The verdict for one side; `feedRule` is null when the feed is fresh. Mutates only the side's probe counter. */
  function evaluate(
    side: Side | null,
    sensitivity: Sensitivity,
    t0: number,
    feedRule: DecisionRule | null,
    actionName: string | undefined,
    ctx: CompiledRule | null,
  ): Decision {
    if (side === null) {
      return feedRule === null ? result(unknown, null, null, NO_REASONS, false, 'unknown_agent') : result(staleVerdict, null, null, NO_REASONS, true, feedRule);
    }
    const t = side.trust;
    const sig = effectiveSignal(side);
    const circuit = sig !== null ? sig.state : t !== null ? t.circuit : null;
    const circuitReasons = sig !== null ? sig.reasons : t !== null ? t.reasons : NO_REASONS;
    const feedStale = feedRule !== null;
    if (circuit === 'forced_open') return result('deny', side, circuit, circuitReasons, feedStale, 'circuit_forced_open');
    // An allowlisting (forced closed with an `until`) ends at `until`; the processor announces `closed` at the agent's next event.
    if (circuit === 'forced_closed' && (sig === null || sig.until === null || t0 < sig.until + clockToleranceMs))
      return result('allow', side, circuit, circuitReasons, feedStale, 'circuit_forced_closed');
    let budget = -1;
    if (circuit === 'open') {
      const until = sig !== null ? sig.until : null;
      if (until === null || t0 < until + clockToleranceMs) return result('deny', side, circuit, circuitReasons, feedStale, 'circuit_open');
      budget = fallbackProbeBudget;
    } else if (circuit === 'half_open') {
      budget = sig !== null && sig.probeBudget !== null ? sig.probeBudget : fallbackProbeBudget;
    }
    if (budget >= 0 && side.probesUsed >= budget) return result('deny', side, circuit, circuitReasons, feedStale, 'probes_exhausted');
    // A human decides escalated actions: pending → hold, approved → allow, denied → deny, until expiresAt.
    if (actionName !== undefined && side.escalations !== null) {
      const e = side.escalations.get(actionName);
      if (e !== undefined && t0 < e.expiresAt + clockToleranceMs) {
        if (e.status === 'pending') return result('hold', side, circuit, e.reasons, feedStale, 'escalation_pending');
        if (e.status === 'approved') return result('allow', side, circuit, e.reasons, feedStale, 'escalation_approved');
        return result('deny', side, circuit, e.reasons, feedStale, 'escalation_denied');
      }
    }
    let verdict: Verdict;
    let rule: DecisionRule;
    let stale = false;
    let reasons = t !== null ? t.reasons : circuitReasons;
    if (feedRule !== null) {
      verdict = staleVerdict;
      rule = feedRule;
      stale = true;
    } else if (t === null) {
      verdict = unknown;
      rule = 'unknown_agent';
    } else if (t0 > t.ts + t.ttlMs + clockToleranceMs) {
      verdict = staleVerdict;
      rule = 'stale_record';
      stale = true;
    } else {
      const row = bands[t.band];
      // An unrecognised sensitivity (not one of the four) is treated as the strictest.
      verdict = row[sensitivity] ?? row.critical;
      rule = 'band';
    }
    // A request the context policy refuses more strictly does not use a probe either.
    if (budget >= 0 && (verdict === 'allow' || verdict === 'challenge') && (ctx === null || ctx.severity <= SEVERITY[verdict])) {
      side.probesUsed++;
      rule = 'half_open_probe';
      reasons = circuitReasons;
    }
    return result(verdict, side, circuit, reasons, stale, rule);
  }

  function decide(query: DecisionQuery): Decision {
    const tenant = query.tenant;
    const byAgent = tenant === undefined || tenant === DEFAULT_TENANT ? defaultTenant : tenants.get(tenant);
    const entry = byAgent === undefined ? undefined : byAgent.get(query.agentId);
    const action = query.action;
    let sensitivity: Sensitivity = defaultSensitivity;
    if (action !== undefined) {
      if (action.sensitivity !== undefined) sensitivity = action.sensitivity;
      else if (action.name !== undefined) sensitivity = actions.get(action.name) ?? defaultSensitivity;
    }
    const t0 = now();
    const feedRule: DecisionRule | null = !ready ? 'not_ready' : t0 - lastFeedAt > feedTimeoutMs ? 'stale_feed' : null;
    const name = action === undefined ? undefined : action.name;
    const ctx =
      context === null || action === undefined
        ? null
        : context.evaluate(tenant === undefined ? DEFAULT_TENANT : tenant, query.agentId, action, query.context, t0);
    const d = evaluate(entry === undefined ? null : entry.enforce, sensitivity, t0, feedRule, name, ctx);
    applyContext(d, ctx);
    decisions[d.verdict]++;
    if (entry !== undefined && entry.shadow !== null) {
      const s = evaluate(entry.shadow, sensitivity, t0, feedRule, name, ctx);
      applyContext(s, ctx);
      d.shadow = s;
      shadowDecisions[s.verdict]++;
      if (s.verdict !== d.verdict) m.shadowDisagreements++;
    }
    return d;
  }

  const api: EnforcerCore = {
    ingest,
    feedAlive() {
      lastFeedAt = now();
    },
    markReady() {
      ready = true;
      lastFeedAt = now();
    },
    get isReady() {
      return ready;
    },
    decide,
    escalation(q) {
      const byAgent = tenants.get(q.tenant ?? DEFAULT_TENANT);
      const e = byAgent?.get(q.agentId)?.enforce?.escalations?.get(q.actionName);
      return e === undefined ? null : { escalationId: e.escalationId, status: e.status, expiresAt: e.expiresAt, eventId: e.eventId, seq: e.seq };
    },
    prometheus(options) {
      return enforcerPrometheus(api.metrics(), options);
    },
    metrics(): EnforcerMetrics {
      return {
        ...m,
        decisions: { ...decisions },
        shadowDecisions: { ...shadowDecisions },
        agents,
        ready,
        feedAgeMs: lastFeedAt === Number.NEGATIVE_INFINITY ? null : Math.max(0, now() - lastFeedAt),
      };
    },
    policy,
    setContextPolicy(p) {
      context = compiledContext(p);
    },
  };
  return api;
}
