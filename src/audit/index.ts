/**
 * Tamper-evident audit log: per-partition hash chains, their verifier, and a Kafka topic
 * reader for verifying an audit topic. See docs/enforcers.md ("Audit chain").
 */
export {
  AUDIT_VERSION,
  GENESIS_HASH,
  appendAuditRecord,
  auditHash,
  createAuditChainVerifier,
  verifyChain,
  type AuditBreakReason,
  type AuditChainBreak,
  type AuditChainOk,
  type AuditChainResult,
  type AuditChainVerifier,
  type AuditEntry,
  type AuditGenesis,
  type AuditHead,
  type AuditRecord,
  type AuditVerifyOptions,
  type JsonValue,
} from './chain.ts';
export { readTopicToEnd, type TopicRecordHandler, type TopicSnapshotOptions } from './read-topic.ts';
