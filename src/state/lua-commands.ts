/**
 * The state store's Lua scripts (`src/state/lua/save-many.lua`, `load-many.lua`), registered on an ioredis
 * client with `defineCommand` and typed here, so nothing else spells a script name or a return
 * code.
 *
 * ioredis sends `EVAL` with the full script the first time a connection uses it and `EVALSHA`
 * afterwards (also inside pipelines). One call saves a whole batch (src/state/redis-store.ts).
 */
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis, RedisKey } from 'ioredis';

/** Return codes of `save-many.lua` (see its header), one per record. */
export const SAVE_CODE = {
  SAVED: 1,
  STALE: 0,
  BAD_ARGUMENT: -1,
  POSITION_MISMATCH: -2,
  STORED_CORRUPT: -3,
  WRONG_TYPE: -4,
} as const;
export type SaveCode = (typeof SAVE_CODE)[keyof typeof SAVE_CODE];

/** Script files and the command names they are registered under (`numberOfKeys: null`: the key count is the first argument). */
const SCRIPTS = {
  trustlineSaveMany: { file: 'save-many.lua', numberOfKeys: null },
  trustlineLoadMany: { file: 'load-many.lua', numberOfKeys: null },
} as const;

type ScriptName = keyof typeof SCRIPTS;

/** Lua position of the float64 position inside a record: agent states at byte 1, audit heads at byte 0. */
export const POSITION_AT = { state: 2, auditHead: 1 } as const;

/** The typed script commands; `R` is `Promise<number[]>` on a client, the pipeline itself on a pipeline. */
export interface StateCommands<R> {
  /**
   * `save-many.lua`: compare-and-set of many records in one call: `numKeys`, the keys, then 5 args
   * per record (arrays, which ioredis flattens: no spread of a whole batch into one call): key index (1-based), field ('' = whole key), Lua position of the float64,
   * new position (decimal string), record bytes. Replies one {@link SaveCode} per record.
   */
  trustlineSaveMany(numKeys: number, keys: RedisKey[], args: (string | number | Buffer)[]): R;
}

/** The read script, Buffer replies: `load-many.lua` (`numKeys`, the keys, then key index and field per record). */
export interface LoadCommands<R> {
  trustlineLoadManyBuffer(numKeys: number, keys: RedisKey[], args: (string | number)[]): R;
}

/** A client with the state scripts defined. */
export type StateRedis = Redis & StateCommands<Promise<number[]>> & LoadCommands<Promise<(Buffer | null)[]>>;
/** A pipeline of such a client. */
export type StatePipeline = ChainableCommander & StateCommands<StatePipeline>;

const sources = new Map<ScriptName, string>();

/** Script source, read from its file once per process. */
export function scriptSource(name: ScriptName): string {
  let lua = sources.get(name);
  if (lua === undefined) {
    lua = readFileSync(new URL(`./lua/${SCRIPTS[name].file}`, import.meta.url), 'utf8');
    sources.set(name, lua);
  }
  return lua;
}

/**
 * Defines the state scripts on `redis` (once per client: a second call finds them defined and
 * does nothing) and returns it typed.
 */
export function defineStateCommands(redis: Redis): StateRedis {
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] === 'function') continue;
    const { numberOfKeys } = SCRIPTS[name];
    redis.defineCommand(name, { ...(numberOfKeys === null ? {} : { numberOfKeys }), lua: scriptSource(name) });
  }
  return redis as StateRedis;
}

/** A pipeline of a client prepared by {@link defineStateCommands}. */
export function statePipeline(redis: StateRedis): StatePipeline {
  return redis.pipeline() as StatePipeline;
}
