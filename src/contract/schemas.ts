/**
 * Wire contract v1 — the single source of truth.
 *
 * The TypeBox definitions below produce both the TypeScript types (`Static<…>`) and the
 * JSON Schema files committed under `schemas/` for gateways in other languages
 * (`npm run schemas` regenerates them; a unit test fails when the committed files drift).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { BANDS, CIRCUIT_STATES, MODES, SENSITIVITIES, type Reason as PlainReason, type Signature as PlainSignature } from './vocabulary.ts';

/** A string enum rendered as a plain JSON Schema `enum` (portable, clear validation errors). */
function StringEnum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
}

export const CONTRACT_VERSION = 1 as const;
/** Maximum size of one encoded event, in bytes. */
export const MAX_EVENT_BYTES = 64 * 1024;
/** Maximum nesting depth of an event document (objects and arrays). */
export const MAX_EVENT_DEPTH = 16;
/** Accepted event-time range: 2000-01-01 .. 2100-01-01 (epoch ms). */
export const MIN_TS = 946_684_800_000;
export const MAX_TS = 4_102_444_800_000;

export const AUTH_METHODS = ['http_signature', 'mtls', 'oauth2', 'api_key', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
// The closed vocabularies live in vocabulary.ts (no dependencies, for the enforcer package).
export { BANDS, CIRCUIT_STATES, MODES, SENSITIVITIES, type Band, type CircuitState, type Mode, type Sensitivity } from './vocabulary.ts';

const Tenant = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'tenant; state is per (tenant, agent)' });
const AgentId = Type.String({ minLength: 1, maxLength: 256, description: 'stable agent identity' });
const EventId = Type.String({ minLength: 1, maxLength: 128, description: 'unique per event' });
const Ts = Type.Integer({ minimum: MIN_TS, maximum: MAX_TS, description: 'event time, epoch ms' });
const NonNeg = (maximum: number, description: string) => Type.Number({ minimum: 0, maximum, description });

export const AgentRequestEventSchema = Type.Object(
  {
    v: Type.Literal(CONTRACT_VERSION, { description: 'contract version' }),
    eventId: EventId,
    ts: Ts,
    tenant: Type.Optional(Tenant),
    agent: Type.Object({
      id: AgentId,
      purpose: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'declared purpose/class, free-form per deployment' })),
      auth: Type.Object({
        method: StringEnum(AUTH_METHODS, 'how the agent authenticated'),
        verified: Type.Boolean({ description: 'did the credential verify' }),
        scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 64, description: 'granted scopes' })),
        tokenAgeS: Type.Optional(NonNeg(1e9, 'age of the access token, seconds')),
      }),
      onBehalfOf: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'the user it acts for' })),
      userAgent: Type.Optional(Type.String({ maxLength: 512 })),
    }),
    request: Type.Object({
      method: Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z]+$', description: 'HTTP method or TOOL for MCP calls' }),
      route: Type.String({ minLength: 1, maxLength: 512, description: 'templated route, e.g. /orders/{id} or mcp:tool_name' }),
      path: Type.Optional(Type.String({ maxLength: 2048, description: 'concrete path' })),
      status: Type.Integer({ minimum: 100, maximum: 599, description: 'response status' }),
      latencyMs: Type.Optional(NonNeg(86_400_000, 'latency, ms')),
      bytesIn: Type.Optional(NonNeg(1e13, 'request bytes')),
      bytesOut: Type.Optional(NonNeg(1e13, 'response bytes')),
      ip: Type.Optional(Type.String({ minLength: 2, maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$' })),
      asn: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_295 })),
      country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO-3166 alpha-2' })),
    }),
    action: Type.Optional(
      Type.Object({
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'business action, e.g. payment.create' })),
        sensitivity: Type.Optional(StringEnum(SENSITIVITIES)),
        amount: Type.Optional(NonNeg(1e12, 'money moved')),
        currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO-4217' })),
        requiredScope: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'scope this action needs' })),
      }),
    ),
  },
  {
    $id: 'https://trustline.dev/schemas/v1/agent-request-event.json',
    title: 'AgentRequestEvent',
    description: 'One agent request seen by a gateway. Topic agent.requests, key = agent.id. Unknown fields are ignored.',
  },
);
export type AgentRequestEvent = Static<typeof AgentRequestEventSchema>;

export const SignatureSchema = Type.Object(
  {
    kid: Type.String({ minLength: 1, maxLength: 64, description: 'key id in the signer key ring' }),
    alg: StringEnum(['HS256', 'Ed25519'] as const),
    value: Type.String({ minLength: 1, description: 'base64url signature over the canonical (RFC 8785) encoding of the record without sig' }),
  },
  { additionalProperties: false },
);
export type Signature = Static<typeof SignatureSchema>;

export const ReasonSchema = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 64 }),
    feature: Type.Optional(Type.String()),
    value: Type.Optional(Type.Number()),
    baseline: Type.Optional(Type.Number()),
    /** What the agent was compared with: its own baseline, its peer group, the fleet, or a configured rule. */
    basis: Type.Optional(StringEnum(['own', 'peers', 'fleet', 'rule'] as const)),
    /** The configured route rule that matched (purpose reasons). */
    rule: Type.Optional(Type.String({ maxLength: 64 })),
    /** The comparison in words, e.g. "usual rate 110/min, 39× its peers' 2.8/min". */
    text: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type Reason = Static<typeof ReasonSchema>;

// vocabulary.ts's plain types must be exactly the schema types (a compile error otherwise).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _ReasonMatchesSchema = Assert<Same<Reason, PlainReason>>;
export type _SignatureMatchesSchema = Assert<Same<Signature, PlainSignature>>;

const Unit = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });

export const TrustUpdateSchema = Type.Object(
  {
    v: Type.Literal(CONTRACT_VERSION),
    tenant: Tenant,
    agentId: AgentId,
    seq: Type.Integer({ minimum: 1, description: 'per-agent count of applied events' }),
    eventId: EventId,
    ts: Ts,
    trust: Unit('trust score'),
    band: StringEnum(BANDS),
    components: Type.Object(
      { identity: Unit('identity strength'), intent: Unit('intent'), authorization: Unit('authorization') },
      { additionalProperties: false },
    ),
    anomaly: Unit('calibrated anomaly of the event'),
    reasons: Type.Array(ReasonSchema, { maxItems: 5 }),
    circuit: StringEnum(CIRCUIT_STATES),
    model: Type.String({ description: 'name@version' }),
    mode: StringEnum(MODES),
    ttlMs: Type.Integer({ minimum: 0, description: 'how long an enforcer may rely on this record' }),
    sig: SignatureSchema,
  },
  {
    additionalProperties: false,
    $id: 'https://trustline.dev/schemas/v1/trust-update.json',
    title: 'TrustUpdate',
    description: 'Topic agent.trust (compacted), key = agentId. Consumers dedupe on (agentId, seq).',
  },
);
export type TrustUpdate = Static<typeof TrustUpdateSchema>;

export const CircuitSignalSchema = Type.Object(
  {
    v: Type.Literal(CONTRACT_VERSION),
    tenant: Tenant,
    agentId: AgentId,
    seq: Type.Integer({ minimum: 1 }),
    state: StringEnum(CIRCUIT_STATES),
    previous: StringEnum(CIRCUIT_STATES),
    reasons: Type.Array(ReasonSchema, { maxItems: 5 }),
    offences: Type.Integer({ minimum: 0, description: 'times the circuit opened for this agent' }),
    issuedAt: Ts,
    until: Type.Optional(Type.Integer({ description: 'event time when an open circuit turns half-open' })),
    probeBudget: Type.Optional(Type.Integer({ minimum: 0, description: 'requests allowed while half-open' })),
    mode: StringEnum(MODES),
    sig: SignatureSchema,
  },
  {
    additionalProperties: false,
    $id: 'https://trustline.dev/schemas/v1/circuit-signal.json',
    title: 'CircuitSignal',
    description: 'Topic agent.circuit, key = agentId, one record per state change.',
  },
);
export type CircuitSignal = Static<typeof CircuitSignalSchema>;

export const DLQ_ERROR_CODES = [
  'too_large',
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'too_deep',
  'forbidden_key',
  'non_finite_number',
  'unsupported_version',
  'missing_field',
  'wrong_type',
  'bad_enum',
  'out_of_range',
  'empty_string',
  'too_long',
  'bad_format',
] as const;
/** Reasons the decoder rejects an input record (a subset of {@link DEAD_LETTER_CODES}). */
export type DecodeErrorCode = (typeof DLQ_ERROR_CODES)[number];
/** Reasons an operator control record is rejected: no `sig`, or a `sig` the operator key ring does not verify. */
export const CONTROL_ERROR_CODES = ['unsigned', 'bad_signature'] as const;
/** Closed list of every reason code a dead-letter record can carry: the decoder's, then the control ones. */
export const DEAD_LETTER_CODES = [...DLQ_ERROR_CODES, ...CONTROL_ERROR_CODES] as const;
export type DeadLetterCode = (typeof DEAD_LETTER_CODES)[number];

/** Header names carried by a dead-letter record on Kafka; the value is the original bytes. */
export const DLQ_HEADERS = {
  code: 'trustline-error-code',
  message: 'trustline-error-message',
  path: 'trustline-error-path',
  topic: 'trustline-source-topic',
  partition: 'trustline-source-partition',
  offset: 'trustline-source-offset',
} as const;

export const DlqRecordSchema = Type.Object(
  {
    v: Type.Literal(CONTRACT_VERSION),
    code: StringEnum(DEAD_LETTER_CODES),
    message: Type.String(),
    path: Type.String({ description: 'JSON Pointer of the offending field, "" for the whole record' }),
    source: Type.Object(
      { topic: Type.String(), partition: Type.Integer({ minimum: 0 }), offset: Type.String({ description: 'Kafka offset, or line number for file sources' }) },
      { additionalProperties: false },
    ),
    key: Type.Union([Type.String(), Type.Null()], { description: 'original record key (UTF-8) or null' }),
    payloadBase64: Type.String({ description: 'the original bytes, unchanged, base64' }),
  },
  {
    additionalProperties: false,
    $id: 'https://trustline.dev/schemas/v1/dlq-record.json',
    title: 'DlqRecord',
    description:
      'A rejected input. On Kafka (agent.requests.dlq) the record value is the original bytes unchanged and the fields below travel as headers trustline-error-code, trustline-error-message, trustline-error-path, trustline-source-topic, trustline-source-partition, trustline-source-offset. File sinks write this JSON form.',
  },
);
export type DlqRecord = Static<typeof DlqRecordSchema>;

export const CONTROL_ACTIONS = ['force_open', 'force_close', 'reset', 'allowlist', 'escalation_decision'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];
export const ESCALATION_STATUSES = ['pending', 'approved', 'denied'] as const;
export type EscalationStatus = (typeof ESCALATION_STATUSES)[number];

export const AgentControlSchema = Type.Object(
  {
    v: Type.Literal(CONTRACT_VERSION),
    kind: Type.Literal('control'),
    controlId: Type.String({ minLength: 1, maxLength: 128, description: 'unique per control record (audit and logs)' }),
    tenant: Type.Optional(Tenant),
    agentId: AgentId,
    action: StringEnum(CONTROL_ACTIONS, 'what the operator orders'),
    issuedAt: Type.Integer({ minimum: MIN_TS, maximum: MAX_TS, description: 'epoch ms; per agent, a control not newer than the last applied one is ignored' }),
    operator: Type.String({ minLength: 1, maxLength: 128, description: 'who issued it' }),
    until: Type.Optional(Type.Integer({ minimum: MIN_TS, maximum: MAX_TS, description: 'allowlist: event time when the allowlisting ends' })),
    escalationId: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: 'escalation_decision: the escalation decided' })),
    decision: Type.Optional(StringEnum(['approve', 'deny'] as const, 'escalation_decision: the human decision')),
    reason: Type.Optional(Type.String({ maxLength: 512, description: 'free-form note, audited' })),
    sig: SignatureSchema,
  },
  {
    $id: 'https://trustline.dev/schemas/v1/agent-control.json',
    title: 'AgentControl',
    description:
      "Operator control. Topic agent.control, signed with an operator key (control.keys). Verified by the control relay, re-published unchanged into agent.requests keyed by agentId, verified again and applied in the agent's own ordered stream.",
  },
);
export type AgentControl = Static<typeof AgentControlSchema>;

export const EscalationSchema = Type.Object(
  {
    v: Type.Literal(CONTRACT_VERSION),
    escalationId: Type.String({ minLength: 1, maxLength: 400, description: '"<agent key>:<seq>", deterministic' }),
    tenant: Tenant,
    agentId: AgentId,
    seq: Type.Integer({ minimum: 1, description: 'seq of the escalated event' }),
    eventId: EventId,
    ts: Ts,
    action: Type.Object(
      {
        name: Type.Optional(Type.String()),
        amount: Type.Optional(Type.Number({ minimum: 0 })),
        currency: Type.Optional(Type.String()),
        sensitivity: Type.Optional(StringEnum(SENSITIVITIES)),
      },
      { additionalProperties: false },
    ),
    reasons: Type.Array(ReasonSchema, { maxItems: 8 }),
    expiresAt: Ts,
    status: StringEnum(ESCALATION_STATUSES),
    decidedBy: Type.Optional(Type.String({ description: 'operator, once decided' })),
    decidedAt: Type.Optional(Type.Integer({ description: 'event time of the decision' })),
    controlId: Type.Optional(Type.String({ description: 'the control record that decided it' })),
    mode: StringEnum(MODES),
    sig: SignatureSchema,
  },
  {
    additionalProperties: false,
    $id: 'https://trustline.dev/schemas/v1/escalation.json',
    title: 'Escalation',
    description:
      'Topic agent.escalations, key = agent key. Emitted pending when a rule escalates an action, and again (same escalationId) when an operator decides it.',
  },
);
export type Escalation = Static<typeof EscalationSchema>;

/** Every published schema, by file name under `schemas/`. */
export const PUBLISHED_SCHEMAS: Record<string, TSchema> = {
  'agent-request-event.schema.json': AgentRequestEventSchema,
  'trust-update.schema.json': TrustUpdateSchema,
  'circuit-signal.schema.json': CircuitSignalSchema,
  'dlq-record.schema.json': DlqRecordSchema,
  'agent-control.schema.json': AgentControlSchema,
  'escalation.schema.json': EscalationSchema,
};
