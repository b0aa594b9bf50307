/**
 * The model card (`models/<name>.json`), written by `models/train.py`: what the ONNX model
 * expects (feature names in order, feature version, input/output names), how to calibrate its raw
 * score, fleet feature statistics for reasons, and where its training data came from.
 *
 * Loading validates the whole card; any problem is a `MODEL_INVALID` error naming the file and
 * the offending fields. Unknown fields are ignored (newer trainers may add figures).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TrustlineError } from '../shared/errors.ts';
import { calibrationProblems, type Calibration } from './calibration.ts';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (sha256)');

const CalibrationSchema = z
  .object({
    method: z.literal('empirical_tail'),
    rows: z.number().int().positive(),
    probabilities: z.array(z.number()).min(2),
    scores: z.array(z.number()).min(2),
  })
  .superRefine((c, ctx) => {
    for (const message of calibrationProblems(c)) ctx.addIssue({ code: 'custom', message });
  });

const FeatureStatSchema = z.object({ p50: z.number(), p90: z.number(), p99: z.number(), max: z.number() });

export const ModelCardSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1..128 of A-Z a-z 0-9 . _ -'),
    version: z.string().min(1).max(64),
    family: z.string().min(1),
    /** Version of the feature vector the model was trained on; must equal the code's. */
    featureVersion: z.string().min(1),
    /** Feature names in model input order. */
    features: z.array(z.string().min(1)).min(1),
    /** ONNX file, relative to the card's directory. */
    onnx: z.string().min(1),
    /** sha256 of the ONNX file bytes; the loader refuses a file that does not match. */
    onnxSha256: hex64,
    /** Name of the float32 [rows, features.length] input. */
    input: z.string().min(1),
    /** Name of the float32 [rows] (or [rows, 1]) raw-score output; higher = more anomalous. */
    output: z.string().min(1),
    calibration: CalibrationSchema,
    /** Training-row statistics per feature (fleet baseline for reasons). */
    featureStats: z.record(z.string(), FeatureStatSchema),
    trainingData: z.object({
      files: z.array(z.string()),
      rows: z.number().int().positive(),
      sha256: hex64,
      synthetic: z.boolean().optional(),
    }),
    params: z.record(z.string(), z.unknown()),
    evaluation: z.record(z.string(), z.unknown()).optional(),
    toolchain: z.record(z.string(), z.string()).optional(),
    seed: z.number().int(),
    createdBy: z.string().min(1),
  })
  .superRefine((card, ctx) => {
    const seen = new Set<string>();
    card.features.forEach((f, i) => {
      if (seen.has(f)) ctx.addIssue({ code: 'custom', path: ['features', i], message: `duplicate feature name "${f}"` });
      seen.add(f);
      if (!Object.hasOwn(card.featureStats, f)) ctx.addIssue({ code: 'custom', path: ['featureStats'], message: `missing stats for feature "${f}"` });
    });
  });

/** A validated model card. */
export type ModelCard = z.infer<typeof ModelCardSchema> & { calibration: Calibration };

/** Statistics of one feature over the training rows. */
export type FeatureStat = z.infer<typeof FeatureStatSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.join('.') : '(card)'}: ${i.message}`)
    .join('; ');
}

/**
 * Validates an already parsed card.
 *
 * @param source where it came from, for error messages
 * @throws TrustlineError `MODEL_INVALID` listing the offending fields
 */
export function parseModelCard(json: unknown, source: string): ModelCard {
  const r = ModelCardSchema.safeParse(json);
  if (!r.success) throw new TrustlineError('MODEL_INVALID', `invalid model card ${source}: ${describeIssues(r.error)}`);
  return r.data as ModelCard;
}

/**
 * Reads and validates a model card file.
 *
 * @throws TrustlineError `MODEL_INVALID` when the file is missing, not JSON, or not a valid card
 */
export function loadModelCard(cardPath: string): ModelCard {
  let text: string;
  try {
    text = readFileSync(cardPath, 'utf8');
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TrustlineError(
      'MODEL_INVALID',
      missing ? `model card not found: ${cardPath} (set model.card / TRUSTLINE_MODEL_CARD to a card written by models/train.py, or leave it unset for the model that ships with trustline)` : `cannot read model card ${cardPath}`,
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TrustlineError('MODEL_INVALID', `model card ${cardPath} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseModelCard(json, cardPath);
}
