/**
 * Chaos run (not in CI; docs/reliability.md):
 *
 *   npm run chaos -- --kills 50 --events 200000 [--seed 1] [--produce-s 180] [--out docs/results/chaos.json]
 *
 * Runs `trustline run` as a child process on the real broker and Redis (KAFKA_BROKERS, REDIS_URL;
 * unique topics and key prefix) while the events (fixtures, more rounds with new agent ids when
 * needed, with poison records) are produced at a steady pace, SIGKILLs it at seeded random
 * moments `--kills` times (restarting it each time), drains with a clean run and proves, against
 * one uninterrupted in-process run of the same records: 0 events lost and 0 applied twice (every
 * agent's Redis state byte-identical — its seq counter and watermark would differ otherwise —
 * and every offset committed), every trust/circuit/escalation record present and byte-identical,
 * the audit chain intact (the project's verifier) and equal to the reference, every dead letter
 * present once per source record with its reason. Writes the result as JSON; exits 1 on failure.
 * Bounded: at most `--max-minutes` (default 60) of killing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { clusterFromEnv } from '../test/support/cluster.ts';
import {
  ChildProcessor,
  ROOT,
  SCENARIO_ESCALATION,
  checkDelivery,
  cleanupTest,
  committedOffsets,
  connectAdmin,
  createProcessorTopics,
  deliveryProblems,
  describeReport,
  endOffsets,
  evictGroupMembers,
  interleavePoison,
  loadManyEvents,
  metricValue,
  prng,
  processorConfig,
  processorEnv,
  producePaced,
  sleep,
  totalOf,
  uniqueNames,
  waitForAllCommitted,
} from '../test/support/processor-harness.ts';

const { values: args } = parseArgs({
  options: {
    kills: { type: 'string', default: '50' },
    events: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '1' },
    'produce-s': { type: 'string' },
    'max-minutes': { type: 'string', default: '60' },
    partitions: { type: 'string', default: '3' },
    out: { type: 'string', default: path.join('docs', 'results', 'chaos.json') },
    keep: { type: 'boolean', default: false },
  },
});
const KILLS = Number(args.kills);
const EVENTS = Number(args.events);
const SEED = Number(args.seed);
const PARTITIONS = Number(args.partitions);
const MAX_MS = Number(args['max-minutes']) * 60_000;
// Long enough for the kills to land while input is still arriving: ~4 s per kill cycle.
const PRODUCE_MS = args['produce-s'] ? Number(args['produce-s']) * 1000 : Math.max(30_000, KILLS * 4_000);
if (![KILLS, EVENTS, SEED, PARTITIONS, MAX_MS, PRODUCE_MS].every((n) => Number.isFinite(n) && n >= 0) || EVENTS < 1) {
  console.error('chaos: --kills, --events, --seed, --partitions, --produce-s and --max-minutes must be non-negative numbers');
  process.exit(2);
}

const log = (msg: string): void => console.log(`[chaos] ${new Date().toISOString().slice(11, 19)} ${msg}`);

async function main(): Promise<number> {
  const started = Date.now();
  const cluster = clusterFromEnv();
  const names = uniqueNames('chaos');
  await createProcessorTopics(cluster, names, PARTITIONS);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trustline-chaos-'));
  writeFileSync(path.join(dir, 'trustline.json'), JSON.stringify({ escalation: SCENARIO_ESCALATION }));
  const env = processorEnv(cluster, names, {
    TRUSTLINE_CONFIG: path.join(dir, 'trustline.json'),
    TRUSTLINE_PARTITIONS: String(PARTITIONS),
    TRUSTLINE_MAX_BATCH_EVENTS: '500',
  });
  const config = processorConfig(env);
  const records = interleavePoison(await loadManyEvents(EVENTS), 1000, SEED);
  log(
    `${records.length} records (${EVENTS} events, ${records.length - EVENTS} poison) to ${names.requests}, produced over ${Math.round(PRODUCE_MS / 1000)} s; ${KILLS} SIGKILLs`,
  );

  let producing = true;
  let produced = 0;
  const feeding = producePaced(cluster, names.requests, records, { durationMs: PRODUCE_MS, sliceMs: 250, onProgress: (n) => (produced = n) }).finally(
    () => (producing = false),
  );
  const rnd = prng(SEED);
  const admin = await connectAdmin(cluster);
  const kills: { run: number; processedInRun: number; skippedInRun: number; uncommitted: number; midStream: boolean }[] = [];
  const children: ChildProcessor[] = [];
  let final: ChildProcessor | null = null;
  try {
    for (let run = 1; kills.length < KILLS; run++) {
      if (Date.now() - started > MAX_MS) {
        log(`time bound reached after ${kills.length} kills`);
        break;
      }
      const child = new ChildProcessor(env, `run #${run}`);
      children.push(child);
      await child.waitForLog((l) => l.msg === 'processor running', 'processor running', 120_000);
      // Kill at a seeded random moment 0–4 s after it is running (it works through the backlog meanwhile).
      await sleep(Math.floor(rnd() * 4000));
      const metrics = await child.metricsText();
      const ends = await endOffsets(cluster, names.requests, admin);
      child.kill('SIGKILL');
      const exit = await child.exited;
      if (exit.signal !== 'SIGKILL') throw new Error(`${child.label} died by itself (${JSON.stringify(exit)}):\n${child.tail()}`);
      const committed = await committedOffsets(cluster, names.group, names.requests, admin);
      const processedInRun = metricValue(metrics, 'trustline_events_total');
      const uncommitted = totalOf(ends) - totalOf(committed);
      kills.push({
        run,
        processedInRun,
        skippedInRun: metricValue(metrics, 'trustline_events_total', { outcome: 'skipped' }),
        uncommitted,
        midStream: processedInRun > 0 && uncommitted > 0,
      });
      if (kills.length % 5 === 0 || kills.length === KILLS)
        log(`${kills.length} kills; produced ${produced}/${records.length}; committed ${totalOf(committed)}; uncommitted at the last kill ${uncommitted}`);
      await evictGroupMembers(cluster, names.group);
      if (!producing && uncommitted === 0 && kills.length >= KILLS) break;
    }
    await feeding;
    log('all produced; draining with a clean run');
    final = new ChildProcessor(env, 'final run');
    await final.waitJoined(120_000);
    await waitForAllCommitted(cluster, names.group, names.requests, 30 * 60_000);
    const finalMetrics = await final.metricsText();
    final.kill('SIGTERM');
    const finalExit = await final.exited;
    const killSeconds = Math.round((Date.now() - started) / 1000);
    log(`drained; final run exited ${JSON.stringify(finalExit)}; checking against the uninterrupted reference`);
    const report = await checkDelivery(cluster, names, config);
    const problems = deliveryProblems(report);
    if (finalExit.code !== 0) problems.push(`final run exited ${JSON.stringify(finalExit)}`);
    if (report.requests.length !== records.length) problems.push(`requests topic holds ${report.requests.length} records, ${records.length} produced`);
    if (kills.length < KILLS) problems.push(`${kills.length} kills, ${KILLS} asked`);
    const lag = totalOf(await endOffsets(cluster, names.requests, admin)) - totalOf(await committedOffsets(cluster, names.group, names.requests, admin));
    if (lag !== 0) problems.push(`${lag} records not committed`);
    console.log(describeReport(report));
    const result = {
      script: 'npm run chaos',
      args: { kills: KILLS, events: EVENTS, seed: SEED, partitions: PARTITIONS, produceSeconds: Math.round(PRODUCE_MS / 1000) },
      at: new Date().toISOString(),
      commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
      host: { cpus: os.cpus().length, node: process.version },
      seconds: { total: Math.round((Date.now() - started) / 1000), killsAndDrain: killSeconds },
      records: records.length,
      events: EVENTS,
      kills: {
        count: kills.length,
        midStream: kills.filter((k) => k.midStream).length,
        skippedOnReplay: kills.reduce((a, k) => a + k.skippedInRun, 0) + metricValue(finalMetrics, 'trustline_events_total', { outcome: 'skipped' }),
      },
      check: {
        eventsLost: report.state.differing.length === 0 && lag === 0 && report.trust.missing.length === 0 ? 0 : null,
        appliedTwice: report.state.storedDigest === report.state.referenceDigest ? 0 : null,
        agents: report.state.agents,
        stateDigest: report.state.storedDigest,
        referenceDigest: report.state.referenceDigest,
        trust: { expected: report.trust.expected, read: report.trust.read, duplicates: report.trust.duplicates, missing: report.trust.missing.length },
        circuit: {
          expected: report.circuit.expected,
          read: report.circuit.read,
          duplicates: report.circuit.duplicates,
          missing: report.circuit.missing.length,
        },
        escalations: {
          expected: report.escalations.expected,
          read: report.escalations.read,
          duplicates: report.escalations.duplicates,
          missing: report.escalations.missing.length,
        },
        audit: { verifier: report.audit.verdict, links: report.audit.links, expected: report.audit.expected, reEmitted: report.audit.duplicates },
        dlq: { expected: report.dlq.expected, read: report.dlq.read, distinct: report.dlq.distinct },
      },
      problems,
      pass: problems.length === 0,
      perKill: kills,
    };
    mkdirSync(path.dirname(path.resolve(ROOT, args.out!)), { recursive: true });
    writeFileSync(path.resolve(ROOT, args.out!), JSON.stringify(result, null, 2) + '\n');
    log(
      `${result.pass ? 'PASS' : 'FAIL'}: ${kills.length} SIGKILLs (${result.kills.midStream} mid-stream), ${records.length} records, ${result.seconds.total} s; events lost ${result.check.eventsLost ?? '≠ 0'}, applied twice ${result.check.appliedTwice ?? '≠ 0'}, audit ${report.audit.verdict}; written to ${args.out}`,
    );
    for (const p of problems) log(`problem: ${p}`);
    return result.pass ? 0 : 1;
  } finally {
    for (const c of [...children, ...(final ? [final] : [])]) c.kill('SIGKILL');
    await admin.disconnect();
    if (!args.keep) await cleanupTest(cluster, names);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`chaos: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
