/**
 * Configuration, parsed once at start.
 *
 * Sources, later wins: built-in defaults < JSON file (`TRUSTLINE_CONFIG` or `--config`) <
 * environment variables. Unknown keys (in the file) and unknown `TRUSTLINE_*` variables are
 * rejected with the name of the wrong setting. Nothing else in trustline reads `process.env`.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static, type TLiteral, type TProperties, type TUnion } from '@sinclair/typebox';
import { TrustlineError } from '../shared/errors.ts';
import { BUNDLED_MODEL_CARD } from '../shared/package-files.ts';
import { RouteRulesSchema, defaultRouteRules } from '../core/routes.ts';
import { parseWith, type DeepPartial } from '../shared/schema.ts';

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
const positiveInt = (def: number) => Type.Integer({ minimum: 1, default: def });
const unit = (def: number) => Type.Number({ minimum: 0, maximum: 1, default: def });
const name = (def: string) => Type.String({ minLength: 1, default: def });
/** A section: unknown keys rejected, missing means all defaults. */
const section = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false, default: {} });
const oneOf = <const T extends readonly string[]>(values: T, def?: T[number]): TUnion<TLiteral<T[number]>[]> =>
  Type.Union(
    values.map((v) => Type.Literal(v as T[number])),
    def === undefined ? {} : { default: def },
  );

const SigningKeySchema = Type.Object(
  {
    kid: Type.String({ minLength: 1, maxLength: 64 }),
    alg: oneOf(['HS256', 'Ed25519'] as const, 'HS256'),
    /** HS256: the shared secret. Ed25519: the PKCS#8 PEM private key (public key derived). */
    secret: Type.String({ minLength: 16, errorMessage: 'signing secrets must be at least 16 characters' }),
  },
  { additionalProperties: false },
);
const BANDS = ['trusted', 'watch', 'restrict', 'block'] as const;

export const ConfigSchema = Type.Object(
  {
    kafka: section({
      brokers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['127.0.0.1:9092'] }),
      clientId: name('trustline'),
      groupId: name('trustline'),
      fromBeginning: Type.Boolean({ default: true }),
      topics: section({
        requests: name('agent.requests'),
        trust: name('agent.trust'),
        circuit: name('agent.circuit'),
        dlq: name('agent.requests.dlq'),
        escalations: name('agent.escalations'),
        control: name('agent.control'),
        audit: name('agent.audit'),
      }),
      /** Topics are created with this many partitions when missing. */
      partitions: positiveInt(6),
      maxBatchEvents: positiveInt(2000),
      /** Partitions processed at the same time by one instance (their agents are disjoint). */
      partitionsConcurrently: positiveInt(3),
      /** Consumer group session timeout: how long a crashed instance holds its partitions. */
      sessionTimeoutMs: Type.Integer({ minimum: 6_000, maximum: 300_000, default: 30_000 }),
    }),
    redis: section({
      url: name('redis://127.0.0.1:6379'),
      keyPrefix: Type.String({
        maxLength: 32,
        pattern: '^[^{}]*$',
        default: 'tl',
        errorMessage: 'at most 32 characters, and no { or } (they would break the Redis Cluster hash tag)',
      }),
      /**
       * Expiry of the per-agent decision key (latest signed TrustUpdate and CircuitSignal) that
       * stateless gateways read (docs/enforcers.md, "Redis mode"), wall-clock ms; 0 = do not write it.
       */
      decisionTtlMs: Type.Integer({ minimum: 0, default: 604_800_000 }),
    }),
    model: section({
      /**
       * Path of the model card (JSON); the ONNX file is named in it, relative to the card. Default: the
       * model that ships with the package (models/trustline-tailsum.json of the package, whatever the cwd).
       */
      card: name(BUNDLED_MODEL_CARD),
      intraOpThreads: positiveInt(1),
    }),
    mode: oneOf(['enforce', 'shadow'] as const, 'enforce'),
    trust: section({
      /** Emit a TrustUpdate when trust moved more than this since the last emitted one. */
      emitDelta: unit(0.05),
      /** Emit at least once per this much event time per agent. */
      heartbeatMs: positiveInt(60_000),
      /** How long an enforcer may rely on a TrustUpdate. */
      ttlMs: positiveInt(300_000),
    }),
    signing: section({
      /** The kid new records are signed with. Default: the first key of `keys`. */
      activeKid: name(DEV_SIGNING_KEY.kid),
      /**
       * Default: the built-in development key, which replays and the demo sign with. `trustline run`
       * refuses it unless `insecureDevKeys` is set (docs/operations.md, "Signing keys").
       */
      keys: Type.Array(SigningKeySchema, { minItems: 1, default: [DEV_SIGNING_KEY] }),
      /** Let `trustline run` sign with the built-in development key (warned on every start). Never in production. */
      insecureDevKeys: Type.Boolean({ default: false }),
    }),
    /**
     * Operator control (`agent.control`): the key ring operators sign control records with —
     * separate from `signing.keys`. Without keys every control record is dead-lettered.
     */
    control: section({ keys: Type.Array(SigningKeySchema, { default: [] }) }),
    /** Human in the loop: which actions are escalated to `agent.escalations`, and for how long a decision is awaited. */
    escalation: section({
      /** An action is escalated when ANY rule matches (every condition of that rule holds). */
      rules: Type.Array(
        Type.Object(
          {
            /** Action amount at or above this. */
            minAmount: Type.Optional(Type.Number({ minimum: 0 })),
            /** Action sensitivity is one of these. */
            sensitivities: Type.Optional(Type.Array(oneOf(['low', 'medium', 'high', 'critical'] as const), { minItems: 1 })),
            /** Action name is one of these. */
            actions: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
            /** The agent's band after the event is one of these (default: every band but trusted). */
            bands: Type.Array(oneOf(BANDS), { minItems: 1, default: ['watch', 'restrict', 'block'] }),
          },
          { additionalProperties: false },
        ),
        {
          default: [
            { minAmount: 1000, bands: ['watch', 'restrict', 'block'] },
            { sensitivities: ['critical'], bands: ['watch', 'restrict', 'block'] },
          ],
        },
      ),
      /** How long an escalation waits for a decision (event time). */
      ttlMs: positiveInt(900_000),
      /** Trust credit of an approval and penalty of a denial. */
      approveCredit: unit(0.05),
      denyPenalty: unit(0.3),
    }),
    /** Detection rules: privileged route patterns and benign misses (src/core/routes.ts, docs/detection.md). */
    detection: section({ routes: Type.Object(RouteRulesSchema.properties, { additionalProperties: false, default: defaultRouteRules() }) }),
    http: section({
      host: Type.String({ default: '127.0.0.1' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
      /** Who may read `GET /agents/<id>` (agent state, read-only): loopback clients only, any client, or nobody. */
      agents: oneOf(['loopback', 'any', 'off'] as const, 'loopback'),
    }),
    log: section({ level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info') }),
    shutdownDeadlineMs: positiveInt(15_000),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
/** What a config file, the environment or CLI flags may give: any part of the tree. */
export type ConfigInput = DeepPartial<Config>;

/** Environment variables and where they go in the config tree. */
const ENV_MAP: Record<string, { path: string[]; parse: (v: string) => unknown }> = {
  KAFKA_BROKERS: {
    path: ['kafka', 'brokers'],
    parse: (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  },
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
    } else if (name.startsWith('TRUSTLINE_') && !ENV_KNOWN_ELSEWHERE.has(name)) problems.push(`unknown environment variable ${name}`);
  }
  if (options.overrides) deepMerge(raw, options.overrides as Record<string, unknown>);
  const parsed = parseWith(ConfigSchema, raw);
  if (!parsed.ok) problems.push(...parsed.problems);
  if (problems.length || !parsed.ok) throw new TrustlineError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  const config = parsed.value;
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
