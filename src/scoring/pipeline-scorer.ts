/**
 * The scorer as the batch pipeline uses it: the ONNX scorer bound to this build's feature vector
 * (`FEATURE_NAMES`, `FEATURE_VERSION`), with the card's feature statistics in vector order.
 *
 * Loading refuses (non-retriable `MODEL_FEATURE_MISMATCH` / `MODEL_INVALID`) a model trained on
 * other features, so the processor never starts with a model that reads the wrong columns.
 */
import { FEATURE_NAMES, FEATURE_VERSION } from '../core/features.ts';
import type { FeatureStats } from '../core/reasons.ts';
import type { AnomalyScorer } from '../pipeline/batch-processor.ts';
import { loadScorer, type Scorer } from './onnx-scorer.ts';

/** An {@link AnomalyScorer} that owns an ONNX session. */
export interface PipelineScorer extends AnomalyScorer {
  /** The underlying scorer (card, raw scores). */
  readonly scorer: Scorer;
  /** Releases the session. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Loads the model card at `cardPath` for this build's features.
 *
 * @throws TrustlineError `MODEL_FEATURE_MISMATCH` or `MODEL_INVALID` (see `loadScorer`)
 */
export async function loadAnomalyScorer(cardPath: string, intraOpThreads = 1): Promise<PipelineScorer> {
  const scorer = await loadScorer({ cardPath, expectedFeatures: FEATURE_NAMES, expectedFeatureVersion: FEATURE_VERSION, intraOpThreads });
  const featureStats: FeatureStats = scorer.card.features.map((f) => {
    const s = scorer.card.featureStats[f]!; // the card schema guarantees stats for every feature
    return { p50: s.p50, p99: s.p99 };
  });
  return {
    scorer,
    modelId: scorer.modelId,
    featureStats,
    score: (matrix, rows) => scorer.score(matrix, rows),
    close: () => scorer.close(),
  };
}
