/**
 * The model card (`models/<name>.json`), written by `models/train.py`: what the ONNX model
 * expects (feature names in order, feature version, input/output names), how to calibrate its raw
 * score, fleet feature statistics for reasons, and where its training data came from.
 *
 * Loading validates the whole card; any problem is a `MODEL_INVALID` error naming the file and
 * the offending fields. Unknown fields are ignored (newer trainers may add figures).
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { TrustlineError } from '../shared/errors.ts';
import { parseWith } from '../shared/schema.ts';
import { calibrationProblems, type Calibration } from './calibration.ts';

const hex64 = Type.String({ pattern: '^[0-9a-f]{64}$', errorMessage: 'must be 64 lowercase hex digits (sha256)' });
const nonEmpty = Type.String({ minLength: 1 });

const CalibrationSchema = Type.Object({
  method: Type.Literal('empirical_tail'),
  rows: Type.Integer({ minimum: 1 }),
  probabilities: Type.Array(Type.Number(), { minItems: 2 }),
  scores: Type.Array(Type.Number(), { minItems: 2 }),
});

const FeatureStatSchema = Type.Object({ p50: Type.Number(), p90: Type.Number(), p99: Type.Number(), max: Type.Number() });

export const ModelCardSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$', errorMessage: 'must be 1..128 of A-Z a-z 0-9 . _ -' }),
  version: Type.String({ minLength: 1, maxLength: 64 }),
  family: nonEmpty,
  /** Version of the feature vector the model was trained on; must equal the code's. */
  featureVersion: nonEmpty,
  /** Feature names in model input order. */
  features: Type.Array(nonEmpty, { minItems: 1 }),
  /** ONNX file, relative to the card's directory. */
  onnx: nonEmpty,
  /** sha256 of the ONNX file bytes; the loader refuses a file that does not match. */
  onnxSha256: hex64,
  /** Name of the float32 [rows, features.length] input. */
  input: nonEmpty,
  /** Name of the float32 [rows] (or [rows, 1]) raw-score output; higher = more anomalous. */
  output: nonEmpty,
  calibration: CalibrationSchema,
  /** Training-row statistics per feature (fleet baseline for reasons). */
  featureStats: Type.Record(Type.String(), FeatureStatSchema),
  trainingData: Type.Object({
    files: Type.Array(Type.String()),
    rows: Type.Integer({ minimum: 1 }),
    sha256: hex64,
    synthetic: Type.Optional(Type.Boolean()),
  }),
  params: Type.Record(Type.String(), Type.Unknown()),
  evaluation: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  toolchain: Type.Optional(Type.Record(Type.String(), Type.String())),
  seed: Type.Integer(),
  createdBy: nonEmpty,
});

/** A validated model card. */
export type ModelCard = Static<typeof ModelCardSchema> & { calibration: Calibration };

/** Statistics of one feature over the training rows. */
export type FeatureStat = Static<typeof FeatureStatSchema>;

/** What the schema cannot say: a sound calibration, unique feature names, stats for every feature. */
function crossFieldProblems(card: Static<typeof ModelCardSchema>): string[] {
  const out = calibrationProblems(card.calibration).map((m) => `calibration: ${m}`);
  const seen = new Set<string>();
  card.features.forEach((f, i) => {
    if (seen.has(f)) out.push(`features.${i}: duplicate feature name "${f}"`);
    seen.add(f);
    if (!Object.hasOwn(card.featureStats, f)) out.push(`featureStats: missing stats for feature "${f}"`);
  });
  return out;
}

/**
 * Validates an already parsed card.
 *
 * @param source where it came from, for error messages
 * @throws TrustlineError `MODEL_INVALID` listing the offending fields
 */
export function parseModelCard(json: unknown, source: string): ModelCard {
  const r = parseWith(ModelCardSchema, json);
  const problems = r.ok ? crossFieldProblems(r.value) : r.problems;
  if (!r.ok || problems.length) throw new TrustlineError('MODEL_INVALID', `invalid model card ${source}: ${problems.slice(0, 10).join('; ')}`);
  return r.value as ModelCard;
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
      missing
        ? `model card not found: ${cardPath} (set model.card / TRUSTLINE_MODEL_CARD to a card written by models/train.py, or leave it unset for the model that ships with trustline)`
        : `cannot read model card ${cardPath}`,
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
