/**
 * The state store's Lua scripts (`src/state/lua/<name>-<numKeys>.lua`), registered on an ioredis
 * client with `defineCommand` and typed here, so nothing else spells a script name or a return
 * code.
 *
 * ioredis sends `EVAL` with the full script the first time a connection uses it and `EVALSHA`
 * afterwards (also inside pipelines), so a pipeline of N scripts is still one round trip.
 */
import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis, RedisKey } from 'ioredis';

/** Return codes of `save-state-1.lua` (see its header). */
export const SAVE_STATE = {
  SAVED: 1,
  STALE: 0,
  BAD_ARGUMENT: -1,
  WATERMARK_MISMATCH: -2,
  STORED_CORRUPT: -3,
} as const;
export type SaveStateCode = (typeof SAVE_STATE)[keyof typeof SAVE_STATE];

/** Return codes of `save-audit-head-1.lua` (see its header). */
export const SAVE_AUDIT_HEAD = { SAVED: 1, STALE: 0, BAD_ARGUMENT: -1, STORED_CORRUPT: -3 } as const;

/** Script files and the command names they are registered under. */
const SCRIPTS = {
  trustlineSaveState: { file: 'save-state-1.lua', numberOfKeys: 1 },
  trustlineSaveAuditHead: { file: 'save-audit-head-1.lua', numberOfKeys: 1 },
} as const;

type ScriptName = keyof typeof SCRIPTS;

/** The typed script commands; `R` is `Promise<number>` on a client, the pipeline itself on a pipeline. */
export interface StateCommands<R> {
  /** `save-state-1.lua`: CAS of `state` at `key` on `watermark` (decimal string); replies a {@link SaveStateCode}. */
  trustlineSaveState(key: RedisKey, watermark: string, state: Buffer): R;
  /** `save-audit-head-1.lua`: CAS of an audit chain head at `key` on `position` (decimal string). */
  trustlineSaveAuditHead(key: RedisKey, position: string, value: Buffer): R;
}

/** A client with the state scripts defined. */
export type StateRedis = Redis & StateCommands<Promise<number>>;
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
    redis.defineCommand(name, { numberOfKeys: SCRIPTS[name].numberOfKeys, lua: scriptSource(name) });
  }
  return redis as StateRedis;
}

/** A pipeline of a client prepared by {@link defineStateCommands}. */
export function statePipeline(redis: StateRedis): StatePipeline {
  return redis.pipeline() as StatePipeline;
}

/** A MULTI/EXEC transaction (still one round trip) of a client prepared by {@link defineStateCommands}. */
export function stateTransaction(redis: StateRedis): StatePipeline {
  return redis.multi() as StatePipeline;
}
