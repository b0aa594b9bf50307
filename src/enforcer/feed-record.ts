/**
 * Authenticating and compacting the records of the `agent.trust` and `agent.circuit` feeds.
 *
 * Order of checks: JSON object → has `sig` (else `unsigned`) → signature verifies over the
 * canonical encoding of everything but `sig`, unknown fields included (else `bad_signature`)
 * → the fields an enforcer relies on are present and well-typed, `v` is 1 (else
 * `malformed`). Only then is a record held, reduced to those fields, with its reasons frozen
 * so that decisions can hand out the same array without copying.
 */
import { BANDS, CIRCUIT_STATES, MODES, type Band, type CircuitState, type Mode, type Reason } from '../contract/vocabulary.ts';
import type { Verifier } from '../outputs/sign.ts';
import type { FeedKind, IngestOutcome } from './types.ts';

/** The part of a TrustUpdate an enforcer keeps. */
export type HeldTrust = {
  readonly seq: number;
  readonly ts: number;
  readonly ttlMs: number;
  readonly trust: number;
  readonly band: Band;
  readonly circuit: CircuitState;
  readonly mode: Mode;
  readonly model: string;
  readonly reasons: readonly Reason[];
  /** Signature value, to tell an identical re-delivery from a replay. */
  readonly sigValue: string;
};

/** The part of a CircuitSignal an enforcer keeps. */
export type HeldSignal = {
  readonly seq: number;
  readonly state: CircuitState;
  readonly issuedAt: number;
  /** Event time when an open circuit turns half-open, `null` when absent. */
  readonly until: number | null;
  /** Requests allowed while half-open, `null` when absent. */
  readonly probeBudget: number | null;
  readonly offences: number;
  readonly mode: Mode;
  readonly reasons: readonly Reason[];
  readonly sigValue: string;
};

/** The part of an Escalation record an enforcer keeps. */
export type HeldEscalation = {
  readonly escalationId: string;
  readonly seq: number;
  /** The escalated event (pending records), or the control record that decided it. */
  readonly eventId: string;
  readonly status: 'pending' | 'approved' | 'denied';
  readonly expiresAt: number;
  /** Action name (a decided record does not repeat it: carried over from the pending one). */
  readonly actionName: string | null;
  readonly mode: Mode;
  readonly reasons: readonly Reason[];
  readonly sigValue: string;
};

const ESCALATION_STATUS_SET: ReadonlySet<unknown> = new Set(['pending', 'approved', 'denied']);

export type ParsedFeedRecord =
  | { outcome: 'accepted'; kind: 'escalation'; tenant: string; agentId: string; held: HeldEscalation }
  | { outcome: 'accepted'; kind: 'trust'; tenant: string; agentId: string; held: HeldTrust }
  | { outcome: 'accepted'; kind: 'circuit'; tenant: string; agentId: string; held: HeldSignal }
  | { outcome: Exclude<IngestOutcome, 'accepted' | 'duplicate' | 'stale_seq'>; kind: FeedKind; tenant?: string; agentId?: string; kid?: string };

/** The frozen empty reasons list shared by every decision without reasons. */
export const NO_REASONS: readonly Reason[] = Object.freeze([]);

const BAND_SET: ReadonlySet<unknown> = new Set(BANDS);
const CIRCUIT_SET: ReadonlySet<unknown> = new Set(CIRCUIT_STATES);
const MODE_SET: ReadonlySet<unknown> = new Set(MODES);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isUnit = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= 1;

function freezeReasons(v: unknown): readonly Reason[] | null {
  if (!Array.isArray(v)) return null;
  if (v.length === 0) return NO_REASONS;
  const out: Reason[] = [];
  for (const r of v) {
    if (!isObject(r) || !isStr(r.code, 64)) return null;
    const reason: Reason = { code: r.code };
    if (typeof r.feature === 'string') reason.feature = r.feature;
    if (typeof r.value === 'number') reason.value = r.value;
    if (typeof r.baseline === 'number') reason.baseline = r.baseline;
    out.push(Object.freeze(reason));
  }
  return Object.freeze(out);
}

function decode(value: Buffer | string | object): Record<string, unknown> | null {
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      const parsed: unknown = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
      return isObject(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }
  return isObject(value) ? (value as Record<string, unknown>) : null;
}

/**
 * Authenticate and compact one record of `kind`. A `null` value is a compaction tombstone:
 * it carries no signature and is never applied.
 */
export function parseFeedRecord(kind: FeedKind, value: Buffer | string | object | null, verifier: Verifier): ParsedFeedRecord {
  if (value === null) return { outcome: 'tombstone', kind };
  const r = decode(value);
  if (!r) return { outcome: 'malformed', kind };
  const who = { tenant: typeof r.tenant === 'string' ? r.tenant : undefined, agentId: typeof r.agentId === 'string' ? r.agentId : undefined };
  if (r.sig === undefined || r.sig === null) return { outcome: 'unsigned', kind, ...who };
  const sig = r.sig as { kid?: unknown; value?: unknown };
  const kid = isObject(sig) && typeof sig.kid === 'string' ? sig.kid : undefined;
  if (!verifier.verify(r)) return { outcome: 'bad_signature', kind, ...who, kid };
  // Signed by a key we trust: now check the fields we rely on.
  if (r.v !== 1 || !isStr(r.tenant, 64) || !isStr(r.agentId, 256) || !isInt(r.seq, 1) || !MODE_SET.has(r.mode))
    return { outcome: 'malformed', kind, ...who, kid };
  const reasons = freezeReasons(r.reasons);
  if (!reasons) return { outcome: 'malformed', kind, ...who, kid };
  const sigValue = (sig as { value: string }).value;
  if (kind === 'escalation') {
    if (!isStr(r.escalationId, 400) || !ESCALATION_STATUS_SET.has(r.status) || !isInt(r.expiresAt, 0) || !isObject(r.action))
      return { outcome: 'malformed', kind, ...who, kid };
    const name = (r.action as { name?: unknown }).name;
    const held: HeldEscalation = Object.freeze({
      escalationId: r.escalationId,
      seq: r.seq,
      eventId: typeof r.eventId === 'string' ? r.eventId : '',
      status: r.status as HeldEscalation['status'],
      expiresAt: r.expiresAt,
      actionName: typeof name === 'string' ? name : null,
      mode: r.mode as Mode,
      reasons,
      sigValue,
    });
    return { outcome: 'accepted', kind, tenant: r.tenant, agentId: r.agentId, held };
  }
  if (kind === 'trust') {
    if (!isInt(r.ts, 0) || !isInt(r.ttlMs, 0) || !isUnit(r.trust) || !BAND_SET.has(r.band) || !CIRCUIT_SET.has(r.circuit))
      return { outcome: 'malformed', kind, ...who, kid };
    const held: HeldTrust = Object.freeze({
      seq: r.seq,
      ts: r.ts,
      ttlMs: r.ttlMs,
      trust: r.trust,
      band: r.band as Band,
      circuit: r.circuit as CircuitState,
      mode: r.mode as Mode,
      model: typeof r.model === 'string' ? r.model : '',
      reasons,
      sigValue,
    });
    return { outcome: 'accepted', kind, tenant: r.tenant, agentId: r.agentId, held };
  }
  if (!CIRCUIT_SET.has(r.state) || !isInt(r.issuedAt, 0) || !isInt(r.offences, 0)) return { outcome: 'malformed', kind, ...who, kid };
  if (r.until !== undefined && typeof r.until !== 'number') return { outcome: 'malformed', kind, ...who, kid };
  if (r.probeBudget !== undefined && !isInt(r.probeBudget, 0)) return { outcome: 'malformed', kind, ...who, kid };
  const held: HeldSignal = Object.freeze({
    seq: r.seq,
    state: r.state as CircuitState,
    issuedAt: r.issuedAt,
    until: typeof r.until === 'number' ? r.until : null,
    probeBudget: typeof r.probeBudget === 'number' ? r.probeBudget : null,
    offences: r.offences,
    mode: r.mode as Mode,
    reasons,
    sigValue,
  });
  return { outcome: 'accepted', kind, tenant: r.tenant, agentId: r.agentId, held };
}
