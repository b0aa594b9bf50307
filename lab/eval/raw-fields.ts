/**
 * Baseline (b) of models/EVALUATION.md: an anomaly model on RAW per-event fields, with no
 * per-agent baseline at all — each event is judged only against the fleet. Same model family,
 * calibration, trust and breaker as trustline, so the comparison isolates what the per-agent
 * baselines add. Not used by the processor.
 */
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import type { Signals } from '../../src/core/features.ts';

/** Raw fields in vector order; every one is "higher = riskier" (risk 1) for the tail-sum model. */
export const RAW_FIELDS: readonly { name: string; risk: 0 | 1 }[] = [
  { name: 'log_bytes_out', risk: 1 },
  { name: 'log_bytes_in', risk: 1 },
  { name: 'log_latency', risk: 1 },
  { name: 'client_error', risk: 1 },
  { name: 'auth_failure', risk: 1 },
  { name: 'forbidden', risk: 1 },
  { name: 'transient_error', risk: 1 },
  { name: 'sensitivity', risk: 1 },
  { name: 'log_amount', risk: 1 },
  { name: 'weak_identity', risk: 1 },
  { name: 'log_token_age', risk: 1 },
  { name: 'scope_violation', risk: 1 },
  { name: 'privileged', risk: 1 },
  { name: 'write_method', risk: 1 },
  { name: 'numeric_id', risk: 1 },
];
export const RAW_NAMES: readonly string[] = RAW_FIELDS.map((f) => f.name);
export const RAW_COUNT = RAW_FIELDS.length;
/** Version of the raw vector recorded in the baseline model card. */
export const RAW_VERSION = 'raw-1';

const IDENTITY: Record<string, number> = { http_signature: 1, mtls: 0.85, oauth2: 0.65, api_key: 0.4, none: 0.1 };
const SENSITIVITY: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const PRIVILEGED =
  /admin|passw|credential|secret|payout|withdraw|bank|iban|role|permission|privilege|api[-_]?key|token|mfa|2fa|sudo|impersonat|security|owner|delete[-_]?account/i;
const NUMERIC_ID = /\/\d{1,15}(?:[/?#]|$)/;

/** Writes the raw vector of `ev` into `out` at `offset` and returns its per-event hard signals (ratios are the event's own 0/1). */
export function rawFields(ev: AgentRequestEvent, out: Float32Array, offset: number): Signals {
  const r = ev.request;
  const a = ev.action;
  const auth = ev.agent.auth;
  const s = r.status;
  const transient = s === 429 || s === 408 || s >= 500;
  const authFailure = s === 401 || (!auth.verified && auth.method !== 'none');
  const forbidden = s === 403;
  const scopeViolation = a?.requiredScope !== undefined && !(auth.scopes ?? []).includes(a.requiredScope);
  const level = a?.sensitivity !== undefined ? SENSITIVITY[a.sensitivity]! : 0;
  const privileged = level === 3 || PRIVILEGED.test(r.route) || (a?.name !== undefined && PRIVILEGED.test(a.name));
  const identity = auth.verified ? (IDENTITY[auth.method] ?? 0) : 0;
  out[offset + 0] = Math.log10(1 + (r.bytesOut ?? 0));
  out[offset + 1] = Math.log10(1 + (r.bytesIn ?? 0));
  out[offset + 2] = Math.log10(1 + (r.latencyMs ?? 0));
  out[offset + 3] = !authFailure && !forbidden && !transient && s >= 400 ? 1 : 0;
  out[offset + 4] = authFailure ? 1 : 0;
  out[offset + 5] = forbidden ? 1 : 0;
  out[offset + 6] = transient ? 1 : 0;
  out[offset + 7] = level;
  out[offset + 8] = Math.log10(1 + (a?.amount ?? 0));
  out[offset + 9] = 1 - identity;
  out[offset + 10] = auth.tokenAgeS !== undefined ? Math.log10(1 + auth.tokenAgeS) : 0;
  out[offset + 11] = scopeViolation ? 1 : 0;
  out[offset + 12] = privileged ? 1 : 0;
  out[offset + 13] = r.method === 'GET' || r.method === 'HEAD' || r.method === 'OPTIONS' ? 0 : 1;
  out[offset + 14] = r.path !== undefined && NUMERIC_ID.test(r.path) ? 1 : 0;
  return {
    scopeViolation,
    failedSignature: !auth.verified && (auth.method === 'http_signature' || auth.method === 'mtls'),
    authFailure,
    identity,
    privileged,
    authFailRatio: authFailure ? 1 : 0,
    scopeViolRatio: scopeViolation ? 1 : 0,
    forbidRatio: forbidden ? 1 : 0,
  };
}
