/**
 * Errors with a code from a closed list, a cause and a `retriable` flag.
 *
 * Adapters translate library failures into these; the supervisor decides from
 * `retriable` whether to back off and retry (Redis or Kafka down) or stop (bad config,
 * model/feature mismatch).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: false,
  MODEL_INVALID: false,
  MODEL_FEATURE_MISMATCH: false,
  STATE_UNAVAILABLE: true,
  STATE_CORRUPT: false,
  KAFKA_UNAVAILABLE: true,
  SINK_FAILED: true,
  INPUT_INVALID: false,
  SIGNATURE_INVALID: false,
  SHUTDOWN_TIMEOUT: false,
  USAGE: false,
  INTERNAL: false,
} as const satisfies Record<string, boolean>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TrustlineError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrustlineError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code];
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof TrustlineError ? err.retriable : false;
}
