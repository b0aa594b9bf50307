/**
 * `trustline/contract` — the v1 wire contract for gateways and other producers: the record types,
 * the JSON Schemas (also in the package's schemas/ folder), the event decoder trustline itself
 * uses (so a gateway can check an event before publishing it), and operator control signing.
 * See README.md ("For gateways") and docs/enforcers.md.
 */
export {
  AgentControlSchema,
  AgentRequestEventSchema,
  AUTH_METHODS,
  BANDS,
  CIRCUIT_STATES,
  CircuitSignalSchema,
  CONTRACT_VERSION,
  CONTROL_ACTIONS,
  DlqRecordSchema,
  EscalationSchema,
  MAX_EVENT_BYTES,
  MODES,
  PUBLISHED_SCHEMAS,
  SENSITIVITIES,
  TrustUpdateSchema,
  type AgentControl,
  type AgentRequestEvent,
  type AuthMethod,
  type Band,
  type CircuitSignal,
  type CircuitState,
  type ControlAction,
  type DlqRecord,
  type Escalation,
  type Mode,
  type Reason,
  type Sensitivity,
  type Signature,
  type TrustUpdate,
} from './schemas.ts';
export { decodeControl, decodeEvent, decodeInput, type ControlDecodeResult, type DecodeResult, type InputDecodeResult } from './decode.ts';
export { signControl, type ControlFields } from '../control/sign-control.ts';
export type { SigningKey } from '../outputs/sign.ts';
