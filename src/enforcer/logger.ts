/**
 * The enforcer's logger: any object with pino-style `debug/info/warn/error(fields, message)`
 * methods (a pino logger fits as it is). The default writes one JSON line per record to stderr
 * at `info` and above, in pino's shape (`level`, `time`, `name`, fields, `msg`), without pulling
 * pino into the light enforcer package. The enforcer logs kids, agent ids and outcomes, never key
 * material.
 */
export type EnforcerLogFn = (fields: object, message?: string) => void;

export type EnforcerLogger = {
  debug: EnforcerLogFn;
  info: EnforcerLogFn;
  warn: EnforcerLogFn;
  error: EnforcerLogFn;
};

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;

function plain(value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, ...(value.cause !== undefined ? { cause: plain(value.cause) } : {}) };
  return value;
}

/** A JSON-lines logger on stderr (or `write`), dropping records below `level`. */
export function createEnforcerLogger(options: { name?: string; level?: keyof typeof LEVELS | 'silent'; write?: (line: string) => void } = {}): EnforcerLogger {
  const name = options.name ?? 'trustline-enforcer';
  const min = options.level === 'silent' ? Infinity : LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const at =
    (level: keyof typeof LEVELS): EnforcerLogFn =>
    (fields, message) => {
      if (LEVELS[level] < min) return;
      // eslint-disable-next-line no-restricted-properties -- a log line's time is the wall clock
      const record: Record<string, unknown> = { level: LEVELS[level], time: Date.now(), name };
      for (const [k, v] of Object.entries(fields)) record[k] = plain(v);
      if (message !== undefined) record.msg = message;
      let line: string;
      try {
        line = JSON.stringify(record);
      } catch {
        line = JSON.stringify({ level: LEVELS[level], time: record.time, name, msg: message ?? '' });
      }
      write(`${line}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
