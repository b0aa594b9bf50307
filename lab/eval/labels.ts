/**
 * Ground-truth labels of an event file (the `x.labels.json` sidecar of `x.jsonl[.gz]`): per
 * agent id, whether it is malicious, its scenario (attack type, or the benign profile), and the
 * event time its attack starts. Validated on load; unknown fields are ignored.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { TrustlineError } from '../../src/shared/errors.ts';
import { parseWith } from '../../src/shared/schema.ts';

const AgentLabelSchema = Type.Object({
  malicious: Type.Boolean(),
  scenario: Type.String({ minLength: 1 }),
  attackStartTs: Type.Union([Type.Number(), Type.Null()]),
  tenant: Type.Optional(Type.String()),
  profile: Type.Optional(Type.String()),
  traits: Type.Optional(Type.Array(Type.String())),
});

const LabelsSchema = Type.Object({
  set: Type.Optional(Type.String()),
  seed: Type.Optional(Type.Number()),
  agents: Type.Record(Type.String(), AgentLabelSchema),
});

/** One agent's label. */
export type AgentLabel = Static<typeof AgentLabelSchema>;
/** A whole labels file. */
export type Labels = Static<typeof LabelsSchema>;

/** The labels sidecar of an event file: `x.jsonl` or `x.jsonl.gz` → `x.labels.json`. */
export function sidecarOf(file: string): string {
  return file.replace(/\.jsonl(\.gz)?$/, '') + '.labels.json';
}

/**
 * Validates parsed labels.
 *
 * @throws TrustlineError `INPUT_INVALID` naming the source and the offending fields
 */
export function parseLabels(json: unknown, source: string): Labels {
  const r = parseWith(LabelsSchema, json);
  const problems = r.ok
    ? Object.entries(r.value.agents).flatMap(([id, l]) =>
        l.malicious && l.attackStartTs === null ? [`agents.${id}: a malicious agent needs an attackStartTs`] : [],
      )
    : r.problems;
  if (!r.ok || problems.length) throw new TrustlineError('INPUT_INVALID', `${source}: not a valid labels file: ${problems.slice(0, 5).join('; ')}`);
  return r.value;
}

/**
 * Reads and validates a labels file.
 *
 * @throws TrustlineError `INPUT_INVALID` (`<file>: <reason>`, no usage text) when it is missing, not JSON or invalid
 */
export function loadLabels(path: string): Labels {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new TrustlineError(
      'INPUT_INVALID',
      `${path}: cannot read labels file (${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message})`,
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TrustlineError('INPUT_INVALID', `${path}: labels file is not valid JSON (${(cause as Error).message})`, { cause });
  }
  return parseLabels(json, path);
}
