/**
 * ONNX anomaly scorer: the model card + one onnxruntime session, scoring whole batches.
 *
 * Guarantees:
 * - The session is created once per scorer; each `scoreRaw`/`score` call is exactly one
 *   `session.run` over the whole batch, never one per row.
 * - Loading refuses a model whose features (names, order, feature version) differ from the code's
 *   (`MODEL_FEATURE_MISMATCH`), and a card whose ONNX file is missing, altered (sha256), or whose
 *   graph input/output do not match the card (`MODEL_INVALID`). Both are non-retriable: the
 *   process must not start with them.
 * - With `intraOpThreads = 1` (the default) scores are bit-for-bit reproducible, so a replayed
 *   batch yields identical outputs. More threads may change the floating-point summation order
 *   across trees (differences around 1e-7 relative).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { TrustlineError } from '../shared/errors.ts';
import { calibrateAll } from './calibration.ts';
import { loadModelCard, type ModelCard } from './model-card.ts';

/** Options of {@link loadScorer}. */
export type ScorerOptions = {
  /** Path of the model card (JSON); the ONNX file is resolved relative to it. */
  cardPath: string;
  /** The code's feature names in vector order; the card must list exactly these, in this order. */
  expectedFeatures: readonly string[];
  /** The code's feature version; when given, the card's `featureVersion` must equal it. */
  expectedFeatureVersion?: string | number;
  /** onnxruntime intra-op threads (default 1; see the reproducibility note above). */
  intraOpThreads?: number;
};

/** A loaded model. Not safe to use after {@link Scorer.close}. */
export interface Scorer {
  /** The validated model card. */
  readonly card: ModelCard;
  /** `name@version`, as carried in trust updates. */
  readonly modelId: string;
  /** Number of features per row (= `card.features.length`). */
  readonly featureCount: number;
  /**
   * Raw anomaly scores (higher = more anomalous) for a row-major [rows × featureCount] float32
   * matrix; `matrix.length` must equal `rows * featureCount` (a subarray view is fine). Inputs
   * must be finite. One `session.run` per call; 0 rows resolve to an empty array without a run.
   */
  scoreRaw(matrix: Float32Array, rows: number): Promise<Float32Array>;
  /** Calibrated anomaly in [0, 1] per row (see `calibrate`); same input contract as `scoreRaw`. */
  score(matrix: Float32Array, rows: number): Promise<Float32Array>;
  /** Releases the session. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Describes how `actual` (the model's features) differs from `expected` (the code's), or returns
 * null when they are identical in names and order.
 */
export function describeFeatureMismatch(expected: readonly string[], actual: readonly string[]): string | null {
  const n = Math.max(expected.length, actual.length);
  let first = -1;
  for (let i = 0; i < n; i++) {
    if (expected[i] !== actual[i]) {
      first = i;
      break;
    }
  }
  if (first < 0) return null;
  const inModel = new Set(actual);
  const inCode = new Set(expected);
  const missing = expected.filter((f) => !inModel.has(f));
  const extra = actual.filter((f) => !inCode.has(f));
  const show = (v: string | undefined): string => (v === undefined ? '(none)' : `"${v}"`);
  const list = (v: string[]): string => (v.length ? v.map((f) => `"${f}"`).join(', ') : 'none');
  const parts = [
    `first difference at position ${first}: model has ${show(actual[first])}, code expects ${show(expected[first])}`,
    `missing from model: ${list(missing)}`,
    `extra in model: ${list(extra)}`,
  ];
  if (missing.length === 0 && extra.length === 0) parts.push('same names in a different order');
  parts.push(`model has ${actual.length} features, code has ${expected.length}`);
  return parts.join('; ');
}

function tensorMeta(metas: readonly ort.InferenceSession.ValueMetadata[], name: string): ort.InferenceSession.ValueMetadata | undefined {
  return metas.find((m) => m.name === name);
}

function isDynamicDim(d: number | string | undefined): boolean {
  return typeof d === 'string' || (typeof d === 'number' && d < 1);
}

/** Checks the graph's signature against the card; returns problems (empty when it matches). */
function signatureProblems(session: ort.InferenceSession, card: ModelCard): string[] {
  const out: string[] = [];
  const n = card.features.length;
  if (session.inputNames.length !== 1 || session.inputNames[0] !== card.input) {
    out.push(`graph inputs are [${session.inputNames.join(', ')}], card expects exactly "${card.input}"`);
  } else {
    const m = tensorMeta(session.inputMetadata, card.input);
    if (m && m.isTensor) {
      if (m.type !== 'float32') out.push(`input "${card.input}" is ${m.type}, expected float32`);
      if (m.shape.length !== 2 || !isDynamicDim(m.shape[0]) || m.shape[1] !== n) {
        out.push(`input "${card.input}" has shape [${m.shape.join(', ')}], expected [rows, ${n}]`);
      }
    } else if (m) {
      out.push(`input "${card.input}" is not a tensor`);
    }
  }
  if (!session.outputNames.includes(card.output)) {
    out.push(`graph outputs are [${session.outputNames.join(', ')}], card expects "${card.output}"`);
  } else {
    const m = tensorMeta(session.outputMetadata, card.output);
    if (m && m.isTensor) {
      if (m.type !== 'float32') out.push(`output "${card.output}" is ${m.type}, expected float32`);
      const okShape = (m.shape.length === 1 && isDynamicDim(m.shape[0])) || (m.shape.length === 2 && isDynamicDim(m.shape[0]) && m.shape[1] === 1);
      if (m.shape.length > 0 && !okShape) out.push(`output "${card.output}" has shape [${m.shape.join(', ')}], expected [rows] or [rows, 1]`);
    } else if (m) {
      out.push(`output "${card.output}" is not a tensor`);
    }
  }
  return out;
}

/**
 * Loads the model card and its ONNX model, checks both against the code, and creates the
 * inference session (intra-op threads from the option, inter-op 1, all graph optimizations).
 *
 * @throws TrustlineError `MODEL_FEATURE_MISMATCH` when the card's features (order matters) or
 *   feature version differ from the code's — the message names the first differing position and
 *   the missing and extra names.
 * @throws TrustlineError `MODEL_INVALID` when the card is missing or invalid, the ONNX file is
 *   missing, does not match the card's sha256, cannot be loaded, or its input/output do not match.
 */
export async function loadScorer(options: ScorerOptions): Promise<Scorer> {
  const { cardPath, expectedFeatures, expectedFeatureVersion, intraOpThreads = 1 } = options;
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) {
    throw new TrustlineError('CONFIG_INVALID', `intraOpThreads must be a positive integer, got ${intraOpThreads}`);
  }
  const card = loadModelCard(cardPath);
  const modelId = `${card.name}@${card.version}`;

  const mismatch = describeFeatureMismatch(expectedFeatures, card.features);
  if (mismatch) {
    throw new TrustlineError(
      'MODEL_FEATURE_MISMATCH',
      `model ${modelId} (${cardPath}) was trained on a different feature vector than this build computes: ${mismatch}. ` +
        'Retrain the model (npm run train) or deploy the build it was trained for.',
    );
  }
  if (expectedFeatureVersion !== undefined && String(expectedFeatureVersion) !== card.featureVersion) {
    throw new TrustlineError(
      'MODEL_FEATURE_MISMATCH',
      `model ${modelId} (${cardPath}) was trained on feature version ${card.featureVersion}, this build computes version ${expectedFeatureVersion}. ` +
        'Retrain the model (npm run train) or deploy the build it was trained for.',
    );
  }

  const onnxPath = resolve(dirname(cardPath), card.onnx);
  let bytes: Buffer;
  try {
    bytes = readFileSync(onnxPath);
  } catch (cause) {
    throw new TrustlineError('MODEL_INVALID', `ONNX file of model ${modelId} not found or unreadable: ${onnxPath}`, { cause });
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== card.onnxSha256) {
    throw new TrustlineError('MODEL_INVALID', `ONNX file ${onnxPath} does not match its card ${cardPath} (sha256 ${sha}, card says ${card.onnxSha256})`);
  }

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
  } catch (cause) {
    throw new TrustlineError('MODEL_INVALID', `onnxruntime cannot load ${onnxPath}: ${(cause as Error).message}`, { cause });
  }
  const problems = signatureProblems(session, card);
  if (problems.length > 0) {
    await session.release();
    throw new TrustlineError('MODEL_INVALID', `model ${onnxPath} does not match its card ${cardPath}: ${problems.join('; ')}`);
  }

  const n = card.features.length;
  let closed = false;

  const scoreRaw = async (matrix: Float32Array, rows: number): Promise<Float32Array> => {
    if (closed) throw new TrustlineError('INTERNAL', `scorer ${modelId} is closed`);
    if (!Number.isInteger(rows) || rows < 0 || matrix.length !== rows * n) {
      throw new TrustlineError('INTERNAL', `score matrix has ${matrix.length} values, expected rows (${rows}) × features (${n})`);
    }
    if (rows === 0) return new Float32Array(0);
    const input = new ort.Tensor('float32', matrix, [rows, n]);
    const result = await session.run({ [card.input]: input }, [card.output]);
    const out = result[card.output];
    if (!out || out.type !== 'float32' || out.data.length !== rows) {
      throw new TrustlineError('MODEL_INVALID', `model ${modelId} returned ${out ? `${out.type}[${out.dims.join(',')}]` : 'nothing'} for ${rows} rows`);
    }
    const raw = new Float32Array(out.data as Float32Array); // copy out of onnxruntime-owned memory
    out.dispose();
    return raw;
  };

  return {
    card,
    modelId,
    featureCount: n,
    scoreRaw,
    async score(matrix, rows) {
      const raw = await scoreRaw(matrix, rows);
      return calibrateAll(raw, card.calibration, raw);
    },
    async close() {
      if (closed) return;
      closed = true;
      await session.release();
    },
  };
}
