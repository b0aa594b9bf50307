/**
 * Hostile variants of good events and of signed records, for the property tests
 * (test/contract/decode.property.test.ts, test/pipeline/pipeline.property.test.ts,
 * test/enforcer/signed-records.property.test.ts) and the fuzz script (scripts/fuzz.ts).
 * No vitest import: the script uses it too. Every mutation is a pure function of its inputs and
 * the seeded `rnd`, so a failure is reproducible from its seed.
 */
import { MAX_EVENT_BYTES, MAX_EVENT_DEPTH } from '../../src/contract/schemas.ts';

/** What a mutation did, and whether the result must be rejected by the decoder. */
export type Mutant = { kind: MutationKind; bytes: Buffer | null; mustReject: boolean };

export const MUTATION_KINDS = [
  'none',
  'truncate',
  'invalid_utf8',
  'lone_surrogate',
  'wrong_type',
  'drop_required',
  'huge_number',
  'non_finite',
  'deep_nesting',
  'duplicate_key',
  'proto_key',
  'constructor_key',
  'oversize',
  'not_an_object',
  'byte_flip',
  'unknown_field',
  'tombstone',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

type Json = Record<string, unknown>;
const REQUIRED: readonly string[][] = [
  ['v'],
  ['eventId'],
  ['ts'],
  ['agent'],
  ['agent', 'id'],
  ['agent', 'auth'],
  ['request'],
  ['request', 'method'],
  ['request', 'route'],
  ['request', 'status'],
];
/** Required fields and a value of the wrong JSON type for each. */
const WRONG_TYPES: readonly [string[], unknown][] = [
  [['v'], '1'],
  [['eventId'], 42],
  [['ts'], '1700000000000'],
  [['ts'], true],
  [['agent'], 'agent-1'],
  [['agent', 'id'], 7],
  [['agent', 'auth'], []],
  [['request'], null],
  [['request', 'status'], '200'],
  [['request', 'route'], { a: 1 }],
];

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const clone = (x: Json): Json => JSON.parse(JSON.stringify(x)) as Json;

function setAt(doc: Json, path: readonly string[], value: unknown): void {
  let cur = doc;
  for (const k of path.slice(0, -1)) cur = cur[k] as Json;
  cur[path[path.length - 1]!] = value;
}

function deleteAt(doc: Json, path: readonly string[]): void {
  let cur = doc;
  for (const k of path.slice(0, -1)) cur = cur[k] as Json;
  delete cur[path[path.length - 1]!];
}

/** Inserts raw JSON text `member` (`"key":value`) as the first member of the object at `"agent":{`. */
function injectMember(text: string, member: string): string {
  const at = text.indexOf('"agent":{');
  return at < 0 ? text : `${text.slice(0, at + 9)}${member},${text.slice(at + 9)}`;
}

/**
 * A mutant of the good event `base` (which must decode). `kind` picks the mutation; `rnd` its
 * details. `mustReject` is true when the result is invalid whatever the details (then it must be
 * dead-lettered); otherwise it may be valid or not, and must only be handled one way or the other.
 */
export function mutateEvent(base: Json, kind: MutationKind, rnd: () => number): Mutant {
  const text = JSON.stringify(base);
  const m = (bytes: Buffer | null, mustReject: boolean): Mutant => ({ kind, bytes, mustReject });
  switch (kind) {
    case 'none':
      return m(Buffer.from(text, 'utf8'), false);
    case 'truncate': {
      // A proper prefix of a JSON object (no trailing whitespace) is never a JSON document.
      const b = Buffer.from(text, 'utf8');
      return m(b.subarray(0, Math.floor(rnd() * (b.length - 1))), true);
    }
    case 'invalid_utf8': {
      // A stray continuation byte, a truncated 2-byte sequence, an overlong encoding or 0xFF, inside a string.
      const bad = pick(rnd, [[0x80], [0xc3, 0x28], [0xc0, 0xaf], [0xff], [0xed, 0xa0, 0x80]]);
      const at = text.indexOf('"', text.indexOf('"eventId"') + 10) + 1;
      return m(Buffer.concat([Buffer.from(text.slice(0, at), 'utf8'), Buffer.from(bad), Buffer.from(text.slice(at), 'utf8')]), true);
    }
    case 'lone_surrogate':
      return m(Buffer.from(text.replace('"eventId":"', `"eventId":"\\u${pick(rnd, ['d800', 'dbff', 'dc00', 'DFFF'])}`), 'utf8'), true);
    case 'wrong_type': {
      const doc = clone(base);
      const [path, value] = pick(rnd, WRONG_TYPES);
      setAt(doc, path, value);
      return m(Buffer.from(JSON.stringify(doc), 'utf8'), true);
    }
    case 'drop_required': {
      const doc = clone(base);
      deleteAt(doc, pick(rnd, REQUIRED));
      return m(Buffer.from(JSON.stringify(doc), 'utf8'), true);
    }
    case 'huge_number': {
      // Big but finite: 2^53+, 1e300, -1e308 in a numeric field; may be out of range or accepted.
      const doc = clone(base);
      const value = pick(rnd, [2 ** 53 + 2, 1e300, -1e308, 2 ** 63, Number.MAX_VALUE, -0, 5e-324]);
      setAt(doc, pick(rnd, [['ts'], ['request', 'status'], ['request', 'latencyMs'], ['request', 'bytesOut'], ['agent', 'auth', 'tokenAgeS']]), value);
      return m(Buffer.from(JSON.stringify(doc), 'utf8'), false);
    }
    case 'non_finite':
      // 1e400 parses to Infinity: never a valid number anywhere.
      return m(Buffer.from(text.replace(/"ts":\d+/, `"ts":${pick(rnd, ['1e400', '-1e400'])}`), 'utf8'), true);
    case 'deep_nesting': {
      const depth = MAX_EVENT_DEPTH + 1 + Math.floor(rnd() * 200);
      const nested = pick(rnd, ['[', '{"a":']);
      const close = nested === '[' ? ']' : '}';
      return m(Buffer.from(injectMember(text, `"x":${nested.repeat(depth)}1${close.repeat(depth)}`), 'utf8'), true);
    }
    case 'duplicate_key': {
      // A repeated member: JSON.parse keeps the last; it may be valid (last value good) or not.
      const key = pick(rnd, ['"id"', '"purpose"']);
      const value = pick(rnd, ['"other-agent"', '7', 'null', '{}']);
      return m(Buffer.from(injectMember(text, `${key}:${value}`), 'utf8'), false);
    }
    case 'proto_key':
      return m(Buffer.from(injectMember(text, `"__proto__":${pick(rnd, ['{"polluted":true}', '{"isAdmin":true,"v":2}', 'null', '[]'])}`), 'utf8'), true);
    case 'constructor_key':
      return m(Buffer.from(injectMember(text, `"${pick(rnd, ['constructor', 'prototype'])}":{"prototype":{"polluted":true}}`), 'utf8'), true);
    case 'oversize':
      return m(Buffer.from(injectMember(text, `"pad":"${'x'.repeat(MAX_EVENT_BYTES + Math.floor(rnd() * 1000))}"`), 'utf8'), true);
    case 'not_an_object':
      return m(Buffer.from(pick(rnd, [`[${text}]`, '"text"', '42', 'null', 'true', '[]']), 'utf8'), true);
    case 'byte_flip': {
      const b = Buffer.from(text, 'utf8');
      const n = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      return m(b, false);
    }
    case 'unknown_field': {
      // Unknown fields are ignored (README): still valid.
      const doc = clone(base);
      doc[`x${Math.floor(rnd() * 1000)}`] = pick(rnd, [1, 'a', null, [1, 2], { b: {} }]);
      return m(Buffer.from(JSON.stringify(doc), 'utf8'), false);
    }
    case 'tombstone':
      return m(null, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Signed records

export const TAMPER_KINDS = ['field', 'signature', 'kid', 'unsigned', 'alg'] as const;
export type TamperKind = (typeof TAMPER_KINDS)[number];

/**
 * A tampered copy of a signed record (trust update, circuit signal or escalation): a changed
 * field (the signature no longer covers it), a mutated signature value, the signature relabelled
 * with another key's `kid`, the signature removed, or a changed `alg`. Every one must be refused.
 */
export function tamperRecord(rec: Json, kind: TamperKind, rnd: () => number, otherKid: string): Json {
  const r = clone(rec);
  const sig = r.sig as { kid: string; alg: string; value: string };
  switch (kind) {
    case 'field': {
      const keys = Object.keys(r).filter((k) => k !== 'sig');
      const k = pick(rnd, keys);
      const v = r[k];
      r[k] =
        typeof v === 'number'
          ? v + 1 + Math.floor(rnd() * 10)
          : typeof v === 'string'
            ? `${v}x`
            : typeof v === 'boolean'
              ? !v
              : Array.isArray(v)
                ? [...(v as unknown[]), { code: 'x' }]
                : v === null
                  ? 0
                  : { ...(v as Json), x: 1 };
      return r;
    }
    case 'signature': {
      const chars = sig.value.split('');
      const i = Math.floor(rnd() * chars.length);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      let c = chars[i]!;
      while (c === chars[i]) c = pick(rnd, alphabet.split(''));
      chars[i] = c;
      r.sig = { ...sig, value: chars.join('') };
      return r;
    }
    case 'kid':
      r.sig = { ...sig, kid: otherKid };
      return r;
    case 'unsigned':
      delete r.sig;
      return r;
    case 'alg':
      r.sig = { ...sig, alg: sig.alg === 'HS256' ? 'Ed25519' : 'HS256' };
      return r;
  }
}
