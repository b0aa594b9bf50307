/**
 * The pino logger. Credentials never reach a log line: known secret-bearing paths are
 * redacted, and config objects must be logged through `describeConfig`.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const SECRET_KEYS = ['password', 'secret', 'token', 'accessToken', 'refreshToken', 'apiKey', 'api_key', 'authorization', 'cookie', 'privateKey', 'key', 'keys'];

/** Redaction paths: the secret keys at the top level and up to three levels deep. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`, `headers["${k}"]`]);

export function createLogger(options: { level?: LevelWithSilent; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts = {
    name: options.name ?? 'trustline',
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: undefined,
  };
  return options.destination ? pino(opts, options.destination as unknown as pino.DestinationStream) : pino(opts, pino.destination({ fd: 2, sync: false }));
}
