import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { decodeEvent, type DecodeResult } from '../../src/contract/decode.ts';
import { DLQ_ERROR_CODES, MAX_EVENT_BYTES, type AgentRequestEvent, type DecodeErrorCode } from '../../src/contract/schemas.ts';
import { SCHEMAS_DIR } from '../../scripts/gen-schemas.ts';
import { rng as prng } from '../support/prng.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Doc = { [k: string]: Json };

const MINIMAL: AgentRequestEvent = {
  v: 1,
  eventId: 'evt-0001',
  ts: 1_700_000_000_000,
  agent: { id: 'agent-1', auth: { method: 'oauth2', verified: true } },
  request: { method: 'GET', route: '/orders/{id}', status: 200 },
};

const FULL: AgentRequestEvent = {
  v: 1,
  eventId: 'evt-0002',
  ts: 1_700_000_000_123,
  tenant: 'acme-prod',
  agent: {
    id: 'spiffe://acme/agents/shopper-7',
    purpose: 'shopping',
    auth: { method: 'http_signature', verified: true, scopes: ['orders:read', 'payments:create'], tokenAgeS: 42.5 },
    onBehalfOf: 'user-1234',
    userAgent: 'ShopperBot/2.1 (+https://example.com/bot)',
  },
  request: {
    method: 'POST',
    route: '/payments',
    path: '/payments?cart=991',
    status: 201,
    latencyMs: 87.3,
    bytesIn: 512,
    bytesOut: 2048,
    ip: '2001:db8::1',
    asn: 64_496,
    country: 'DE',
  },
  action: { name: 'payment.create', sensitivity: 'high', amount: 129.99, currency: 'EUR', requiredScope: 'payments:create' },
};

const clone = <T>(x: T): T => structuredClone(x);

/** The minimal valid event with one change applied, as JSON text. */
function mut(change: (d: Doc) => void, base: AgentRequestEvent = MINIMAL): string {
  const d = clone(base) as unknown as Doc;
  change(d);
  return JSON.stringify(d);
}
const obj = (d: Doc, key: string): Doc => d[key] as Doc;
const agent = (d: Doc) => obj(d, 'agent');
const auth = (d: Doc) => obj(agent(d), 'auth');
const request = (d: Doc) => obj(d, 'request');

/** The minimal event as bytes with `raw` spliced in as the content of the eventId string. */
function withRawEventIdBytes(raw: number[]): Buffer {
  const [before, after] = JSON.stringify(MINIMAL).split('"evt-0001"') as [string, string];
  return Buffer.concat([Buffer.from(`${before}"`), Buffer.from(raw), Buffer.from(`"${after}`)]);
}

/** `{"x":{"x":…}}` nested `levels` deep. */
function nested(levels: number, leaf: Json = 1): Json {
  let cur: Json = leaf;
  for (let i = 0; i < levels; i++) cur = { x: cur };
  return cur;
}

const MINIMAL_JSON = JSON.stringify(MINIMAL);
const big = (bytes: number) => mut((d) => (d.padding = 'p'.repeat(bytes - MINIMAL_JSON.length - ',"padding":""'.length)));

type Row = [name: string, input: string | Uint8Array | null | undefined, code: DecodeErrorCode, path: string];

const MALFORMED: Row[] = [
  // --- not JSON
  ['empty string', '', 'invalid_json', ''],
  ['empty buffer', Buffer.alloc(0), 'invalid_json', ''],
  ['whitespace only', ' \n\t ', 'invalid_json', ''],
  ['null Kafka value (tombstone)', null, 'invalid_json', ''],
  ['undefined value', undefined, 'invalid_json', ''],
  ['truncated document', MINIMAL_JSON.slice(0, -1), 'invalid_json', ''],
  ['truncated in the middle of a string', MINIMAL_JSON.slice(0, 20), 'invalid_json', ''],
  ['trailing garbage', `${MINIMAL_JSON}x`, 'invalid_json', ''],
  ['two concatenated documents', `${MINIMAL_JSON}${MINIMAL_JSON}`, 'invalid_json', ''],
  ['single-quoted strings', MINIMAL_JSON.replace(/"/g, "'"), 'invalid_json', ''],
  ['unquoted keys', MINIMAL_JSON.replace('"eventId"', 'eventId'), 'invalid_json', ''],
  ['NaN literal', MINIMAL_JSON.replace('1700000000000', 'NaN'), 'invalid_json', ''],
  ['Infinity literal', MINIMAL_JSON.replace('1700000000000', 'Infinity'), 'invalid_json', ''],
  ['-Infinity literal', MINIMAL_JSON.replace('"status":200', '"status":-Infinity'), 'invalid_json', ''],
  ['trailing comma', MINIMAL_JSON.replace(/}$/, ',}'), 'invalid_json', ''],
  ['comment', `/* hi */${MINIMAL_JSON}`, 'invalid_json', ''],
  ['hex number', MINIMAL_JSON.replace('"status":200', '"status":0xC8'), 'invalid_json', ''],
  ['raw newline inside a string', MINIMAL_JSON.replace('evt-0001', 'evt\n0001'), 'invalid_json', ''],
  ['bad escape', MINIMAL_JSON.replace('evt-0001', 'evt\\x01'), 'invalid_json', ''],

  // --- invalid UTF-8
  ['overlong encoding of "/" (C0 AF)', withRawEventIdBytes([0xc0, 0xaf]), 'invalid_utf8', ''],
  ['lone continuation byte (80)', withRawEventIdBytes([0x80]), 'invalid_utf8', ''],
  ['truncated multibyte sequence (E2 82)', withRawEventIdBytes([0xe2, 0x82]), 'invalid_utf8', ''],
  ['byte FF', withRawEventIdBytes([0xff]), 'invalid_utf8', ''],
  ['UTF-8-encoded surrogate (ED A0 80)', withRawEventIdBytes([0xed, 0xa0, 0x80]), 'invalid_utf8', ''],
  ['code point above U+10FFFF (F4 90 80 80)', withRawEventIdBytes([0xf4, 0x90, 0x80, 0x80]), 'invalid_utf8', ''],
  ['truncated 4-byte sequence at end of input', Buffer.concat([Buffer.from(MINIMAL_JSON), Buffer.from([0xf0, 0x9f, 0x98])]), 'invalid_utf8', ''],
  ['UTF-16LE encoded JSON', Buffer.from(MINIMAL_JSON, 'utf16le'), 'invalid_json', ''],
  ['escaped lone high surrogate in agent.id', mut((d) => (agent(d).id = 'agent-\ud800')), 'invalid_utf8', '/agent/id'],
  ['escaped lone low surrogate in eventId', MINIMAL_JSON.replace('evt-0001', 'evt-\\udc00'), 'invalid_utf8', '/eventId'],
  ['lone surrogate in an unknown field key', mut((d) => (d['k\ud800'] = 1)), 'invalid_utf8', '/k\ud800'],

  // --- not an object
  ['top-level array', '[]', 'not_an_object', ''],
  ['top-level array holding a valid event', `[${MINIMAL_JSON}]`, 'not_an_object', ''],
  ['top-level string', '"hello"', 'not_an_object', ''],
  ['top-level number', '42', 'not_an_object', ''],
  ['top-level null', 'null', 'not_an_object', ''],
  ['top-level boolean', 'true', 'not_an_object', ''],

  // --- size and structure
  ['one byte over 64 KiB (string)', big(MAX_EVENT_BYTES + 1), 'too_large', ''],
  ['one byte over 64 KiB (bytes)', Buffer.from(big(MAX_EVENT_BYTES + 1)), 'too_large', ''],
  ['1 MiB of garbage', Buffer.alloc(1024 * 1024, 0xff), 'too_large', ''],
  ['40 levels of objects inside an unknown field', mut((d) => (d.extra = nested(40))), 'too_deep', `/extra${'/x'.repeat(15)}`],
  [
    '40 levels of arrays inside an unknown field',
    `${MINIMAL_JSON.slice(0, -1)},"extra":${'['.repeat(40)}${']'.repeat(40)}}`,
    'too_deep',
    `/extra${'/0'.repeat(15)}`,
  ],
  ['17 levels of objects (limit is 16)', mut((d) => (d.extra = nested(16))), 'too_deep', `/extra${'/x'.repeat(15)}`],
  ['__proto__ at top level', MINIMAL_JSON.replace('{', '{"__proto__":{"polluted":true},'), 'forbidden_key', '/__proto__'],
  ['constructor at top level', MINIMAL_JSON.replace('{', '{"constructor":{"prototype":1},'), 'forbidden_key', '/constructor'],
  ['prototype at top level', mut((d) => (d.prototype = 1)), 'forbidden_key', '/prototype'],
  ['__proto__ nested in agent', MINIMAL_JSON.replace('"agent":{', '"agent":{"__proto__":{},'), 'forbidden_key', '/agent/__proto__'],
  ['constructor nested in an array of an unknown field', mut((d) => (d.extra = [{ constructor: 1 }])), 'forbidden_key', '/extra/0/constructor'],
  ['prototype nested in request', mut((d) => (request(d).prototype = 'x')), 'forbidden_key', '/request/prototype'],
  ['__proto__ spelled with a JSON escape', MINIMAL_JSON.replace('{', '{"__proto\\u005f_":1,'), 'forbidden_key', '/__proto__'],
  ['1e400 as ts', MINIMAL_JSON.replace('1700000000000', '1e400'), 'non_finite_number', '/ts'],
  ['-1e400 in an unknown field', MINIMAL_JSON.replace(/}$/, ',"extra":-1e400}'), 'non_finite_number', '/extra'],
  ['1e400 as request.bytesOut', MINIMAL_JSON.replace('"status":200', '"status":200,"bytesOut":1e400'), 'non_finite_number', '/request/bytesOut'],

  // --- version
  ['v 2', mut((d) => (d.v = 2)), 'unsupported_version', '/v'],
  ['v "1" (string)', mut((d) => (d.v = '1')), 'unsupported_version', '/v'],
  ['v 0', mut((d) => (d.v = 0)), 'unsupported_version', '/v'],
  ['v 1.5', mut((d) => (d.v = 1.5)), 'unsupported_version', '/v'],
  ['v null', mut((d) => (d.v = null)), 'unsupported_version', '/v'],
  ['v missing', mut((d) => delete d.v), 'missing_field', '/v'],

  // --- missing required fields
  ['missing eventId', mut((d) => delete d.eventId), 'missing_field', '/eventId'],
  ['missing ts', mut((d) => delete d.ts), 'missing_field', '/ts'],
  ['missing agent', mut((d) => delete d.agent), 'missing_field', '/agent'],
  ['missing request', mut((d) => delete d.request), 'missing_field', '/request'],
  ['missing agent.id', mut((d) => delete agent(d).id), 'missing_field', '/agent/id'],
  ['missing agent.auth', mut((d) => delete agent(d).auth), 'missing_field', '/agent/auth'],
  ['missing agent.auth.method', mut((d) => delete auth(d).method), 'missing_field', '/agent/auth/method'],
  ['missing agent.auth.verified', mut((d) => delete auth(d).verified), 'missing_field', '/agent/auth/verified'],
  ['missing request.method', mut((d) => delete request(d).method), 'missing_field', '/request/method'],
  ['missing request.route', mut((d) => delete request(d).route), 'missing_field', '/request/route'],
  ['missing request.status', mut((d) => delete request(d).status), 'missing_field', '/request/status'],

  // --- wrong types of required fields
  ['eventId number', mut((d) => (d.eventId = 123)), 'wrong_type', '/eventId'],
  ['ts string', mut((d) => (d.ts = '1700000000000')), 'wrong_type', '/ts'],
  ['ts ISO date string', mut((d) => (d.ts = '2023-11-14T22:13:20Z')), 'wrong_type', '/ts'],
  ['agent string', mut((d) => (d.agent = 'agent-1')), 'wrong_type', '/agent'],
  ['agent array', mut((d) => (d.agent = [])), 'wrong_type', '/agent'],
  ['request null', mut((d) => (d.request = null)), 'wrong_type', '/request'],
  ['agent.id number', mut((d) => (agent(d).id = 5)), 'wrong_type', '/agent/id'],
  ['agent.auth boolean', mut((d) => (agent(d).auth = true)), 'wrong_type', '/agent/auth'],
  ['agent.auth.method number', mut((d) => (auth(d).method = 1)), 'wrong_type', '/agent/auth/method'],
  ['agent.auth.verified string', mut((d) => (auth(d).verified = 'true')), 'wrong_type', '/agent/auth/verified'],
  ['agent.auth.verified 1', mut((d) => (auth(d).verified = 1)), 'wrong_type', '/agent/auth/verified'],
  ['request.method number', mut((d) => (request(d).method = 7)), 'wrong_type', '/request/method'],
  ['request.route object', mut((d) => (request(d).route = {})), 'wrong_type', '/request/route'],
  ['request.status string', mut((d) => (request(d).status = '200')), 'wrong_type', '/request/status'],
  ['action not an object', mut((d) => (d.action = 'payment.create')), 'wrong_type', '/action'],
  ['tenant number', mut((d) => (d.tenant = 7)), 'wrong_type', '/tenant'],

  // --- numeric ranges
  ['negative ts', mut((d) => (d.ts = -1)), 'out_of_range', '/ts'],
  ['ts 0', mut((d) => (d.ts = 0)), 'out_of_range', '/ts'],
  ['ts in seconds, not ms', mut((d) => (d.ts = 1_700_000_000)), 'out_of_range', '/ts'],
  ['ts just before 2000-01-01', mut((d) => (d.ts = 946_684_799_999)), 'out_of_range', '/ts'],
  ['absurd ts (year ~33658)', mut((d) => (d.ts = 1e15)), 'out_of_range', '/ts'],
  ['ts 1e300', mut((d) => (d.ts = 1e300)), 'out_of_range', '/ts'],
  ['non-integer ts', mut((d) => (d.ts = 1_700_000_000_000.5)), 'wrong_type', '/ts'],
  ['status 99', mut((d) => (request(d).status = 99)), 'out_of_range', '/request/status'],
  ['status 600', mut((d) => (request(d).status = 600)), 'out_of_range', '/request/status'],
  ['status 200.5', mut((d) => (request(d).status = 200.5)), 'wrong_type', '/request/status'],
  ['negative action.amount', mut((d) => (d.action = { amount: -0.01 })), 'out_of_range', '/action/amount'],
  ['negative request.bytesOut', mut((d) => (request(d).bytesOut = -1)), 'out_of_range', '/request/bytesOut'],
  ['negative agent.auth.tokenAgeS', mut((d) => (auth(d).tokenAgeS = -5)), 'out_of_range', '/agent/auth/tokenAgeS'],
  ['request.asn above 2^32-1', mut((d) => (request(d).asn = 4_294_967_296)), 'out_of_range', '/request/asn'],

  // --- strings
  ['empty eventId', mut((d) => (d.eventId = '')), 'empty_string', '/eventId'],
  ['empty agent.id', mut((d) => (agent(d).id = '')), 'empty_string', '/agent/id'],
  ['empty request.route', mut((d) => (request(d).route = '')), 'empty_string', '/request/route'],
  ['empty tenant', mut((d) => (d.tenant = '')), 'empty_string', '/tenant'],
  ['empty scope', mut((d) => (auth(d).scopes = ['orders:read', ''])), 'empty_string', '/agent/auth/scopes/1'],
  ['eventId of 129 chars', mut((d) => (d.eventId = 'e'.repeat(129))), 'too_long', '/eventId'],
  ['agent.id of 257 chars', mut((d) => (agent(d).id = 'a'.repeat(257))), 'too_long', '/agent/id'],
  ['request.route of 513 chars', mut((d) => (request(d).route = `/${'r'.repeat(512)}`)), 'too_long', '/request/route'],
  ['tenant with a space', mut((d) => (d.tenant = 'acme prod')), 'bad_format', '/tenant'],
  ['request.method with a space', mut((d) => (request(d).method = 'GET /')), 'bad_format', '/request/method'],
  ['request.ip of one char', mut((d) => (request(d).ip = '1')), 'bad_format', '/request/ip'],
  ['request.ip hostname', mut((d) => (request(d).ip = 'example.com')), 'bad_format', '/request/ip'],

  // --- enums and codes
  ['auth method "password"', mut((d) => (auth(d).method = 'password')), 'bad_enum', '/agent/auth/method'],
  ['auth method in upper case', mut((d) => (auth(d).method = 'OAUTH2')), 'bad_enum', '/agent/auth/method'],
  ['auth method empty', mut((d) => (auth(d).method = '')), 'bad_enum', '/agent/auth/method'],
  ['sensitivity "extreme"', mut((d) => (d.action = { sensitivity: 'extreme' })), 'bad_enum', '/action/sensitivity'],
  ['country "usa"', mut((d) => (request(d).country = 'usa')), 'bad_format', '/request/country'],
  ['country "us"', mut((d) => (request(d).country = 'us')), 'bad_format', '/request/country'],
  ['country "U1"', mut((d) => (request(d).country = 'U1')), 'bad_format', '/request/country'],
  ['country "USA"', mut((d) => (request(d).country = 'USA')), 'bad_format', '/request/country'],
  ['currency "usd"', mut((d) => (d.action = { amount: 1, currency: 'usd' })), 'bad_format', '/action/currency'],
  ['currency "EURO"', mut((d) => (d.action = { amount: 1, currency: 'EURO' })), 'bad_format', '/action/currency'],
  ['currency "$"', mut((d) => (d.action = { amount: 1, currency: '$' })), 'bad_format', '/action/currency'],

  // --- scopes
  ['scopes a string', mut((d) => (auth(d).scopes = 'orders:read')), 'wrong_type', '/agent/auth/scopes'],
  ['scopes an object', mut((d) => (auth(d).scopes = { 0: 'orders:read' })), 'wrong_type', '/agent/auth/scopes'],
  ['scope a number', mut((d) => (auth(d).scopes = ['orders:read', 7])), 'wrong_type', '/agent/auth/scopes/1'],
  ['65 scopes (limit 64)', mut((d) => (auth(d).scopes = Array.from({ length: 65 }, (_, i) => `s${i}`))), 'too_long', '/agent/auth/scopes'],
];

describe('decodeEvent: malformed input', () => {
  it(`has at least 40 malformed cases (${MALFORMED.length})`, () => {
    expect(MALFORMED.length).toBeGreaterThanOrEqual(40);
    expect(new Set(MALFORMED.map((r) => r[0])).size).toBe(MALFORMED.length);
  });

  it.each(MALFORMED.map(([name, input, code, path]) => ({ name, input, code, path })))('$name → $code $path', ({ input, code, path }) => {
    const res = decodeEvent(input);
    expect(res).toMatchObject({ ok: false, code, path });
    if (!res.ok) expect(res.message.length).toBeGreaterThan(0);
  });

  it('every DLQ error code is exercised by at least one case', () => {
    const seen = new Set(MALFORMED.map((r) => r[2]));
    expect([...DLQ_ERROR_CODES].filter((c) => !seen.has(c))).toEqual([]);
  });
});

const publishedEventSchema = new Ajv2020({ strict: true }).compile(
  JSON.parse(readFileSync(join(SCHEMAS_DIR, 'agent-request-event.schema.json'), 'utf8')) as object,
);

function expectAccepted(res: DecodeResult, expected: unknown): void {
  expect(res).toEqual({ ok: true, event: expected });
  if (res.ok) expect(publishedEventSchema(res.event), JSON.stringify(publishedEventSchema.errors)).toBe(true);
}

describe('decodeEvent: valid input', () => {
  it('accepts the minimal event', () => {
    expectAccepted(decodeEvent(MINIMAL_JSON), MINIMAL);
  });

  it('accepts an event with every optional field', () => {
    expectAccepted(decodeEvent(JSON.stringify(FULL)), FULL);
  });

  it('accepts unknown extra fields at every level (they are ignored, not rejected)', () => {
    const withExtras = clone(FULL) as unknown as Doc;
    withExtras.gatewayVersion = '3.2.1';
    withExtras.trace = { traceId: 'abc', spans: [1, 2, { deep: null }] };
    agent(withExtras).labels = ['a', 'b'];
    auth(withExtras).issuer = 'https://idp.example';
    request(withExtras).headers = { 'x-request-id': 'r1' };
    obj(withExtras, 'action').risk = 0.3;
    const res = decodeEvent(JSON.stringify(withExtras));
    expect(res.ok).toBe(true);
    if (res.ok) expect(res.event).toMatchObject(FULL);
  });

  it('accepts boundary values', () => {
    const boundary = mut((d) => {
      d.eventId = 'e'.repeat(128);
      d.ts = 946_684_800_000;
      agent(d).id = 'a'.repeat(256);
      auth(d).scopes = Array.from({ length: 64 }, (_, i) => `s${i}`);
      request(d).status = 599;
      request(d).bytesOut = 0;
      d.action = { amount: 0 };
    });
    expect(decodeEvent(boundary).ok).toBe(true);
    expect(decodeEvent(mut((d) => ((d.ts = 4_102_444_800_000), (request(d).status = 100)))).ok).toBe(true);
  });

  it('accepts exactly 64 KiB, as string and as bytes', () => {
    const text = big(MAX_EVENT_BYTES);
    expect(Buffer.byteLength(text)).toBe(MAX_EVENT_BYTES);
    expect(decodeEvent(text).ok).toBe(true);
    expect(decodeEvent(Buffer.from(text)).ok).toBe(true);
  });

  it('accepts non-ASCII text (multi-byte UTF-8, astral characters) and counts length in characters', () => {
    const text = mut((d) => {
      agent(d).id = 'агент-🤖'.repeat(32); // 224 code points, 832 bytes
      d.eventId = '😀'.repeat(128);
    });
    expect(decodeEvent(Buffer.from(text)).ok).toBe(true);
  });

  it('accepts 16 levels of nesting inside an unknown field', () => {
    expect(decodeEvent(mut((d) => (d.extra = nested(15)))).ok).toBe(true);
  });

  it('gives the same result for a string and for its UTF-8 bytes (Buffer and plain Uint8Array)', () => {
    for (const text of [MINIMAL_JSON, JSON.stringify(FULL), mut((d) => (d.v = 2)), mut((d) => delete agent(d).id), '[]', '{']) {
      const fromString = decodeEvent(text);
      expect(decodeEvent(Buffer.from(text, 'utf8'))).toEqual(fromString);
      expect(decodeEvent(new TextEncoder().encode(text))).toEqual(fromString);
    }
  });

  it('decodes a Buffer that is a slice of a larger pooled buffer', () => {
    const pool = Buffer.from(`xxxx${MINIMAL_JSON}yyyy`);
    expectAccepted(decodeEvent(pool.subarray(4, 4 + MINIMAL_JSON.length)), MINIMAL);
  });
});

const CODES = new Set<string>(DLQ_ERROR_CODES);

function expectWellFormed(res: DecodeResult): void {
  if (res.ok) {
    expect(publishedEventSchema(res.event), JSON.stringify(publishedEventSchema.errors)).toBe(true);
    return;
  }
  expect(CODES.has(res.code), res.code).toBe(true);
  expect(typeof res.message).toBe('string');
  expect(res.path === '' || res.path.startsWith('/'), res.path).toBe(true);
}

function decodeNoThrow(input: Uint8Array | string): DecodeResult {
  let res: DecodeResult | undefined;
  expect(() => {
    res = decodeEvent(input);
  }).not.toThrow();
  return res!;
}

describe('decodeEvent: never throws (seeded property checks)', () => {
  it('2,000 random byte strings', () => {
    const rnd = prng(0x7275_7374);
    const alphabet = Buffer.from('{}[]":,0123456789.eE+-tfnul\\ \n"vtsagentidrequest\u00ff');
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rnd() * 256);
      const bytes = Buffer.alloc(len);
      const jsonish = rnd() < 0.5;
      for (let j = 0; j < len; j++) bytes[j] = jsonish ? alphabet[Math.floor(rnd() * alphabet.length)]! : Math.floor(rnd() * 256);
      expectWellFormed(decodeNoThrow(bytes));
    }
  });

  const RANDOM_VALUES: (() => Json)[] = [
    () => null,
    () => true,
    () => -1,
    () => 0,
    () => 1.5,
    () => 1e308,
    () => '',
    () => 'x'.repeat(300),
    () => '__proto__',
    () => [],
    () => ({}),
    () => ({ __proto__: 1 }) as unknown as Json,
    () => nested(20),
    () => 'OAUTH2',
    () => 200,
    () => 1_700_000_000_000,
  ];

  function paths(v: Json, prefix: string[] = []): string[][] {
    if (v === null || typeof v !== 'object') return [prefix];
    const keys = Array.isArray(v) ? v.map((_, i) => String(i)) : Object.keys(v);
    return [prefix, ...keys.flatMap((k) => paths((v as Record<string, Json>)[k]!, [...prefix, k]))];
  }

  function structuralMutation(rnd: () => number): string {
    const d = clone(rnd() < 0.5 ? MINIMAL : FULL) as unknown as Json;
    const all = paths(d).filter((p) => p.length > 0);
    const target = all[Math.floor(rnd() * all.length)]!;
    let parent = d as Record<string, Json>;
    for (const k of target.slice(0, -1)) parent = parent[k] as Record<string, Json>;
    const last = target[target.length - 1]!;
    const op = rnd();
    if (op < 0.3) delete parent[last];
    else if (op < 0.8) parent[last] = RANDOM_VALUES[Math.floor(rnd() * RANDOM_VALUES.length)]!();
    else Object.defineProperty(parent, rnd() < 0.5 ? '__proto__' : 'constructor', { value: 1, enumerable: true });
    return JSON.stringify(d);
  }

  function byteMutation(rnd: () => number): Buffer {
    const bytes = Buffer.from(JSON.stringify(rnd() < 0.5 ? MINIMAL : FULL));
    const edits = 1 + Math.floor(rnd() * 4);
    let out = bytes;
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rnd() * out.length);
      const op = rnd();
      const b = Math.floor(rnd() * 256);
      if (op < 0.4) out[at] = b;
      else if (op < 0.7) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
      else out = Buffer.concat([out.subarray(0, at), Buffer.from([b]), out.subarray(at)]);
    }
    return out;
  }

  it('2,000 random structural mutations of valid events', () => {
    const rnd = prng(42);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const res = decodeNoThrow(structuralMutation(rnd));
      expectWellFormed(res);
      seen.add(res.ok ? 'ok' : res.code);
    }
    // The mutations reach deep into the decoder, not just its first check.
    expect(seen.size).toBeGreaterThanOrEqual(8);
  });

  it('2,000 random byte-level mutations of valid events', () => {
    const rnd = prng(1337);
    for (let i = 0; i < 2000; i++) {
      const input = byteMutation(rnd);
      const res = decodeNoThrow(input);
      expectWellFormed(res);
      // Bytes and their string form agree whenever the bytes are valid UTF-8.
      if (res.ok || res.code !== 'invalid_utf8') expect(decodeEvent(input.toString('utf8'))).toEqual(res);
    }
  });
});

describe('decodeEvent: hostile input does not leak into prototypes', () => {
  it('a rejected __proto__ payload does not pollute Object.prototype', () => {
    decodeEvent(MINIMAL_JSON.replace('{', '{"__proto__":{"polluted":true},'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
