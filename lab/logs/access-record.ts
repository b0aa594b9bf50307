/**
 * Web-server access-log records and their conversion into v1 AgentRequestEvents. Pure: no
 * I/O, no clock.
 *
 * Mapping (docs/analysts.md, "import-log"):
 * - **agent.id**: an explicit client id when the log has one (nginx-json `client_id` /
 *   `agent_id`), else the client id inside an OAuth bearer JWT (`client_id`, `azp`, else
 *   `sub`), else the authenticated `remote_user`, else a hash of an API key header
 *   (`key_<sha256[:20]>`, the key itself is never copied), else `anon-<sha256(ip, user
 *   agent)[:16]>`: stable across runs and files, distinct per (IP, user agent).
 * - **agent.auth.method**, inferred conservatively — never a stronger identity than the log
 *   proves: an explicit valid `auth_method` field is taken as is; a bearer token that is a JWT
 *   with a client claim → `oauth2`; any other bearer token, an API key header, Basic
 *   credentials or a `remote_user` → `api_key`; nothing → `none`. mTLS and HTTP message
 *   signatures cannot be told from an access log unless the field says so.
 *   `verified` = a credential was presented and the response was not 401 (`false` for `none`).
 * - **request.route**: the path without its query, with numeric segments, UUIDs and long hex
 *   ids (≥ 16 hex digits) replaced by `{id}` (`/orders/123` → `/orders/{id}`).
 * - **request.path**: the target as logged, with the values of credential-like query
 *   parameters (`token`, `api_key`, `password`, `code`, …) replaced by `REDACTED`.
 * - **ts**: the log's timestamp as epoch ms (nginx `msec` keeps milliseconds; the common log
 *   format has whole seconds).
 */
import { createHash } from 'node:crypto';
import { AUTH_METHODS, MAX_TS, MIN_TS, type AgentRequestEvent, type AuthMethod } from '../../src/contract/schemas.ts';

/** One access-log line, parsed; optional fields are absent when the log does not have them. */
export type AccessRecord = {
  ts: number;
  ip?: string;
  remoteUser?: string;
  method: string;
  /** Request target as logged: path and query. */
  target: string;
  status: number;
  bytesOut?: number;
  bytesIn?: number;
  latencyMs?: number;
  userAgent?: string;
  /** Raw `Authorization` header value, when logged. */
  authorization?: string;
  /** Raw API key header value, when logged. */
  apiKey?: string;
  /** An explicit client/agent id field. */
  clientId?: string;
  /** An explicit auth method field. */
  authMethod?: string;
  requestId?: string;
};

/** Why a line could not become an event. */
export type RejectCode = 'malformed' | 'bad_timestamp' | 'bad_request_line' | 'bad_status' | 'invalid_event';

/** A parse failure: never thrown across the module boundary, always returned. */
export class LineRejected extends Error {
  constructor(
    readonly code: RejectCode,
    message: string,
  ) {
    super(message);
  }
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** `10/Oct/2000:13:55:36 -0700` (common log format, nginx `$time_local`) → epoch ms. */
export function parseClfTime(s: string): number {
  const m = /^(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?\s+([+-])(\d{2})(\d{2})$/.exec(s.trim());
  if (!m) throw new LineRejected('bad_timestamp', `unreadable timestamp "${s}"`);
  const month = MONTHS[m[2]!];
  if (month === undefined) throw new LineRejected('bad_timestamp', `unknown month in "${s}"`);
  const [day, year, hh, mm, ss] = [Number(m[1]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) throw new LineRejected('bad_timestamp', `impossible timestamp "${s}"`);
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const offsetMin = (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  const local = Date.UTC(year, month, day, hh, mm, ss, ms);
  // Reject rolled-over dates such as 31/Feb.
  if (new Date(local).getUTCDate() !== day) throw new LineRejected('bad_timestamp', `impossible date "${s}"`);
  return checkTs(local - offsetMin * 60_000, s);
}

/** ISO 8601 with a zone (nginx `$time_iso8601`) → epoch ms. */
export function parseIsoTime(s: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(s)) throw new LineRejected('bad_timestamp', `unreadable timestamp "${s}"`);
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new LineRejected('bad_timestamp', `impossible timestamp "${s}"`);
  return checkTs(t, s);
}

/** nginx `$msec` (`1750428000.123`, seconds) → epoch ms. */
export function parseMsec(s: string | number): number {
  const n = typeof s === 'number' ? s : /^\d+(\.\d+)?$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isFinite(n)) throw new LineRejected('bad_timestamp', `unreadable msec timestamp "${String(s)}"`);
  return checkTs(Math.round(n * 1000), String(s));
}

function checkTs(ts: number, text: string): number {
  if (!Number.isSafeInteger(ts) || ts < MIN_TS || ts > MAX_TS) throw new LineRejected('bad_timestamp', `timestamp "${text}" is outside 2000..2100`);
  return ts;
}

/**
 * `GET /path?q HTTP/1.1` → method and target; anything else (TLS bytes sent to a plain port,
 * `-`) is rejected. `asLogged` is the field as it appears in the log, for the message.
 */
export function parseRequestLine(s: string, asLogged = s): { method: string; target: string } {
  const m = /^([A-Za-z]{1,16}) (\S+)(?: HTTP\/\d(?:\.\d)?)?$/.exec(s);
  if (!m) throw new LineRejected('bad_request_line', `not an HTTP request line: "${asLogged.length > 60 ? `${asLogged.slice(0, 60)}…` : asLogged}"`);
  return { method: m[1]!.toUpperCase(), target: m[2]! };
}

const NUMERIC = /^\d+$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const LONG_HEX = /^(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}$/;

/** The route template of a request target: no query or fragment, ids replaced by `{id}`. */
export function templateRoute(target: string): string {
  let path = target;
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  // Absolute-form targets (proxies): keep only the path.
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*(\/.*)?$/.exec(path);
  if (abs) path = abs[1] ?? '/';
  if (path === '') path = '/';
  const route = path
    .split('/')
    .map((seg) => (NUMERIC.test(seg) || UUID.test(seg) || LONG_HEX.test(seg) ? '{id}' : seg))
    .join('/');
  return route.length > 512 ? route.slice(0, 511) + '…' : route;
}

/** Query parameters whose values are credentials or personal data: their values are not copied. */
const SECRET_PARAM =
  /^(access_token|id_token|refresh_token|token|api_?key|apikey|key|password|passwd|secret|client_secret|signature|sig|code|session|sessionid|auth|authorization)$/i;

/** The target with the values of credential-like query parameters replaced by `REDACTED`. */
export function redactTarget(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const hashAt = target.indexOf('#', q);
  const query = target.slice(q + 1, hashAt < 0 ? undefined : hashAt);
  const redacted = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=REDACTED` : pair;
    })
    .join('&');
  return `${target.slice(0, q)}?${redacted}`;
}

const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The JSON payload of a JWT, or null when the token is not one. Signatures are not (cannot be) checked. */
function jwtClaims(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' && v !== '-' ? v.trim() : undefined);

type Identity = { id: string; method: AuthMethod; credential: boolean; scopes?: string[]; tokenAgeS?: number };

/** Who the client is and how it authenticated, from what the log shows (see the module doc). */
export function identify(r: AccessRecord): Identity {
  const explicit = r.authMethod && (AUTH_METHODS as readonly string[]).includes(r.authMethod) ? (r.authMethod as AuthMethod) : undefined;
  let id: string | undefined = text(r.clientId);
  let method: AuthMethod = 'none';
  let scopes: string[] | undefined;
  let tokenAgeS: number | undefined;
  const auth = text(r.authorization);
  if (auth) {
    const [scheme, ...rest] = auth.split(/\s+/);
    const cred = rest.join(' ');
    if (/^bearer$/i.test(scheme ?? '') && cred) {
      const claims = jwtClaims(cred);
      const client = claims ? (text(claims.client_id) ?? text(claims.azp) ?? text(claims.sub)) : undefined;
      if (client) {
        method = 'oauth2';
        id ??= client;
        const scope = claims?.scope ?? claims?.scp;
        if (typeof scope === 'string') scopes = scope.split(/\s+/).filter(Boolean);
        else if (Array.isArray(scope)) scopes = scope.filter((s): s is string => typeof s === 'string' && s !== '');
        if (typeof claims?.iat === 'number' && r.ts / 1000 >= claims.iat) tokenAgeS = Math.round(r.ts / 1000 - claims.iat);
      } else {
        method = 'api_key';
        id ??= `key_${hash(cred).slice(0, 20)}`;
      }
    } else if (/^basic$/i.test(scheme ?? '') && cred) {
      method = 'api_key';
      let user: string | undefined;
      try {
        const decoded = Buffer.from(cred, 'base64').toString('utf8');
        user = text(decoded.slice(0, Math.max(0, decoded.indexOf(':'))));
      } catch {
        user = undefined;
      }
      id ??= user ?? `key_${hash(cred).slice(0, 20)}`;
    } else {
      method = 'api_key';
      id ??= `key_${hash(auth).slice(0, 20)}`;
    }
  }
  const apiKey = text(r.apiKey);
  if (method === 'none' && apiKey) {
    method = 'api_key';
    id ??= `key_${hash(apiKey).slice(0, 20)}`;
  }
  const user = text(r.remoteUser);
  if (user) {
    if (method === 'none') method = 'api_key';
    id ??= user;
  }
  if (explicit) method = explicit;
  id ??= `anon-${hash(`${r.ip ?? ''}\n${r.userAgent ?? ''}`).slice(0, 16)}`;
  const credential = method !== 'none';
  return {
    id: id.slice(0, 256),
    method,
    credential,
    ...(scopes?.length ? { scopes: scopes.slice(0, 64).map((s) => s.slice(0, 128)) } : {}),
    ...(tokenAgeS !== undefined ? { tokenAgeS } : {}),
  };
}

const IP = /^[0-9A-Fa-f:.]{2,45}$/;

/** The v1 event of one access record; `eventId` must be unique within the import. */
export function toEvent(r: AccessRecord, eventId: string, tenant?: string): AgentRequestEvent {
  if (!Number.isInteger(r.status) || r.status < 100 || r.status > 599) throw new LineRejected('bad_status', `status ${String(r.status)} is not an HTTP status`);
  const who = identify(r);
  const request: AgentRequestEvent['request'] = {
    method: r.method,
    route: templateRoute(r.target),
    path: redactTarget(r.target).slice(0, 2048),
    status: r.status,
  };
  if (r.latencyMs !== undefined && Number.isFinite(r.latencyMs) && r.latencyMs >= 0) request.latencyMs = Math.min(r.latencyMs, 86_400_000);
  if (r.bytesIn !== undefined && Number.isFinite(r.bytesIn) && r.bytesIn >= 0) request.bytesIn = r.bytesIn;
  if (r.bytesOut !== undefined && Number.isFinite(r.bytesOut) && r.bytesOut >= 0) request.bytesOut = r.bytesOut;
  if (r.ip && IP.test(r.ip)) request.ip = r.ip;
  const event: AgentRequestEvent = {
    v: 1,
    eventId: eventId.slice(0, 128),
    ts: r.ts,
    ...(tenant ? { tenant } : {}),
    agent: {
      id: who.id,
      auth: {
        method: who.method,
        verified: who.credential && r.status !== 401,
        ...(who.scopes ? { scopes: who.scopes } : {}),
        ...(who.tokenAgeS !== undefined ? { tokenAgeS: who.tokenAgeS } : {}),
      },
      ...(r.userAgent ? { userAgent: r.userAgent.slice(0, 512) } : {}),
    },
    request,
  };
  return event;
}
