import { describe, expect, expectTypeOf, it } from 'vitest';
import { Ajv } from 'ajv';
import type { Message } from 'kafkajs';
import { decodeEvent } from '../../src/contract/decode.ts';
import {
  DLQ_MESSAGE_MAX_CHARS,
  fromDlqKafkaMessage,
  toDlqJson,
  toDlqKafkaMessage,
  type DlqInput,
  type DlqKafkaMessage,
  type ReceivedDlqKafkaMessage,
} from '../../src/contract/dlq.ts';
import { DLQ_HEADERS, DlqRecordSchema, type DlqRecord } from '../../src/contract/schemas.ts';
import { TrustlineError } from '../../src/shared/errors.ts';

const validateDlq = new Ajv({ strict: true }).compile<DlqRecord>(DlqRecordSchema);

function input(over: Partial<DlqInput> = {}): DlqInput {
  return {
    value: Buffer.from('{"v":2}'),
    key: Buffer.from('agent-1'),
    code: 'unsupported_version',
    message: 'unsupported contract version 2; this build reads v1',
    path: '/v',
    source: { topic: 'agent.requests', partition: 3, offset: '1234567890123' },
    ...over,
  };
}

/** What a kafkajs consumer hands back: key, value and every header value as Buffers. */
function asReceived(msg: DlqKafkaMessage): ReceivedDlqKafkaMessage {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(msg.headers)) headers[k] = Buffer.from(v, 'utf8');
  return {
    key: msg.key === null ? null : Buffer.from(msg.key),
    value: msg.value === null ? null : Buffer.from(msg.value),
    headers,
  };
}

function expectValidJson(record: DlqRecord): void {
  expect(validateDlq(record), JSON.stringify(validateDlq.errors)).toBe(true);
  // File sinks write JSON text: it must survive a stringify/parse cycle unchanged.
  expect(JSON.parse(JSON.stringify(record))).toEqual(record);
}

const INVALID_UTF8 = Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x80, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0xe2, 0x82, 0x00, 0xf0, 0x9f, 0x98]);
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('toDlqKafkaMessage', () => {
  it('keeps the original value and key bytes and puts the reason in string headers', () => {
    const x = input();
    const msg = toDlqKafkaMessage(x);
    expect(msg.value).toBe(x.value);
    expect(msg.key).toBe(x.key);
    expect(msg.headers).toEqual({
      [DLQ_HEADERS.code]: 'unsupported_version',
      [DLQ_HEADERS.message]: 'unsupported contract version 2; this build reads v1',
      [DLQ_HEADERS.path]: '/v',
      [DLQ_HEADERS.topic]: 'agent.requests',
      [DLQ_HEADERS.partition]: '3',
      [DLQ_HEADERS.offset]: '1234567890123',
    });
    for (const v of Object.values(msg.headers)) expect(typeof v).toBe('string');
    expectTypeOf(msg).toExtend<Message>();
  });

  it('preserves a binary, invalid-UTF-8 payload byte for byte', () => {
    const msg = toDlqKafkaMessage(input({ value: Buffer.from(INVALID_UTF8), code: 'invalid_utf8', path: '' }));
    expect(Buffer.compare(msg.value!, INVALID_UTF8)).toBe(0);
  });

  it('truncates the message to 1,000 characters', () => {
    const msg = toDlqKafkaMessage(input({ message: 'm'.repeat(5000) }));
    const stored = msg.headers[DLQ_HEADERS.message]!;
    expect(stored).toHaveLength(DLQ_MESSAGE_MAX_CHARS);
    expect(stored.endsWith('…')).toBe(true);
    expect(toDlqKafkaMessage(input({ message: 'm'.repeat(1000) })).headers[DLQ_HEADERS.message]).toBe('m'.repeat(1000));
  });

  it('never splits a surrogate pair when truncating, and counts characters, not UTF-16 units', () => {
    const stored = toDlqKafkaMessage(input({ message: '😀'.repeat(1500) })).headers[DLQ_HEADERS.message]!;
    expect(Array.from(stored)).toHaveLength(DLQ_MESSAGE_MAX_CHARS);
    expect(stored).toBe(`${'😀'.repeat(999)}…`);
    expect(toDlqKafkaMessage(input({ message: '😀'.repeat(1000) })).headers[DLQ_HEADERS.message]).toBe('😀'.repeat(1000));
  });

  it('rejects a source partition that is not a non-negative integer', () => {
    expect(() => toDlqKafkaMessage(input({ source: { topic: 't', partition: -1, offset: '0' } }))).toThrow(TrustlineError);
    expect(() => toDlqJson(input({ source: { topic: 't', partition: 1.5, offset: '0' } }))).toThrow(TrustlineError);
  });
});

describe('round trip: fromDlqKafkaMessage(toDlqKafkaMessage(x)) equals toDlqJson(x)', () => {
  const cases: [string, DlqInput][] = [
    ['plain rejection', input()],
    ['binary invalid-UTF-8 payload', input({ value: Buffer.from(INVALID_UTF8), code: 'invalid_utf8', message: 'record is not valid UTF-8', path: '' })],
    ['all 256 byte values', input({ value: Buffer.from(ALL_BYTES), code: 'invalid_utf8', path: '' })],
    ['null key', input({ key: null })],
    ['null value (tombstone)', input({ value: null, code: 'invalid_json', message: 'empty record (null value)', path: '' })],
    ['empty value and empty key', input({ value: Buffer.alloc(0), key: Buffer.alloc(0), code: 'invalid_json', path: '' })],
    ['non-ASCII key, message and path', input({ key: Buffer.from('агент-🤖'), message: 'ключ "ü" 😀', path: '/extra/ключ~1x' })],
    ['unpaired surrogate in the message', input({ message: 'bad \ud800 text', path: '/k\udc00' })],
    ['message longer than the limit', input({ message: 'x'.repeat(10_000) })],
    ['file source (line number as offset)', input({ source: { topic: 'fixtures/day1.jsonl', partition: 0, offset: '17' } })],
  ];

  it.each(cases)('%s', (_name, x) => {
    const msg = toDlqKafkaMessage(x);
    const expected = toDlqJson(x);
    expectValidJson(expected);
    // Both as produced (strings) and as a consumer receives it (Buffers).
    expect(fromDlqKafkaMessage(msg)).toEqual(expected);
    const received = asReceived(msg);
    const parsed = fromDlqKafkaMessage(received);
    expect(parsed).toEqual(expected);
    expectValidJson(parsed);
    // The payload decodes back to exactly the original bytes.
    if (x.value !== null) expect(Buffer.compare(Buffer.from(parsed.payloadBase64, 'base64'), x.value)).toBe(0);
    // Header strings are exactly what survives UTF-8 on the wire.
    for (const [k, v] of Object.entries(msg.headers)) expect(received.headers![k]!.toString()).toBe(v);
  });

  it('a null key stays null and a null value becomes an empty payload', () => {
    const record = fromDlqKafkaMessage(asReceived(toDlqKafkaMessage(input({ key: null, value: null }))));
    expect(record.key).toBeNull();
    expect(record.payloadBase64).toBe('');
  });

  it('takes the first value of a repeated header', () => {
    const msg = asReceived(toDlqKafkaMessage(input()));
    msg.headers![DLQ_HEADERS.code] = [Buffer.from('too_large'), Buffer.from('bad_enum')];
    expect(fromDlqKafkaMessage(msg).code).toBe('too_large');
  });

  it('works on every rejection the decoder produces', () => {
    const inputs = [Buffer.from(INVALID_UTF8), Buffer.from('[]'), Buffer.from('{"v":1,"__proto__":1}'), Buffer.from('{"v":1e400}'), Buffer.from('{"v":3}')];
    for (const [i, bytes] of inputs.entries()) {
      const res = decodeEvent(bytes);
      if (res.ok) throw new Error('expected a rejection');
      const x = input({
        value: bytes,
        code: res.code,
        message: res.message,
        path: res.path,
        source: { topic: 'agent.requests', partition: 0, offset: String(i) },
      });
      const record = fromDlqKafkaMessage(asReceived(toDlqKafkaMessage(x)));
      expect(record).toEqual(toDlqJson(x));
      expect(record.code).toBe(res.code);
      expect(Buffer.from(record.payloadBase64, 'base64').equals(bytes)).toBe(true);
    }
  });
});

describe('toDlqJson', () => {
  it('produces a DlqRecord that validates against DlqRecordSchema', () => {
    const record = toDlqJson(input({ value: Buffer.from(INVALID_UTF8), key: null, code: 'invalid_utf8', path: '' }));
    expect(record).toEqual({
      v: 1,
      code: 'invalid_utf8',
      message: 'unsupported contract version 2; this build reads v1',
      path: '',
      source: { topic: 'agent.requests', partition: 3, offset: '1234567890123' },
      key: null,
      payloadBase64: INVALID_UTF8.toString('base64'),
    });
    expectValidJson(record);
  });

  it('decodes a non-UTF-8 key leniently (only the Kafka form keeps arbitrary key bytes)', () => {
    const record = toDlqJson(input({ key: Buffer.from([0x61, 0xff, 0x62]) }));
    expect(record.key).toBe('a\uFFFDb');
    expectValidJson(record);
  });
});

describe('fromDlqKafkaMessage on foreign messages', () => {
  it.each([
    ['no headers', (m: ReceivedDlqKafkaMessage) => delete m.headers],
    ['missing code header', (m: ReceivedDlqKafkaMessage) => delete m.headers![DLQ_HEADERS.code]],
    ['unknown code', (m: ReceivedDlqKafkaMessage) => (m.headers![DLQ_HEADERS.code] = 'exploded')],
    ['missing offset header', (m: ReceivedDlqKafkaMessage) => delete m.headers![DLQ_HEADERS.offset]],
    ['negative partition', (m: ReceivedDlqKafkaMessage) => (m.headers![DLQ_HEADERS.partition] = '-1')],
    ['non-numeric partition', (m: ReceivedDlqKafkaMessage) => (m.headers![DLQ_HEADERS.partition] = 'three')],
    ['empty partition', (m: ReceivedDlqKafkaMessage) => (m.headers![DLQ_HEADERS.partition] = '')],
  ])('throws INPUT_INVALID: %s', (_name, damage) => {
    const msg = asReceived(toDlqKafkaMessage(input()));
    damage(msg);
    expect(() => fromDlqKafkaMessage(msg)).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
  });
});
