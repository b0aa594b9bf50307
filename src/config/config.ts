/**
 * Configuration, parsed once at start.
 *
 * Sources, later wins: built-in defaults < JSON file (`TRUSTLINE_CONFIG` or `--config`) <
 * environment variables. Unknown keys (in the file) and unknown `TRUSTLINE_*` variables are
 * rejected with the name of the wrong setting. Nothing else in trustline reads `process.env`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TrustlineError } from '../shared/errors.ts';
import { BUNDLED_MODEL_CARD } from '../shared/package-files.ts';
import { RouteRulesSchema, defaultRouteRules } from '../core/routes.ts';

const positiveInt = z.number().int().positive();

/** The built-in development signing key: replays and the demo sign with it; `trustline run` only with `insecureDevKeys`. */
export const DEV_SIGNING_KEY = Object.freeze({ kid: 'dev', alg: 'HS256' as const, secret: 'trustline-dev-signing-key-NOT-FOR-PRODUCTION' });

/** True when records would be signed with the built-in development key. */
export function usesDevSigningKey(config: Config): boolean {
  return config.signing.keys.some((k) => k.kid === config.signing.activeKid && k.secret === DEV_SIGNING_KEY.secret);
}

/**
 * `kid:secret[,kid:secret…]` → HS256 keys. An entry without a kid is an error, and the message names
 * the entry by position only: no part of a secret may reach a log line or a record's `sig.kid`.
 */
function parseKeyRing(v: string): unknown {
  return v.split(',').map((pair, i) => {
    const c = pair.indexOf(':');
    const kid = c > 0 ? pair.slice(0, c).trim() : '';
    const secret = c > 0 ? pair.slice(c + 1).trim() : '';
    if (!kid || !secret) throw new Error(`entry ${i + 1} is not kid:secret (a key needs a kid before the first ":")`);
    if (!/^[\w.@-]{1,64}$/.test(kid)) throw new Error(`entry ${i + 1}: a kid is 1–64 letters, digits, ".", "_", "-" or "@"`);
    return { kid, alg: 'HS256', secret };
  });
}
const unit = z.number().min(0).max(1);

const signingKey = z.strictObject({
  kid: z.string().min(1).max(64),
  alg: z.enum(['HS256', 'Ed25519']).default('HS256'),
  /** HS256: the shared secret. Ed25519: the PKCS#8 PEM private key (public key derived). */
  secret: z.string().min(16, 'signing secrets must be at least 16 characters'),
});

export const ConfigSchema = z.strictObject({
  kafka: z
    .strictObject({
      brokers: z.array(z.string().min(1)).min(1).default(['127.0.0.1:9092']),
      clientId: z.string().min(1).default('trustline'),
      groupId: z.string().min(1).default('trustline'),
      fromBeginning: z.boolean().default(true),
      topics: z
        .strictObject({
          requests: z.string().min(1).default('agent.requests'),
          trust: z.string().min(1).default('agent.trust'),
          circuit: z.string().min(1).default('agent.circuit'),
          dlq: z.string().min(1).default('agent.requests.dlq'),
          escalations: z.string().min(1).default('agent.escalations'),
          control: z.string().min(1).default('agent.control'),
          audit: z.string().min(1).default('agent.audit'),
        })
        .prefault({}),
      /** Topics are created with this many partitions when missing. */
      partitions: positiveInt.default(6),
      maxBatchEvents: positiveInt.default(2000),
      /** Partitions processed at the same time by one instance (their agents are disjoint). */
      partitionsConcurrently: positiveInt.default(3),
      /** Consumer group session timeout: how long a crashed instance holds its partitions. */
      sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
    })
    .prefault({}),
  redis: z
    .strictObject({
      url: z.string().min(1).default('redis://127.0.0.1:6379'),
      keyPrefix: z.string().max(32).regex(/^[^{}]*$/, 'must not contain { or } (they would break the Redis Cluster hash tag)').default('tl'),
      /**
       * Expiry of the per-agent decision key (latest signed TrustUpdate and CircuitSignal) that
       * stateless gateways read (docs/enforcers.md, "Redis mode"), wall-clock ms; 0 = do not write it.
       */
      decisionTtlMs: z.number().int().min(0).default(604_800_000),
    })
    .prefault({}),
  model: z
    .strictObject({
      /**
       * Path of the model card (JSON); the ONNX file is named in it, relative to the card. Default: the
       * model that ships with the package (models/trustline-tailsum.json of the package, whatever the cwd).
       */
      card: z.string().min(1).default(BUNDLED_MODEL_CARD),
      intraOpThreads: positiveInt.default(1),
    })
    .prefault({}),
  mode: z.enum(['enforce', 'shadow']).default('enforce'),
  trust: z
    .strictObject({
      /** Emit a TrustUpdate when trust moved more than this since the last emitted one. */
      emitDelta: unit.default(0.05),
      /** Emit at least once per this much event time per agent. */
      heartbeatMs: positiveInt.default(60_000),
      /** How long an enforcer may rely on a TrustUpdate. */
      ttlMs: positiveInt.default(300_000),
    })
    .prefault({}),
  signing: z
    .strictObject({
      /** The kid new records are signed with. Default: the first key of `keys`. */
      activeKid: z.string().min(1).default(DEV_SIGNING_KEY.kid),
      /**
       * Default: the built-in development key, which replays and the demo sign with. `trustline run`
       * refuses it unless `insecureDevKeys` is set (docs/operations.md, "Signing keys").
       */
      keys: z.array(signingKey).min(1).default([DEV_SIGNING_KEY]),
      /** Let `trustline run` sign with the built-in development key (warned on every start). Never in production. */
      insecureDevKeys: z.boolean().default(false),
    })
    .prefault({}),
  /**
   * Operator control (`agent.control`): the key ring operators sign control records with —
   * separate from `signing.keys`. Without keys every control record is dead-lettered.
   */
  control: z
    .strictObject({
      keys: z.array(signingKey).default([]),
    })
    .prefault({}),
  /** Human in the loop: which actions are escalated to `agent.escalations`, and for how long a decision is awaited. */
  escalation: z
    .strictObject({
      /** An action is escalated when ANY rule matches (every condition of that rule holds). */
      rules: z
        .array(
          z.strictObject({
            /** Action amount at or above this. */
            minAmount: z.number().min(0).optional(),
            /** Action sensitivity is one of these. */
            sensitivities: z.array(z.enum(['low', 'medium', 'high', 'critical'])).min(1).optional(),
            /** Action name is one of these. */
            actions: z.array(z.string().min(1)).min(1).optional(),
            /** The agent's band after the event is one of these (default: every band but trusted). */
            bands: z.array(z.enum(['trusted', 'watch', 'restrict', 'block'])).min(1).default(['watch', 'restrict', 'block']),
          }),
        )
        .default([
          { minAmount: 1000, bands: ['watch', 'restrict', 'block'] },
          { sensitivities: ['critical'], bands: ['watch', 'restrict', 'block'] },
        ]),
      /** How long an escalation waits for a decision (event time). */
      ttlMs: positiveInt.default(900_000),
      /** Trust credit of an approval and penalty of a denial. */
      approveCredit: unit.default(0.05),
      denyPenalty: unit.default(0.3),
    })
    .prefault({}),
  /** Detection rules: privileged route patterns and benign misses (src/core/routes.ts, docs/detection.md). */
  detection: z.strictObject({ routes: RouteRulesSchema.prefault(defaultRouteRules) }).prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(9464),
      /** Who may read `GET /agents/<id>` (agent state, read-only): loopback clients only, any client, or nobody. */
      agents: z.enum(['loopback', 'any', 'off']).default('loopback'),
    })
    .prefault({}),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  shutdownDeadlineMs: positiveInt.default(15_000),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Environment variables and where they go in the config tree. */
const ENV_MAP: Record<string, { path: string[]; parse: (v: string) => unknown }> = {
  KAFKA_BROKERS: { path: ['kafka', 'brokers'], parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  REDIS_URL: { path: ['redis', 'url'], parse: String },
  TRUSTLINE_GROUP_ID: { path: ['kafka', 'groupId'], parse: String },
  TRUSTLINE_CLIENT_ID: { path: ['kafka', 'clientId'], parse: String },
  TRUSTLINE_TOPIC_REQUESTS: { path: ['kafka', 'topics', 'requests'], parse: String },
  TRUSTLINE_TOPIC_TRUST: { path: ['kafka', 'topics', 'trust'], parse: String },
  TRUSTLINE_TOPIC_CIRCUIT: { path: ['kafka', 'topics', 'circuit'], parse: String },
  TRUSTLINE_TOPIC_DLQ: { path: ['kafka', 'topics', 'dlq'], parse: String },
  TRUSTLINE_TOPIC_ESCALATIONS: { path: ['kafka', 'topics', 'escalations'], parse: String },
  TRUSTLINE_TOPIC_CONTROL: { path: ['kafka', 'topics', 'control'], parse: String },
  TRUSTLINE_TOPIC_AUDIT: { path: ['kafka', 'topics', 'audit'], parse: String },
  TRUSTLINE_PARTITIONS: { path: ['kafka', 'partitions'], parse: Number },
  TRUSTLINE_MAX_BATCH_EVENTS: { path: ['kafka', 'maxBatchEvents'], parse: Number },
  TRUSTLINE_SESSION_TIMEOUT_MS: { path: ['kafka', 'sessionTimeoutMs'], parse: Number },
  TRUSTLINE_PARTITIONS_CONCURRENTLY: { path: ['kafka', 'partitionsConcurrently'], parse: Number },
  TRUSTLINE_REDIS_PREFIX: { path: ['redis', 'keyPrefix'], parse: String },
  TRUSTLINE_REDIS_DECISION_TTL_MS: { path: ['redis', 'decisionTtlMs'], parse: Number },
  TRUSTLINE_MODEL_CARD: { path: ['model', 'card'], parse: String },
  TRUSTLINE_ONNX_THREADS: { path: ['model', 'intraOpThreads'], parse: Number },
  TRUSTLINE_MODE: { path: ['mode'], parse: String },
  TRUSTLINE_HTTP_HOST: { path: ['http', 'host'], parse: String },
  TRUSTLINE_HTTP_PORT: { path: ['http', 'port'], parse: Number },
  TRUSTLINE_HTTP_AGENTS: { path: ['http', 'agents'], parse: String },
  TRUSTLINE_LOG_LEVEL: { path: ['log', 'level'], parse: String },
  TRUSTLINE_SHUTDOWN_DEADLINE_MS: { path: ['shutdownDeadlineMs'], parse: Number },
  TRUSTLINE_SIGNING_ACTIVE_KID: { path: ['signing', 'activeKid'], parse: String },
  /** `kid:secret[,kid:secret…]` — HS256 key ring. */
  TRUSTLINE_SIGNING_KEYS: { path: ['signing', 'keys'], parse: parseKeyRing },
  /** `1`/`true`: let `trustline run` sign with the built-in development key (warned on every start). */
  TRUSTLINE_INSECURE_DEV_KEYS: { path: ['signing', 'insecureDevKeys'], parse: (v) => v === '1' || v.toLowerCase() === 'true' },
  /** `kid:secret[,kid:secret…]` — HS256 operator key ring for agent.control. */
  TRUSTLINE_CONTROL_KEYS: { path: ['control', 'keys'], parse: parseKeyRing },
  TRUSTLINE_ESCALATION_TTL_MS: { path: ['escalation', 'ttlMs'], parse: Number },
};
/** Variables that are read by other layers (the config file path) and so are not unknown. */
const ENV_KNOWN_ELSEWHERE = new Set(['TRUSTLINE_CONFIG']);

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = target;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/**
 * Parse the configuration once. `env` defaults to `process.env`; `overrides` (from CLI flags)
 * win over everything. Throws a `CONFIG_INVALID` error naming each wrong setting.
 */
export function loadConfig(options: { env?: NodeJS.ProcessEnv; file?: string; overrides?: ConfigInput } = {}): Config {
  const env = options.env ?? process.env;
  const raw: Record<string, unknown> = {};
  const file = options.file ?? env.TRUSTLINE_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new TrustlineError('CONFIG_INVALID', `cannot read config file ${file}`, { cause });
    }
    try {
      Object.assign(raw, JSON.parse(text));
    } catch (cause) {
      throw new TrustlineError('CONFIG_INVALID', `config file ${file} is not valid JSON`, { cause });
    }
  }
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const mapping = ENV_MAP[name];
    if (mapping) {
      // An empty variable is not set (e.g. docker-compose's `${TRUSTLINE_SIGNING_KEYS:-}`).
      if (value === '') continue;
      try {
        setPath(raw, mapping.path, mapping.parse(value));
      } catch (err) {
        problems.push(`${name}: ${(err as Error).message}`);
      }
    }
    else if (name.startsWith('TRUSTLINE_') && !ENV_KNOWN_ELSEWHERE.has(name)) problems.push(`unknown environment variable ${name}`);
  }
  if (options.overrides) deepMerge(raw, options.overrides as Record<string, unknown>);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = issue.path.join('.') || '(root)';
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? ` ${issue.keys.join(', ')}` : '';
      problems.push(`${where}${keys}: ${issue.message}`);
    }
  }
  if (problems.length) throw new TrustlineError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  const config = parsed.data!;
  // Without an explicit activeKid, sign with the first key of the ring.
  const given = raw.signing as { activeKid?: unknown } | undefined;
  if (given?.activeKid === undefined) config.signing.activeKid = config.signing.keys[0]!.kid;
  if (!config.signing.keys.some((k) => k.kid === config.signing.activeKid)) {
    throw new TrustlineError('CONFIG_INVALID', `invalid configuration:\n  - signing.activeKid: no key with kid "${config.signing.activeKid}" in signing.keys`);
  }
  return config;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
      deepMerge(target[key] as Record<string, unknown>, value as Record<string, unknown>);
    } else if (value !== undefined) target[key] = value;
  }
}

/** The configuration with secrets removed, safe to log or print. */
export function describeConfig(config: Config): unknown {
  const redact = (keys: Config['signing']['keys']): unknown[] => keys.map((k) => ({ kid: k.kid, alg: k.alg, secret: '[redacted]' }));
  return { ...config, signing: { ...config.signing, keys: redact(config.signing.keys) }, control: { keys: redact(config.control.keys) } };
}
