/**
 * Access-log line parsers: one line of text in, an {@link AccessRecord} out, or a
 * {@link LineRejected} thrown with a code. Pure.
 *
 * - `combined`: the NCSA combined log format of Apache and nginx's default `combined` format,
 *   `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
 *   "$http_referer" "$http_user_agent"`; the common log format (without referer and user
 *   agent) and extra trailing fields are accepted. `\"`, `\\` and `\xHH` escapes are decoded.
 * - `nginx-json`: one JSON object per line, as written by an nginx `log_format … escape=json`.
 *   Field names are nginx's variable names; see {@link NGINX_JSON_FIELDS}.
 */
import { LineRejected, parseClfTime, parseIsoTime, parseMsec, parseRequestLine, type AccessRecord } from './access-record.ts';

/** Supported log formats. */
export const LOG_FORMATS = ['combined', 'nginx-json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const QUOTED = '"((?:[^"\\\\]|\\\\.)*)"';
// Extra fields (e.g. `$request_time`) are accepted only after the user agent, so a line cut short is rejected, not half-read.
const COMBINED = new RegExp(`^(\\S+) (\\S+) (\\S+) \\[([^\\]]+)\\] ${QUOTED} (\\d{3}) (\\d+|-)(?: ${QUOTED} ${QUOTED}(?:\\s.*)?)?$`);

/** Decodes the escapes Apache (`\"`, `\\`, `\xhh`) and nginx (`\xHH`) write into quoted fields. */
function unescapeField(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      const n = s[i + 1]!;
      if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
        bytes.push(parseInt(s.slice(i + 2, i + 4), 16));
        i += 3;
        continue;
      }
      if (n === '"' || n === '\\') {
        bytes.push(n.charCodeAt(0));
        i++;
        continue;
      }
    }
    for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

const dash = (s: string | undefined): string | undefined => (s === undefined || s === '-' || s === '' ? undefined : s);

/** One line of the combined (or common) log format. */
export function parseCombined(line: string): AccessRecord {
  const m = COMBINED.exec(line);
  if (!m) throw new LineRejected('malformed', 'not in the combined log format');
  const ts = parseClfTime(m[4]!);
  const { method, target } = parseRequestLine(unescapeField(m[5]!), m[5]!);
  const record: AccessRecord = { ts, method, target, status: Number(m[6]) };
  const ip = dash(m[1]);
  if (ip) record.ip = ip;
  const user = dash(m[3]);
  if (user) record.remoteUser = unescapeField(user);
  if (m[7] !== '-') record.bytesOut = Number(m[7]);
  const ua = dash(m[9] === undefined ? undefined : unescapeField(m[9]));
  if (ua) record.userAgent = ua;
  return record;
}

/**
 * Field names read from nginx-json lines, in order of preference (the first present one wins).
 * Values may be strings (nginx `escape=json` writes every variable as a string) or numbers;
 * `""` and `"-"` count as absent.
 */
export const NGINX_JSON_FIELDS = {
  time: ['msec', 'time_iso8601', 'time_local', '@timestamp', 'timestamp'],
  ip: ['remote_addr', 'client_ip'],
  remoteUser: ['remote_user'],
  request: ['request'],
  method: ['request_method', 'method'],
  target: ['request_uri', 'uri'],
  status: ['status'],
  bytesOut: ['body_bytes_sent', 'bytes_sent'],
  bytesIn: ['request_length'],
  latencySeconds: ['request_time'],
  userAgent: ['http_user_agent', 'user_agent'],
  authorization: ['http_authorization'],
  apiKey: ['http_x_api_key'],
  clientId: ['client_id', 'agent_id'],
  authMethod: ['auth_method'],
  requestId: ['request_id'],
} as const;

function pick(doc: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = doc[n];
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'string' && v !== '' && v !== '-') return v;
  }
  return undefined;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+(\.\d+)?$/.test(s.trim())) return undefined;
  return Number(s);
}

/** One line of an nginx JSON access log. */
export function parseNginxJson(line: string): AccessRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    throw new LineRejected('malformed', 'not a JSON object');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new LineRejected('malformed', 'not a JSON object');
  const d = doc as Record<string, unknown>;
  const F = NGINX_JSON_FIELDS;
  let ts: number | undefined;
  for (const name of F.time) {
    const v = pick(d, [name]);
    if (v === undefined) continue;
    ts = name === 'msec' ? parseMsec(v) : name === 'time_local' ? parseClfTime(v) : parseIsoTime(v);
    break;
  }
  if (ts === undefined) throw new LineRejected('bad_timestamp', `no time field (${F.time.join(', ')})`);
  let method: string;
  let target: string;
  const reqLine = pick(d, F.request);
  const m = pick(d, F.method);
  const t = pick(d, F.target);
  if (m && t) {
    if (!/^[A-Za-z]{1,16}$/.test(m) || /\s/.test(t)) throw new LineRejected('bad_request_line', `not an HTTP method and target: "${m} ${t}"`);
    method = m.toUpperCase();
    target = t;
  } else if (reqLine) ({ method, target } = parseRequestLine(reqLine));
  else throw new LineRejected('bad_request_line', 'no request, or request_method + request_uri, field');
  const status = num(pick(d, F.status));
  if (status === undefined || !Number.isInteger(status)) throw new LineRejected('bad_status', 'no numeric status field');
  const record: AccessRecord = { ts, method, target, status };
  const set = <K extends keyof AccessRecord>(k: K, v: AccessRecord[K] | undefined): void => {
    if (v !== undefined) record[k] = v;
  };
  set('ip', pick(d, F.ip));
  set('remoteUser', pick(d, F.remoteUser));
  set('bytesOut', num(pick(d, F.bytesOut)));
  set('bytesIn', num(pick(d, F.bytesIn)));
  const rt = num(pick(d, F.latencySeconds));
  set('latencyMs', rt === undefined ? undefined : Math.round(rt * 1000));
  set('userAgent', pick(d, F.userAgent));
  set('authorization', pick(d, F.authorization));
  set('apiKey', pick(d, F.apiKey));
  set('clientId', pick(d, F.clientId));
  set('authMethod', pick(d, F.authMethod));
  set('requestId', pick(d, F.requestId));
  return record;
}

/** The parser of a format. */
export function parserFor(format: LogFormat): (line: string) => AccessRecord {
  return format === 'combined' ? parseCombined : parseNginxJson;
}
