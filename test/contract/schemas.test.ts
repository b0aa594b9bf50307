import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { findDrift, generateSchemaFiles, JSON_SCHEMA_DIALECT, SCHEMAS_DIR } from '../../scripts/gen-schemas.ts';
import { PUBLISHED_SCHEMAS, type CircuitSignal, type TrustUpdate } from '../../src/contract/schemas.ts';

function readCommitted(file: string): unknown {
  return JSON.parse(readFileSync(join(SCHEMAS_DIR, file), 'utf8'));
}

/** A fresh strict 2020-12 validator per schema, so `$id`s never collide between tests. */
function compileCommitted(file: string) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  return ajv.compile(readCommitted(file) as object);
}

const sig = { kid: 'k1', alg: 'HS256', value: 'c2lnbmF0dXJl' } as const;

const trustUpdate: TrustUpdate = {
  v: 1,
  tenant: 'default',
  agentId: 'agent-1',
  seq: 42,
  eventId: 'evt-42',
  ts: 1_700_000_000_000,
  trust: 0.83,
  band: 'trusted',
  components: { identity: 0.9, intent: 0.8, authorization: 1 },
  anomaly: 0.12,
  reasons: [{ code: 'rate_spike', feature: 'rate_1m_vs_baseline', value: 3.2, baseline: 1.1 }],
  circuit: 'closed',
  model: 'iforest@1.0.0',
  mode: 'enforce',
  ttlMs: 60_000,
  sig,
};

const circuitSignal: CircuitSignal = {
  v: 1,
  tenant: 'default',
  agentId: 'agent-1',
  seq: 43,
  state: 'open',
  previous: 'closed',
  reasons: [{ code: 'k_of_n_anomalous' }],
  offences: 1,
  issuedAt: 1_700_000_000_500,
  until: 1_700_000_060_500,
  mode: 'shadow',
  sig,
};

describe('published JSON Schema files', () => {
  it('schemas/ holds exactly the published files', () => {
    const committed = readdirSync(SCHEMAS_DIR)
      .filter((f) => f.endsWith('.schema.json'))
      .sort();
    expect(committed).toEqual([...generateSchemaFiles().keys()].sort());
  });

  it('committed files equal what the TypeBox definitions generate (run `npm run schemas` if this fails)', () => {
    for (const [file, text] of generateSchemaFiles()) {
      expect(readFileSync(join(SCHEMAS_DIR, file), 'utf8'), file).toBe(text);
    }
    expect(findDrift()).toEqual([]);
  });

  it.each(Object.keys(PUBLISHED_SCHEMAS))('%s declares draft 2020-12 first and keeps its $id', (file) => {
    const doc = readCommitted(file) as Record<string, unknown>;
    expect(Object.keys(doc)[0]).toBe('$schema');
    expect(doc.$schema).toBe(JSON_SCHEMA_DIALECT);
    expect(doc.$id).toBe((PUBLISHED_SCHEMAS[file] as { $id?: string }).$id);
  });

  it.each(Object.keys(PUBLISHED_SCHEMAS))('%s compiles with Ajv 2020 in strict mode', (file) => {
    expect(() => compileCommitted(file)).not.toThrow();
  });
});

describe('sample outputs against the published schemas', () => {
  const validateTrust = compileCommitted('trust-update.schema.json');
  const validateCircuit = compileCommitted('circuit-signal.schema.json');

  it('a valid TrustUpdate validates', () => {
    expect(validateTrust(trustUpdate), JSON.stringify(validateTrust.errors)).toBe(true);
  });

  it('a valid CircuitSignal validates (open, and half-open with a probe budget)', () => {
    expect(validateCircuit(circuitSignal), JSON.stringify(validateCircuit.errors)).toBe(true);
    const halfOpen = { ...circuitSignal, state: 'half_open', previous: 'open', probeBudget: 5 };
    delete (halfOpen as { until?: number }).until;
    expect(validateCircuit(halfOpen), JSON.stringify(validateCircuit.errors)).toBe(true);
  });

  it.each([
    ['trust above 1', { ...trustUpdate, trust: 1.5 }],
    ['unknown band', { ...trustUpdate, band: 'green' }],
    ['more than 5 reasons', { ...trustUpdate, reasons: Array.from({ length: 6 }, () => ({ code: 'x' })) }],
    ['extra field (closed record)', { ...trustUpdate, extra: true }],
    ['missing sig', { ...trustUpdate, sig: undefined }],
    ['seq 0', { ...trustUpdate, seq: 0 }],
  ])('an invalid TrustUpdate is rejected: %s', (_name, doc) => {
    expect(validateTrust(JSON.parse(JSON.stringify(doc)))).toBe(false);
  });

  it.each([
    ['unknown state', { ...circuitSignal, state: 'ajar' }],
    ['negative offences', { ...circuitSignal, offences: -1 }],
    ['signature with unknown alg', { ...circuitSignal, sig: { ...sig, alg: 'none' } }],
    ['non-integer issuedAt', { ...circuitSignal, issuedAt: 1_700_000_000_000.5 }],
  ])('an invalid CircuitSignal is rejected: %s', (_name, doc) => {
    expect(validateCircuit(doc)).toBe(false);
  });
});
