/**
 * Dead-letter records for rejected input: pure conversions between a rejection and its
 * two published forms.
 *
 * - Kafka (`agent.requests.dlq`): the record value and key are the original bytes,
 *   unchanged; the reason and the source position travel as string headers named by
 *   {@link DLQ_HEADERS}.
 * - JSON (file sinks): a {@link DlqRecord} with the original value as base64.
 *
 * Guarantees: no I/O, no clock; the same input always gives the same output; the original
 * value bytes are never altered, whatever they contain. Header and JSON strings are
 * well-formed Unicode (unpaired surrogates become U+FFFD), so what is written is exactly
 * what is read back.
 */
import { TrustlineError } from '../shared/errors.ts';
import { CONTRACT_VERSION, DEAD_LETTER_CODES, DLQ_HEADERS, type DeadLetterCode, type DlqRecord } from './schemas.ts';

/** Longest error message carried by a dead-letter record, in characters (code points). */
export const DLQ_MESSAGE_MAX_CHARS = 1000;

/** Where the rejected record came from. `offset` is the Kafka offset, or the line number for file sources. */
export interface DlqSource {
  topic: string;
  partition: number;
  offset: string;
}

/** A rejected input record and why it was rejected. */
export interface DlqInput {
  /** The original record value, exactly as received; `null` for a Kafka tombstone. */
  value: Buffer | null;
  /** The original record key, exactly as received. */
  key: Buffer | null;
  code: DeadLetterCode;
  message: string;
  /** JSON Pointer of the offending field, `""` for the whole record. */
  path: string;
  source: DlqSource;
}

/**
 * A dead-letter message ready for a kafkajs producer (assignable to kafkajs `Message`).
 * `key` and `value` are the original bytes; every header value is a string.
 */
export interface DlqKafkaMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** A dead-letter message as a consumer sees it: header values may be bytes or repeated. */
export interface ReceivedDlqKafkaMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

const UNPAIRED_SURROGATE = /[\uD800-\uDFFF]/gu;
const CODES: ReadonlySet<string> = new Set(DEAD_LETTER_CODES);
const utf8Lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The string with unpaired surrogates replaced by U+FFFD, i.e. exactly what survives UTF-8. */
function wellFormed(s: string): string {
  return s.replace(UNPAIRED_SURROGATE, '\uFFFD');
}

/** The message as stored: well-formed, at most {@link DLQ_MESSAGE_MAX_CHARS} code points, `…` when cut. */
function storedMessage(message: string): string {
  const text = wellFormed(message);
  if (text.length <= DLQ_MESSAGE_MAX_CHARS) return text; // UTF-16 length bounds the code point count
  const chars = Array.from(text);
  return chars.length <= DLQ_MESSAGE_MAX_CHARS ? text : `${chars.slice(0, DLQ_MESSAGE_MAX_CHARS - 1).join('')}…`;
}

function checkSource(source: DlqSource): void {
  if (!Number.isInteger(source.partition) || source.partition < 0) {
    throw new TrustlineError('INPUT_INVALID', `DLQ source partition must be a non-negative integer, got ${String(source.partition)}`);
  }
}

/**
 * The Kafka form of a dead-letter record: original key and value bytes unchanged (the same
 * Buffer instances), reason and source position as string headers named by {@link DLQ_HEADERS}.
 * The message is truncated to {@link DLQ_MESSAGE_MAX_CHARS} characters.
 */
export function toDlqKafkaMessage(input: DlqInput): DlqKafkaMessage {
  checkSource(input.source);
  return {
    key: input.key,
    value: input.value,
    headers: {
      [DLQ_HEADERS.code]: input.code,
      [DLQ_HEADERS.message]: storedMessage(input.message),
      [DLQ_HEADERS.path]: wellFormed(input.path),
      [DLQ_HEADERS.topic]: wellFormed(input.source.topic),
      [DLQ_HEADERS.partition]: String(input.source.partition),
      [DLQ_HEADERS.offset]: wellFormed(input.source.offset),
    },
  };
}

/**
 * The JSON form of a dead-letter record, for file sinks; validates against `DlqRecordSchema`.
 * `payloadBase64` holds the original value bytes (`""` for a null value). `key` is the
 * original key decoded as UTF-8: exact for UTF-8 keys, lossy (U+FFFD) otherwise — only the
 * Kafka form keeps arbitrary key bytes.
 */
export function toDlqJson(input: DlqInput): DlqRecord {
  checkSource(input.source);
  return {
    v: CONTRACT_VERSION,
    code: input.code,
    message: storedMessage(input.message),
    path: wellFormed(input.path),
    source: { topic: wellFormed(input.source.topic), partition: input.source.partition, offset: wellFormed(input.source.offset) },
    key: input.key === null ? null : utf8Lenient.decode(input.key),
    payloadBase64: input.value === null ? '' : input.value.toString('base64'),
  };
}

function headerText(headers: ReceivedDlqKafkaMessage['headers'], name: string): string {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined) throw new TrustlineError('INPUT_INVALID', `dead-letter message has no ${name} header`);
  return typeof first === 'string' ? first : utf8Lenient.decode(first);
}

function bytesOf(x: Buffer | string | null | undefined): Buffer | null {
  if (x === null || x === undefined) return null;
  return typeof x === 'string' ? Buffer.from(x, 'utf8') : x;
}

/**
 * Parse a dead-letter message read from Kafka back into its {@link DlqRecord} (the inverse
 * of {@link toDlqKafkaMessage}, for tools and tests): for any input,
 * `fromDlqKafkaMessage(toDlqKafkaMessage(x))` deep-equals `toDlqJson(x)`.
 *
 * @throws TrustlineError `INPUT_INVALID` when a header is missing or malformed.
 */
export function fromDlqKafkaMessage(msg: ReceivedDlqKafkaMessage): DlqRecord {
  const code = headerText(msg.headers, DLQ_HEADERS.code);
  if (!CODES.has(code)) throw new TrustlineError('INPUT_INVALID', `unknown dead-letter error code ${JSON.stringify(code)}`);
  const partitionText = headerText(msg.headers, DLQ_HEADERS.partition);
  const partition = Number(partitionText);
  if (!/^\d+$/.test(partitionText) || !Number.isSafeInteger(partition)) {
    throw new TrustlineError('INPUT_INVALID', `bad ${DLQ_HEADERS.partition} header ${JSON.stringify(partitionText)}`);
  }
  const key = bytesOf(msg.key);
  const value = bytesOf(msg.value);
  return {
    v: CONTRACT_VERSION,
    code: code as DeadLetterCode,
    message: headerText(msg.headers, DLQ_HEADERS.message),
    path: headerText(msg.headers, DLQ_HEADERS.path),
    source: { topic: headerText(msg.headers, DLQ_HEADERS.topic), partition, offset: headerText(msg.headers, DLQ_HEADERS.offset) },
    key: key === null ? null : utf8Lenient.decode(key),
    payloadBase64: value === null ? '' : value.toString('base64'),
  };
}
