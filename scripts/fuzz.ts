/**
 * Fuzzing at scale (not in CI; docs/reliability.md):
 *
 *   npm run fuzz -- --inputs 1000000 [--signed 200000] [--seed 1] [--scorer onnx|fake] [--out docs/results/fuzz.json]
 *
 * 1. Events: `--inputs` records built from the training fixtures, each one either the event as
 *    it is or a mutant of it (test/support/mutate.ts: truncations, invalid UTF-8, lone
 *    surrogates, wrong types, missing fields, huge and non-finite numbers, deep nesting,
 *    duplicate keys, `__proto__`/`constructor`/`prototype` keys, oversize, not an object, byte
 *    flips, unknown fields, tombstones), run through the whole in-process pipeline
 *    (BatchProcessor, memory store, the real ONNX model by default) in batches of 1000.
 *    Pass: 0 crashes (`process` never throws); every record scored or dead-lettered, never both;
 *    every invalidating mutant dead-lettered with a code, a message and its original bytes; every
 *    unmutated event scored; no prototype polluted.
 * 2. Signed records: `--signed` trials on records the pipeline produced (trust, circuit,
 *    escalation; re-signed with an Ed25519 key too) and on its audit chain: a changed field, a
 *    mutated signature, a swapped kid, a removed signature, a changed alg (the enforcer SDK's
 *    feed verification), a replayed older seq, and a reordered, changed, deleted or inserted
 *    audit record (src/audit verifier). Pass: 100 % refused.
 * Writes the result as JSON; exits 1 on any failure.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { verifyChain, type AuditRecord } from '../src/audit/chain.ts';
import { DEFAULT_POLICY } from '../src/core/judge.ts';
import { createEnforcerCore } from '../src/enforcer/core.ts';
import type { FeedKind } from '../src/enforcer/types.ts';
import { createSigner, type SigningKey } from '../src/outputs/sign.ts';
import type { BatchOutputs, OutputSink } from '../src/outputs/sink.ts';
import { BatchProcessor, type AnomalyScorer, type InputRecord } from '../src/pipeline/batch-processor.ts';
import { loadAnomalyScorer } from '../src/scoring/pipeline-scorer.ts';
import { createLogger } from '../src/shared/logger.ts';
import { MemoryStateStore } from '../src/state/memory-store.ts';
import { FakeScorer } from '../test/support/fake-scorer.ts';
import { MUTATION_KINDS, TAMPER_KINDS, mutateEvent, tamperRecord, type MutationKind, type TamperKind } from '../test/support/mutate.ts';
import { MODEL_CARD, ROOT, loadFixtureRecords, prng } from '../test/support/processor-harness.ts';

const { values: args } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    signed: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '1' },
    scorer: { type: 'string', default: 'onnx' },
    batch: { type: 'string', default: '1000' },
    out: { type: 'string', default: path.join('docs', 'results', 'fuzz.json') },
  },
});
const INPUTS = Number(args.inputs);
const SIGNED = Number(args.signed);
const SEED = Number(args.seed);
const BATCH = Number(args.batch);
if (![INPUTS, SIGNED, SEED, BATCH].every((n) => Number.isFinite(n) && n >= 0) || BATCH < 1 || !['onnx', 'fake'].includes(args.scorer!)) {
  console.error('fuzz: --inputs, --signed, --seed and --batch must be non-negative numbers, --scorer onnx or fake');
  process.exit(2);
}
const log = (msg: string): void => console.log(`[fuzz] ${new Date().toISOString().slice(11, 19)} ${msg}`);

/** Base events, as many distinct ones as the fuzz needs (at most 50 000). */
const BASES = Math.min(50_000, Math.max(1000, INPUTS));

type Tally = {
  inputs: number;
  crashes: number;
  scored: number;
  dead: number;
  byKind: Record<string, { inputs: number; dead: number; scored: number }>;
  deadCodes: Record<string, number>;
  failures: string[];
};

async function fuzzEvents(
  scorer: AnomalyScorer,
  signer: ReturnType<typeof createSigner>,
): Promise<{ tally: Tally; signed: { kind: FeedKind; rec: Record<string, unknown> }[]; audit: AuditRecord[]; seconds: number }> {
  const started = Date.now();
  const bases = (await loadFixtureRecords(BASES)).map((r) => JSON.parse(r.value!.toString('utf8')) as Record<string, unknown> & { agent: { id: string } });
  const rnd = prng(SEED);
  const sampleSigned: { kind: FeedKind; rec: Record<string, unknown> }[] = [];
  const sampleAudit: AuditRecord[] = [];
  let current: BatchOutputs | null = null;
  const sink: OutputSink = {
    write: async (o) => {
      current = o;
      if (sampleSigned.length < 20_000) {
        for (const r of o.trust) sampleSigned.push({ kind: 'trust', rec: r as unknown as Record<string, unknown> });
        for (const r of o.circuit) sampleSigned.push({ kind: 'circuit', rec: r as unknown as Record<string, unknown> });
        for (const r of o.escalations ?? []) sampleSigned.push({ kind: 'escalation', rec: r as unknown as Record<string, unknown> });
      }
      if (sampleAudit.length < 5_000) sampleAudit.push(...(o.audit ?? []));
    },
    close: async () => undefined,
  };
  const processor = new BatchProcessor({
    store: new MemoryStateStore(),
    scorer,
    sink,
    signer,
    policy: DEFAULT_POLICY,
    mode: 'enforce',
    ttlMs: 300_000,
    escalation: {
      rules: [{ sensitivities: ['high', 'critical'], bands: ['trusted', 'watch', 'restrict', 'block'] }],
      ttlMs: 120_000,
      approveCredit: 0.05,
      denyPenalty: 0.3,
    },
    audit: { topic: 'fuzz.audit' },
  });
  const t: Tally = { inputs: 0, crashes: 0, scored: 0, dead: 0, byKind: {}, deadCodes: {}, failures: [] };
  for (const k of MUTATION_KINDS) t.byKind[k] = { inputs: 0, dead: 0, scored: 0 };
  const fail = (msg: string): void => {
    if (t.failures.length < 50) t.failures.push(msg);
  };
  let position = 0;
  for (let done = 0; done < INPUTS;) {
    const n = Math.min(BATCH, INPUTS - done);
    const records: InputRecord[] = [];
    const meta: { kind: MutationKind; mustReject: boolean }[] = [];
    for (let i = 0; i < n; i++) {
      const base = bases[(done + i) % bases.length]!;
      // About a third unmutated, the rest spread over the mutations.
      const kind: MutationKind = rnd() < 0.33 ? 'none' : MUTATION_KINDS[1 + Math.floor(rnd() * (MUTATION_KINDS.length - 1))]!;
      const m = mutateEvent(base, kind, rnd);
      position++;
      records.push({ value: m.bytes, key: Buffer.from(base.agent.id, 'utf8'), position, source: { topic: 'fuzz', partition: 0, offset: String(position) } });
      meta.push({ kind, mustReject: m.mustReject });
    }
    current = null;
    try {
      const r = await processor.process(records);
      const out = current as BatchOutputs | null;
      const dead = new Map<number, BatchOutputs['dlq'][number]>();
      for (const d of out?.dlq ?? []) {
        const p = Number(d.source.offset) - records[0]!.position;
        if (dead.has(p)) fail(`position ${d.source.offset} dead-lettered twice`);
        dead.set(p, d);
        t.deadCodes[d.code] = (t.deadCodes[d.code] ?? 0) + 1;
        if (!d.code || !d.message) fail(`dead letter at ${d.source.offset} without a reason`);
        const src = records[p]!;
        const same = d.value === null ? src.value === null : src.value !== null && Buffer.compare(d.value, src.value) === 0;
        if (!same) fail(`dead letter at ${d.source.offset} does not carry the original bytes`);
      }
      if (r.applied + dead.size !== n) fail(`batch at ${records[0]!.position}: ${r.applied} scored + ${dead.size} dead ≠ ${n} records`);
      if (r.skipped !== 0) fail(`batch at ${records[0]!.position}: ${r.skipped} skipped`);
      if ((out?.scores.length ?? 0) !== r.applied) fail(`batch at ${records[0]!.position}: ${out?.scores.length} score rows for ${r.applied} applied`);
      for (let i = 0; i < n; i++) {
        const k = t.byKind[meta[i]!.kind]!;
        k.inputs++;
        if (dead.has(i)) k.dead++;
        else k.scored++;
        if (meta[i]!.mustReject && !dead.has(i))
          fail(`${meta[i]!.kind} mutant at ${records[i]!.position} was not dead-lettered: ${records[i]!.value?.toString('utf8').slice(0, 200)}`);
        if ((meta[i]!.kind === 'none' || meta[i]!.kind === 'unknown_field') && dead.has(i))
          fail(`good event at ${records[i]!.position} (${meta[i]!.kind}) was dead-lettered: ${dead.get(i)!.code} ${dead.get(i)!.message}`);
      }
      t.scored += r.applied;
      t.dead += dead.size;
    } catch (err) {
      t.crashes++;
      fail(`process() threw on the batch at ${records[0]!.position}: ${(err as Error).stack ?? String(err)}`);
    }
    done += n;
    t.inputs = done;
    if (done % 100_000 === 0 || done === INPUTS)
      log(
        `${done} inputs: ${t.scored} scored, ${t.dead} dead-lettered, ${t.crashes} crashes, ${t.failures.length} failures, ${Math.round(done / ((Date.now() - started) / 1000))} inputs/s`,
      );
  }
  if (Object.keys(Object.prototype).length || ({} as Record<string, unknown>).polluted !== undefined || ({} as Record<string, unknown>).isAdmin !== undefined)
    fail('Object.prototype was polluted');
  return { tally: t, signed: sampleSigned, audit: sampleAudit, seconds: Math.round((Date.now() - started) / 1000) };
}

type SignedTally = {
  trials: number;
  refused: number;
  accepted: number;
  byKind: Record<string, { trials: number; refused: number }>;
  equivalentEncodings: number;
  failures: string[];
};

function fuzzSigned(
  signed: { kind: FeedKind; rec: Record<string, unknown> }[],
  audit: AuditRecord[],
  keys: { hs: SigningKey; ed: SigningKey; other: SigningKey },
): SignedTally {
  const rnd = prng(SEED + 1);
  const silent = createLogger({ level: 'silent' });
  const ring = [keys.hs, keys.ed, keys.other];
  const core = () => createEnforcerCore({ keys: ring, logger: silent, now: () => 0 });
  // Every record also re-signed with the Ed25519 key.
  const edSigner = createSigner([keys.ed], keys.ed.kid);
  const pool = signed.flatMap((s) => {
    const { sig: _sig, ...rest } = s.rec;
    return [s, { kind: s.kind, rec: { ...rest, sig: edSigner.sign(rest) } as Record<string, unknown> }];
  });
  const t: SignedTally = { trials: 0, refused: 0, accepted: 0, byKind: {}, equivalentEncodings: 0, failures: [] };
  const count = (kind: string, refused: boolean, detail: string): void => {
    const k = (t.byKind[kind] ??= { trials: 0, refused: 0 });
    k.trials++;
    t.trials++;
    if (refused) {
      k.refused++;
      t.refused++;
    } else {
      t.accepted++;
      if (t.failures.length < 50) t.failures.push(`${kind}: ${detail}`);
    }
  };
  // Trust and circuit series per agent (tenant and agent id: a byte flip may make a new tenant), for replays.
  const series = new Map<string, { kind: FeedKind; rec: Record<string, unknown> }[]>();
  for (const s of pool) {
    if (s.kind === 'escalation') continue;
    const k = `${s.kind}/${String(s.rec.tenant)}/${String(s.rec.agentId)}/${(s.rec.sig as { kid: string }).kid}`;
    const xs = series.get(k);
    if (xs) xs.push(s);
    else series.set(k, [s]);
  }
  const replayable = [...series.values()].filter((xs) => xs.length >= 2);
  const chains = new Map<number, AuditRecord[]>();
  for (const r of audit) {
    const xs = chains.get(r.partition);
    if (xs) xs.push(r);
    else chains.set(r.partition, [r]);
  }
  const chain = [...chains.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const ops = [...TAMPER_KINDS, 'replay', 'audit_swap', 'audit_change', 'audit_delete', 'audit_insert'] as const;
  for (let i = 0; i < SIGNED; i++) {
    const op = ops[i % ops.length]!;
    if ((TAMPER_KINDS as readonly string[]).includes(op)) {
      const s = pool[Math.floor(rnd() * pool.length)]!;
      const kid = (s.rec.sig as { kid: string }).kid;
      const bad = tamperRecord(s.rec, op as TamperKind, rnd, kid === keys.hs.kid ? keys.ed.kid : keys.hs.kid);
      if (op === 'signature') {
        const a = (s.rec.sig as { value: string }).value;
        const b = (bad.sig as { value: string }).value;
        // Base64url's last character carries unused bits: a different text may decode to the same
        // signature bytes. That is not a mutated signature; counted apart, not as a trial.
        if ((s.rec.sig as { alg: string }).alg === 'Ed25519' && Buffer.from(a, 'base64url').equals(Buffer.from(b, 'base64url'))) {
          t.equivalentEncodings++;
          continue;
        }
      }
      const e = core();
      const outcome = e.ingest(s.kind, JSON.stringify(bad));
      count(op, outcome !== 'accepted' && outcome !== 'duplicate' && e.metrics().accepted === 0, `${outcome} for a ${s.kind} record (${kid})`);
    } else if (op === 'replay') {
      const xs = replayable[Math.floor(rnd() * replayable.length)]!;
      const j = 1 + Math.floor(rnd() * (xs.length - 1));
      const older = xs[Math.floor(rnd() * j)]!;
      const newer = xs[j]!;
      if (Number(older.rec.seq) >= Number(newer.rec.seq)) continue;
      const e = core();
      const first = e.ingest(newer.kind, JSON.stringify(newer.rec));
      const outcome = e.ingest(older.kind, JSON.stringify(older.rec));
      count(op, first === 'accepted' && outcome === 'stale_seq', `${outcome} for seq ${String(older.rec.seq)} after ${String(newer.rec.seq)} (${first})`);
    } else {
      // A chain prefix (from genesis), tampered strictly before its last record (the last one
      // needs an anchored head: docs/enforcers.md).
      const len = Math.min(chain.length, 3 + Math.floor(rnd() * 60));
      const recs = chain.slice(0, len).map((r) => JSON.parse(JSON.stringify(r)) as AuditRecord & { entry: Record<string, unknown> });
      const at = Math.floor(rnd() * (len - 1));
      if (op === 'audit_swap') {
        const j = at + 1 + Math.floor(rnd() * (len - 1 - at));
        [recs[at], recs[j]] = [recs[j]!, recs[at]!];
      } else if (op === 'audit_change') {
        const keysOf = Object.keys(recs[at]!.entry);
        const k = keysOf[Math.floor(rnd() * keysOf.length)]!;
        const v = recs[at]!.entry[k];
        recs[at]!.entry[k] = typeof v === 'number' ? v + 1 : `${String(v)}x`;
      } else if (op === 'audit_delete') {
        recs.splice(at, 1);
      } else {
        recs.splice(at, 0, { ...recs[at]!, entry: { ...recs[at]!.entry, inserted: true } });
      }
      const v = verifyChain(recs);
      count(op, !v.ok, `${op} at ${at} of ${len} verified`);
    }
  }
  return t;
}

async function main(): Promise<number> {
  const started = Date.now();
  const scorer: AnomalyScorer & { close?: () => Promise<void> } = args.scorer === 'fake' ? new LeanFakeScorer() : await loadAnomalyScorer(MODEL_CARD, 1);
  const hs: SigningKey = { kid: 'fuzz-hs', alg: 'HS256', secret: 'fuzz-signing-key-0123456789abcdef' };
  const other: SigningKey = { kid: 'fuzz-other', alg: 'HS256', secret: 'fuzz-other-signing-key-0123456789' };
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ed: SigningKey = { kid: 'fuzz-ed', alg: 'Ed25519', secret: pem };
  log(`${INPUTS} event inputs (${args.scorer} scorer, batches of ${BATCH}), then ${SIGNED} signed-record trials; seed ${SEED}`);
  const events = await fuzzEvents(scorer, createSigner([hs, other], hs.kid));
  await scorer.close?.();
  const signedStarted = Date.now();
  const signed = fuzzSigned(events.signed, events.audit, { hs, ed, other });
  log(
    `${signed.trials} signed-record trials: ${signed.refused} refused, ${signed.accepted} accepted (${signed.equivalentEncodings} equivalent base64url encodings of the same Ed25519 signature set aside)`,
  );
  const e = events.tally;
  const pass = e.crashes === 0 && e.failures.length === 0 && signed.accepted === 0 && signed.trials > 0;
  const result = {
    script: 'npm run fuzz',
    args: { inputs: INPUTS, signed: SIGNED, seed: SEED, scorer: args.scorer, batch: BATCH },
    at: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    host: { cpus: os.cpus().length, node: process.version },
    seconds: { total: Math.round((Date.now() - started) / 1000), events: events.seconds, signed: Math.round((Date.now() - signedStarted) / 1000) },
    events: {
      inputs: e.inputs,
      crashes: e.crashes,
      scored: e.scored,
      deadLettered: e.dead,
      byMutation: e.byKind,
      deadLetterCodes: e.deadCodes,
      failures: e.failures,
    },
    signed: {
      trials: signed.trials,
      refused: signed.refused,
      accepted: signed.accepted,
      byKind: signed.byKind,
      equivalentEncodingsSetAside: signed.equivalentEncodings,
      samplePool: events.signed.length * 2,
      auditChainSample: events.audit.length,
      failures: signed.failures,
    },
    pass,
  };
  mkdirSync(path.dirname(path.resolve(ROOT, args.out!)), { recursive: true });
  writeFileSync(path.resolve(ROOT, args.out!), JSON.stringify(result, null, 2) + '\n');
  log(
    `${pass ? 'PASS' : 'FAIL'}: ${e.inputs} inputs, ${e.crashes} crashes, ${e.scored} scored, ${e.dead} dead-lettered, ${e.failures.length} failures; signed ${signed.refused}/${signed.trials} refused; ${result.seconds.total} s; written to ${args.out}`,
  );
  for (const f of [...e.failures, ...signed.failures].slice(0, 10)) log(`failure: ${f.slice(0, 400)}`);
  return pass ? 0 : 1;
}

/** test/support/fake-scorer.ts without its per-row bookkeeping (a million rows would be kept). */
class LeanFakeScorer extends FakeScorer {
  override async score(matrix: Float32Array, rows: number): Promise<Float32Array> {
    const out = await super.score(matrix, rows);
    this.rows.length = 0;
    this.calls.length = 0;
    return out;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`fuzz: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
