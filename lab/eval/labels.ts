/**
 * Ground-truth labels of an event file (the `x.labels.json` sidecar of `x.jsonl[.gz]`): per
 * agent id, whether it is malicious, its scenario (attack type, or the benign profile), and the
 * event time its attack starts. Validated on load; unknown fields are ignored.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TrustlineError } from '../../src/shared/errors.ts';

const AgentLabelSchema = z
  .object({
    malicious: z.boolean(),
    scenario: z.string().min(1),
    attackStartTs: z.number().nullable(),
    tenant: z.string().optional(),
    profile: z.string().optional(),
    traits: z.array(z.string()).optional(),
  })
  .superRefine((l, ctx) => {
    if (l.malicious && l.attackStartTs === null) ctx.addIssue({ code: 'custom', message: 'a malicious agent needs an attackStartTs' });
  });

const LabelsSchema = z.object({
  set: z.string().optional(),
  seed: z.number().optional(),
  agents: z.record(z.string(), AgentLabelSchema),
});

/** One agent's label. */
export type AgentLabel = z.infer<typeof AgentLabelSchema>;
/** A whole labels file. */
export type Labels = z.infer<typeof LabelsSchema>;

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
  const r = LabelsSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`)
      .join('; ');
    throw new TrustlineError('INPUT_INVALID', `${source}: not a valid labels file: ${issues}`);
  }
  return r.data;
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
    throw new TrustlineError('INPUT_INVALID', `${path}: cannot read labels file (${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message})`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TrustlineError('INPUT_INVALID', `${path}: labels file is not valid JSON (${(cause as Error).message})`, { cause });
  }
  return parseLabels(json, path);
}
