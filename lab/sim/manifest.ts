/**
 * `fixtures/sets.json`: the seeds and parameters of every committed fixture set.
 * Regenerating from this manifest reproduces the committed files byte for byte.
 */
import { readFileSync } from 'node:fs';
import { SCENARIO_NAMES, type Manifest, type SetSpec } from './types.ts';

const KINDS = new Set(['train', 'validation', 'demo']);
const KEYS = new Set([
  'name',
  'file',
  'seed',
  'kind',
  'startTs',
  'durationMin',
  'benignAgents',
  'secondTenantAgents',
  'attacks',
  'intensity',
  'minPreAttackEvents',
  'attackWindow',
  'coldStartShare',
]);

function fail(where: string, msg: string): never {
  throw new Error(`fixtures manifest: ${where}: ${msg}`);
}

function num(where: string, v: unknown, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    fail(where, `must be a${integer ? 'n integer' : ' number'} in [${min}, ${max}]`);
  return v;
}

/** Validate a parsed manifest; throws an error naming the offending set and field. */
export function parseManifest(doc: unknown): Manifest {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail('/', 'must be an object');
  const m = doc as { version?: unknown; sets?: unknown };
  if (m.version !== 1) fail('/version', 'must be 1');
  if (!Array.isArray(m.sets)) fail('/sets', 'must be an array');
  const names = new Set<string>();
  const sets: SetSpec[] = m.sets.map((raw: unknown, i: number) => {
    const at = `/sets/${i}`;
    if (raw === null || typeof raw !== 'object') fail(at, 'must be an object');
    const s = raw as Record<string, unknown>;
    for (const k of Object.keys(s)) if (!KEYS.has(k)) fail(`${at}/${k}`, 'unknown key');
    if (typeof s.name !== 'string' || !/^[a-z0-9-]+$/.test(s.name)) fail(`${at}/name`, 'must be kebab-case');
    if (names.has(s.name)) fail(`${at}/name`, 'duplicate');
    names.add(s.name);
    if (typeof s.file !== 'string' || !/^[a-z0-9/_-]+\.jsonl(\.gz)?$/.test(s.file) || s.file.includes('..'))
      fail(`${at}/file`, 'must be a relative .jsonl or .jsonl.gz path');
    if (typeof s.kind !== 'string' || !KINDS.has(s.kind)) fail(`${at}/kind`, 'must be train, validation or demo');
    const attacks = s.attacks;
    if (attacks === null || typeof attacks !== 'object' || Array.isArray(attacks)) fail(`${at}/attacks`, 'must be an object');
    for (const [k, v] of Object.entries(attacks)) {
      if (!(SCENARIO_NAMES as readonly string[]).includes(k)) fail(`${at}/attacks/${k}`, 'unknown scenario');
      num(`${at}/attacks/${k}`, v, 0, 1000, true);
    }
    const w = s.attackWindow;
    if (!Array.isArray(w) || w.length !== 2) fail(`${at}/attackWindow`, 'must be [from, to]');
    const w0 = num(`${at}/attackWindow/0`, w[0], 0, 1);
    const w1 = num(`${at}/attackWindow/1`, w[1], w0, 1);
    const benign = num(`${at}/benignAgents`, s.benignAgents, 0, 100_000, true);
    return {
      name: s.name,
      file: s.file,
      seed: num(`${at}/seed`, s.seed, 0, 2 ** 31 - 1, true),
      kind: s.kind as SetSpec['kind'],
      startTs: num(`${at}/startTs`, s.startTs, 946_684_800_000, 4_102_444_800_000, true),
      durationMin: num(`${at}/durationMin`, s.durationMin, 1, 60 * 24 * 14),
      benignAgents: benign,
      secondTenantAgents: num(`${at}/secondTenantAgents`, s.secondTenantAgents, 0, benign, true),
      attacks: attacks as SetSpec['attacks'],
      intensity: num(`${at}/intensity`, s.intensity, 0.01, 10_000),
      minPreAttackEvents: num(`${at}/minPreAttackEvents`, s.minPreAttackEvents, 1, 100_000, true),
      attackWindow: [w0, w1],
      coldStartShare: num(`${at}/coldStartShare`, s.coldStartShare, 0, 1),
    };
  });
  return { version: 1, sets };
}

/** Read and validate a manifest file. */
export function loadManifest(path: string): Manifest {
  return parseManifest(JSON.parse(readFileSync(path, 'utf8')));
}
