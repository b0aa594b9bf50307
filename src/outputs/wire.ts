/**
 * The wire bytes of an output record, serialised once.
 *
 * Every record the pipeline emits (trust update, circuit signal, escalation, audit record) is
 * built together with its JSON text — exactly `JSON.stringify(record)`, the bytes the Kafka sink
 * sends and the replay sink writes — from the same serialised fields that its signature or audit
 * hash covers (docs/decisions.md, "Outputs serialised once"). The text rides on the record in a
 * private field ({@link Wired}): invisible to `JSON.stringify`, `Object.keys`, spreads and test
 * equality, so a copy or an edited spread never carries stale bytes. Records are immutable once
 * built; {@link wireJson} falls back to `JSON.stringify` for records built elsewhere.
 */

/**
 * Base of records that carry their wire JSON in a private field: not a property at all, so
 * invisible to `JSON.stringify`, `Object.keys`, spreads and test equality, and cheaper to create
 * than a non-enumerable property (which also turns the object into a slow dictionary). Subclasses
 * assign their fields in the contract's order, so the object's own key order is the wire order.
 */
export class Wired {
  readonly #wire: string;
  constructor(wire: string) {
    this.#wire = wire;
  }
  /** The carried JSON of `record`, or undefined for any other object. */
  static wireOf(record: object): string | undefined {
    return #wire in record ? (record as Wired).#wire : undefined;
  }
}

/** `record`'s fields, in order, on a {@link Wired} carrying `json` (which must equal `JSON.stringify(record)`). */
export function withWire<T extends object>(record: T, json: string): T {
  return Object.assign(new Wired(json), record) as T;
}

/** The record's JSON text: the carried bytes, or `JSON.stringify(record)`. */
export function wireJson(record: object): string {
  return Wired.wireOf(record) ?? JSON.stringify(record);
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
