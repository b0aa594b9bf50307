/**
 * Decoder for AgentRequestEvent v1: bytes in, a typed event or a coded rejection out.
 *
 * Guarantees: never throws; the schema is compiled once at module load (TypeBox's
 * TypeCompiler: one specialised check function per record kind); the checks run cheapest first
 * (size, UTF-8, JSON, structure, version, schema) so hostile input is rejected early. Every
 * rejection carries a code from {@link DecodeErrorCode}, a message and the JSON Pointer of the
 * offending field.
 *
 * The compiled check is the fast path and only says yes or no. When it says no, {@link firstError}
 * walks the schema in JSON Schema (ajv) keyword order — type, const/enum, number limits, string
 * lengths (counted in code points) and pattern, required, maxItems, items, additionalProperties,
 * properties — and reports the first failure; that walk is the authority (a string of astral
 * characters the compiled check measures in UTF-16 units is accepted when its code-point length
 * fits). For these schemas the compiled check never accepts what the walk rejects: the only
 * minLength above 1 (request.ip) sits beside an ASCII-only pattern.
 */
import { isUtf8 } from 'node:buffer';
import { Kind, OptionalKind, Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  AgentControlSchema,
  AgentRequestEventSchema,
  type AgentControl,
  CONTRACT_VERSION,
  MAX_EVENT_BYTES,
  MAX_EVENT_DEPTH,
  type AgentRequestEvent,
  type DeadLetterCode,
  type DecodeErrorCode,
} from './schemas.ts';

export type DecodeResult = { ok: true; event: AgentRequestEvent } | { ok: false; code: DecodeErrorCode; message: string; path: string };
type Failure = { ok: false; code: DecodeErrorCode | DeadLetterCode; message: string; path: string };

/** The schema with its string enums (`Type.Unsafe`, kept for the published JSON Schema) as unions of literals the compiler understands. */
function compilable(schema: TSchema): TSchema {
  const s = schema as TSchema & { enum?: unknown[]; properties?: Record<string, TSchema>; items?: TSchema };
  if (s[Kind] === 'Unsafe' && Array.isArray(s.enum)) {
    const union = Type.Union(s.enum.map((v) => Type.Literal(v as string)));
    return s[OptionalKind] ? Type.Optional(union) : union;
  }
  const out = { ...s };
  if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, compilable(v)]));
  if (s.items) out.items = compilable(s.items);
  return out;
}

const checkEvent = TypeCompiler.Compile(compilable(AgentRequestEventSchema));
const checkControl = TypeCompiler.Compile(compilable(AgentControlSchema));

/** A schema failure, in ajv's terms (keyword, instance path, params, message), so codes and messages stay what they were. */
type SchemaError = { keyword: string; instancePath: string; params: Record<string, unknown>; message: string };

type JsonSchema = {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean;
  maxItems?: number;
  minItems?: number;
  items?: JsonSchema;
};

const patterns = new Map<string, RegExp>();
function patternOf(p: string): RegExp {
  let re = patterns.get(p);
  if (!re) patterns.set(p, (re = new RegExp(p, 'u')));
  return re;
}

/** Length in Unicode code points (what JSON Schema's minLength/maxLength count). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n++;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

function typeMatches(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'null':
      return v === null;
    default:
      return typeof v === type;
  }
}

const LIMITS = [
  ['maximum', '<=', (v: number, l: number) => v <= l],
  ['minimum', '>=', (v: number, l: number) => v >= l],
  ['exclusiveMaximum', '<', (v: number, l: number) => v < l],
  ['exclusiveMinimum', '>', (v: number, l: number) => v > l],
] as const;

/** The first schema failure of `v` at `path`, in ajv's keyword order (see the module doc); null when valid. */
function firstError(schema: JsonSchema, v: unknown, path: string): SchemaError | null {
  const err = (keyword: string, params: Record<string, unknown>, message: string): SchemaError => ({ keyword, instancePath: path, params, message });
  if (schema.type !== undefined && !typeMatches(schema.type, v)) return err('type', { type: schema.type }, `must be ${schema.type}`);
  if ('const' in schema && v !== schema.const) return err('const', { allowedValue: schema.const }, 'must be equal to constant');
  if (schema.enum && !schema.enum.includes(v)) return err('enum', { allowedValues: schema.enum }, 'must be equal to one of the allowed values');
  if (typeof v === 'number') {
    for (const [kw, op, ok] of LIMITS) {
      const limit = schema[kw];
      if (limit !== undefined && !ok(v, limit)) return err(kw, { comparison: op, limit }, `must be ${op} ${limit}`);
    }
  }
  if (typeof v === 'string') {
    if (schema.maxLength !== undefined || schema.minLength !== undefined) {
      const len = codePoints(v);
      if (schema.maxLength !== undefined && len > schema.maxLength)
        return err('maxLength', { limit: schema.maxLength }, `must NOT have more than ${schema.maxLength} characters`);
      if (schema.minLength !== undefined && len < schema.minLength)
        return err('minLength', { limit: schema.minLength }, `must NOT have fewer than ${schema.minLength} characters`);
    }
    if (schema.pattern !== undefined && !patternOf(schema.pattern).test(v))
      return err('pattern', { pattern: schema.pattern }, `must match pattern "${schema.pattern}"`);
  }
  if (Array.isArray(v)) {
    if (schema.maxItems !== undefined && v.length > schema.maxItems)
      return err('maxItems', { limit: schema.maxItems }, `must NOT have more than ${schema.maxItems} items`);
    if (schema.minItems !== undefined && v.length < schema.minItems)
      return err('minItems', { limit: schema.minItems }, `must NOT have fewer than ${schema.minItems} items`);
    if (schema.items) {
      for (let i = 0; i < v.length; i++) {
        const e = firstError(schema.items, v[i], `${path}/${i}`);
        if (e) return e;
      }
    }
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const key of schema.required ?? []) if (o[key] === undefined) return err('required', { missingProperty: key }, `must have required property '${key}'`);
    if (schema.additionalProperties === false && schema.properties) {
      for (const key of Object.keys(o)) {
        if (!(key in schema.properties)) return err('additionalProperties', { additionalProperty: key }, 'must NOT have additional properties');
      }
    }
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (o[key] === undefined) continue;
      const e = firstError(sub, o[key], `${path}/${escapePointer(key)}`);
      if (e) return e;
    }
  }
  return null;
}
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** An unpaired UTF-16 surrogate (e.g. from a `\ud800` JSON escape): not a Unicode scalar, not encodable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;

function fail(code: DecodeErrorCode, message: string, path = ''): DecodeResult {
  return { ok: false, code, message, path };
}

type StructureError = { code: DecodeErrorCode; message: string; path: string };
/** A structural problem found by the walk; the JSON Pointer is assembled only on failure. */
type WalkError = { code: DecodeErrorCode; what: string; segments: string[] };

/**
 * Depth limit, forbidden keys, non-finite numbers and (when the text may hold them) lone
 * surrogates, in one walk of the parsed document. Every string that passes is valid Unicode,
 * so identities (agent.id, tenant…) map one-to-one onto the UTF-8 bytes used for Kafka and
 * Redis keys. No strings are built unless something is wrong (hot path).
 */
function walk(value: unknown, depth: number, checkStrings: boolean): WalkError | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : { code: 'non_finite_number', what: 'is not a finite number', segments: [] };
  if (typeof value === 'string')
    return checkStrings && LONE_SURROGATE.test(value) ? { code: 'invalid_utf8', what: 'contains an unpaired surrogate', segments: [] } : null;
  if (value === null || typeof value !== 'object') return null;
  if (depth > MAX_EVENT_DEPTH) return { code: 'too_deep', what: `nests deeper than ${MAX_EVENT_DEPTH} levels`, segments: [] };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const err = walk(value[i], depth + 1, checkStrings);
      if (err) {
        err.segments.push(String(i));
        return err;
      }
    }
    return null;
  }
  for (const key in value) {
    if (FORBIDDEN_KEYS.has(key)) return { code: 'forbidden_key', what: `: key "${key}" is not allowed`, segments: [key] };
    if (checkStrings && LONE_SURROGATE.test(key)) return { code: 'invalid_utf8', what: 'is a key with an unpaired surrogate', segments: [key] };
    const err = walk((value as Record<string, unknown>)[key], depth + 1, checkStrings);
    if (err) {
      err.segments.push(key);
      return err;
    }
  }
  return null;
}

function checkStructure(doc: unknown, checkStrings: boolean): StructureError | null {
  const err = walk(doc, 1, checkStrings);
  if (!err) return null;
  const path = err.segments.reverse().map(escapePointer).join('/');
  const pointer = path ? `/${path}` : '';
  if (err.code === 'too_deep') return { code: err.code, message: `nesting deeper than ${MAX_EVENT_DEPTH} levels`, path: pointer };
  if (err.code === 'forbidden_key') return { code: err.code, message: `key "${err.segments[err.segments.length - 1]}" is not allowed`, path: pointer };
  return { code: err.code, message: `${pointer || '/'} ${err.what}`, path: pointer };
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function fromSchemaError(err: SchemaError, data: unknown): DecodeResult {
  let path = err.instancePath;
  const at = path || '/';
  switch (err.keyword) {
    case 'required': {
      const missing = String((err.params as { missingProperty: string }).missingProperty);
      path = `${path}/${escapePointer(missing)}`;
      return fail('missing_field', `${path} is required`, path);
    }
    case 'type':
      return fail('wrong_type', `${at} must be ${String((err.params as { type: string }).type)}`, path);
    case 'enum':
      return fail('bad_enum', `${at} must be one of ${((err.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')}`, path);
    case 'const':
      return fail('unsupported_version', `${at} must be ${String((err.params as { allowedValue: unknown }).allowedValue)}`, path);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return fail('out_of_range', `${at} ${err.message}`, path);
    case 'minLength':
      return valueAt(data, path) === '' ? fail('empty_string', `${at} must not be empty`, path) : fail('bad_format', `${at} ${err.message}`, path);
    case 'maxLength':
    case 'maxItems':
      return fail('too_long', `${at} ${err.message}`, path);
    case 'pattern':
      return fail('bad_format', `${at} has an invalid format`, path);
    default:
      return fail('wrong_type', `${at} ${err.message}`, path);
  }
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur = root;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** Null when the compiled check passed or the ordered walk finds nothing (see the module doc); else the coded rejection. */
function schemaFailure(passed: boolean, schema: TSchema, doc: unknown): Extract<DecodeResult, { ok: false }> | null {
  if (passed) return null;
  const e = firstError(schema as JsonSchema, doc, '');
  return e ? (fromSchemaError(e, doc) as Extract<DecodeResult, { ok: false }>) : null;
}

type Parsed = { ok: true; doc: Record<string, unknown> } | Extract<DecodeResult, { ok: false }>;

/** Size, UTF-8, JSON, object, structure and version checks shared by every record kind. */
function parseDocument(input: Uint8Array | string | null | undefined): Parsed {
  if (input === null || input === undefined) return fail('invalid_json', 'empty record (null value)') as Parsed;
  let text: string;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > MAX_EVENT_BYTES) return fail('too_large', `event larger than ${MAX_EVENT_BYTES} bytes`) as Parsed;
    text = input;
  } else {
    if (input.byteLength > MAX_EVENT_BYTES) return fail('too_large', `event of ${input.byteLength} bytes is larger than ${MAX_EVENT_BYTES} bytes`) as Parsed;
    if (!isUtf8(input)) return fail('invalid_utf8', 'record is not valid UTF-8') as Parsed;
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    // A leading byte-order mark is not part of the document.
    text = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? buf.toString('utf8', 3) : buf.toString('utf8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail('invalid_json', `not JSON: ${(e as Error).message}`) as Parsed;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return fail('not_an_object', 'event must be a JSON object') as Parsed;
  // Valid UTF-8 bytes cannot encode a surrogate: only a \\uD8xx–\\uDFxx escape (or a JS string input) can produce one.
  // `includes` is a plain substring scan: the escape regex only runs on text that has a \u escape at all.
  const structural = checkStructure(doc, (text.includes('\\u') && ESCAPED_SURROGATE.test(text)) || (typeof input === 'string' && LONE_SURROGATE.test(text)));
  if (structural) return { ok: false, ...structural };
  const v = (doc as { v?: unknown }).v;
  if (v === undefined) return fail('missing_field', '/v is required', '/v') as Parsed;
  if (v !== CONTRACT_VERSION)
    return fail('unsupported_version', `unsupported contract version ${JSON.stringify(v)}; this build reads v${CONTRACT_VERSION}`, '/v') as Parsed;
  return { ok: true, doc: doc as Record<string, unknown> };
}

/** Decode one AgentRequestEvent. Accepts raw bytes (the Kafka value) or an already-decoded string. */
export function decodeEvent(input: Uint8Array | string | null | undefined): DecodeResult {
  try {
    const p = parseDocument(input);
    if (!p.ok) return p;
    const bad = schemaFailure(checkEvent.Check(p.doc), AgentRequestEventSchema, p.doc);
    if (bad) return bad;
    return { ok: true, event: p.doc as AgentRequestEvent };
  } catch (e) {
    // Defensive: nothing above should throw, but a decoder must never take the stream down.
    return fail('invalid_json', `undecodable record: ${(e as Error).message}`);
  }
}

/** A decoded control record (signature NOT yet verified: that needs the operator key ring). */
export type ControlDecodeResult = { ok: true; control: AgentControl } | Failure;

/** What a record of the requests topic is: an agent request event or an operator control record. */
export type InputDecodeResult = { ok: true; kind: 'event'; event: AgentRequestEvent } | { ok: true; kind: 'control'; control: AgentControl } | Failure;

function controlFromDoc(doc: Record<string, unknown>): ControlDecodeResult {
  // Unsigned is its own code: someone wrote to the topic without an operator key.
  if (doc.sig === undefined || doc.sig === null) return { ok: false, code: 'unsigned', message: 'control record has no sig', path: '/sig' };
  const bad = schemaFailure(checkControl.Check(doc), AgentControlSchema, doc);
  if (bad) return bad as ControlDecodeResult;
  if (doc.action === 'allowlist' && doc.until === undefined) return fail('missing_field', '/until is required for allowlist', '/until') as ControlDecodeResult;
  if (doc.action === 'escalation_decision' && (doc.escalationId === undefined || doc.decision === undefined)) {
    const path = doc.escalationId === undefined ? '/escalationId' : '/decision';
    return fail('missing_field', `${path} is required for escalation_decision`, path) as ControlDecodeResult;
  }
  return { ok: true, control: doc as AgentControl };
}

/** Decode one AgentControl record (shape only; verify `sig` against the operator key ring separately). Never throws. */
export function decodeControl(input: Uint8Array | string | null | undefined): ControlDecodeResult {
  try {
    const p = parseDocument(input);
    if (!p.ok) return p;
    if (p.doc.kind !== 'control') return fail('bad_enum', '/kind must be control', '/kind') as ControlDecodeResult;
    return controlFromDoc(p.doc);
  } catch (e) {
    return fail('invalid_json', `undecodable record: ${(e as Error).message}`) as ControlDecodeResult;
  }
}

/**
 * Decode one record of the requests topic: a record with `kind: "control"` is an operator
 * control record (re-published there by the control relay), anything else an AgentRequestEvent.
 * Never throws.
 */
export function decodeInput(input: Uint8Array | string | null | undefined): InputDecodeResult {
  try {
    const p = parseDocument(input);
    if (!p.ok) return p;
    if (p.doc.kind === 'control') {
      const c = controlFromDoc(p.doc);
      return c.ok ? { ok: true, kind: 'control', control: c.control } : c;
    }
    const bad = schemaFailure(checkEvent.Check(p.doc), AgentRequestEventSchema, p.doc);
    if (bad) return bad as InputDecodeResult;
    return { ok: true, kind: 'event', event: p.doc as AgentRequestEvent };
  } catch (e) {
    return fail('invalid_json', `undecodable record: ${(e as Error).message}`) as InputDecodeResult;
  }
}
