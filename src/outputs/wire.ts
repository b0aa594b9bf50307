/**
 * The wire bytes of an output record, serialised once.
 *
 * Every record the pipeline emits (trust update, circuit signal, escalation, audit record) is
 * built together with its JSON text — exactly `JSON.stringify(record)`, the bytes the Kafka sink
 * sends and the replay sink writes — from the same serialised fields that its signature or audit
 * hash covers (docs/benchmarks.md, "one serialisation per record"). The text rides on the record
 * as a non-enumerable symbol property: invisible to `JSON.stringify`, `Object.keys`, spreads and
 * test equality, so a copy or an edited spread never carries stale bytes. Records are immutable
 * once built; {@link wireJson} falls back to `JSON.stringify` for records built elsewhere.
 */

const WIRE = Symbol('trustline.wire');

/** Attaches `json` (which must equal `JSON.stringify(record)`) to `record`; returns the record. */
export function withWire<T extends object>(record: T, json: string): T {
  Object.defineProperty(record, WIRE, { value: json, enumerable: false, writable: false, configurable: false });
  return record;
}

/** The record's JSON text: the attached bytes, or `JSON.stringify(record)`. */
export function wireJson(record: object): string {
  const json = (record as { [WIRE]?: string })[WIRE];
  return json ?? JSON.stringify(record);
}

/** JSON text of a string (JSON.stringify, which RFC 8785 canonical form shares for strings). */
export const q = (s: string): string => JSON.stringify(s);

/**
 * JSON text of a finite number. ECMAScript's Number-to-String is both `JSON.stringify`'s and
 * RFC 8785's number form, so one text serves the wire and the canonical encoding.
 */
export function n(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
  return String(x);
}
