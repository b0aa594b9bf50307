/**
 * Parsing configuration-like documents with TypeBox, the project's one schema library (the wire
 * contract, the configuration, the model card, the enforcer's policies): defaults filled in,
 * then every problem reported with its path. A schema may carry an `errorMessage` that replaces
 * the generic message for that node.
 */
import { type Static, type TSchema } from '@sinclair/typebox';
import { DefaultErrorFunction, SetErrorFunction } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';

SetErrorFunction((params) => {
  const custom = (params.schema as { errorMessage?: unknown }).errorMessage;
  return typeof custom === 'string' ? custom : DefaultErrorFunction(params);
});

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** `raw` with the schema's defaults filled in (a copy; `raw` is not changed), checked; problems as `a.b.c: message`. */
export function parseWith<T extends TSchema>(schema: T, raw: unknown): ParseResult<Static<T>> {
  const value = Value.Default(schema, Value.Clone(raw)) as unknown;
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, value)) {
    const where = e.path.split('/').filter(Boolean).join('.') || '(root)';
    const line = `${where}: ${e.message}`;
    // A union reports each branch; one line per path is enough to fix it.
    if (seen.has(where)) continue;
    seen.add(where);
    problems.push(line);
  }
  return problems.length ? { ok: false, problems } : { ok: true, value: value as Static<T> };
}

/** Like {@link parseWith}, throwing an Error that lists the problems. */
export function parseOrThrow<T extends TSchema>(schema: T, raw: unknown, what: string): Static<T> {
  const r = parseWith(schema, raw);
  if (!r.ok) throw new Error(`invalid ${what}: ${r.problems.join('; ')}`);
  return r.value;
}

/** Every property optional, all the way down (configuration overrides). */
export type DeepPartial<T> = T extends readonly (infer U)[] ? readonly U[] | U[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
