/**
 * Renders the figures of a bench result (default `bench/results/latest.json`) as the Markdown
 * tables of docs/benchmarks.md, so the document quotes the JSON it is committed with.
 *
 *   npx tsx bench/render.ts [bench/results/latest.json]
 */
import { readFileSync } from 'node:fs';

type Stages = Record<string, number>;
type Path = {
  eventsPerSec: number;
  eventsPerCpuSec: number;
  usPerEvent: Stages;
  outputs: { trust: number; audit: number; kafkaMessages: number; kafkaBytes: number };
};
type Lat = {
  offeredPerSec: number;
  achievedPerSec?: number;
  sent: number;
  seconds: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  measured: number;
};

const file = process.argv[2] ?? 'bench/results/latest.json';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const r = JSON.parse(readFileSync(file, 'utf8')) as any;
const f = (x: number): string => Math.round(x).toLocaleString('en-US');
const yes = (met: boolean): string => (met ? 'met' : '**missed**');
const ip = r.inProcess as {
  memoryStore: Path;
  redisStore: Path | null;
  baseline: { eventsPerSec: number; eventsPerCpuSec: number; usPerEvent: number };
  slowdownVsBaseline: Record<string, number>;
  target: { met: boolean };
};
const stages = (p: Path): string =>
  Object.entries(p.usPerEvent)
    .filter(([k]) => k !== 'total')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
const lat = r.latency as { trustline: Lat & { p99Breakdown: Record<string, number> }; baseline: Lat; target: { p99Ms: number; met: boolean } };
const e2e = r.endToEnd;
/** Older results have no achieved rate: the events sent over the offered seconds. */
const achieved = (l: Lat): number => l.achievedPerSec ?? l.sent / l.seconds;
const mem = r.redisMemory;
const lines = [
  `Run ${r.startedAt} → ${r.finishedAt}${r.quick ? ' (--quick)' : ''}; ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}; load average at start ${r.machine.loadAverageAtStart.join(' / ')}, at end ${r.loadAverageAtEnd.join(' / ')} (1 / 5 / 15 min).`,
  '',
  '| what | trustline | baseline (same run) | target |',
  '|---|---|---|---|',
  `| in-process production path, memory store (${f(r.inProcess.memoryStore.events)} events, chunks of ${r.inProcess.memoryStore.batchSize}) | ${f(ip.memoryStore.eventsPerSec)} events/s wall (${ip.memoryStore.usPerEvent.total} µs/event: ${stages(ip.memoryStore)}); ${f(ip.memoryStore.eventsPerCpuSec)} events per CPU-second | JSON parse → stringify passthrough: ${f(ip.baseline.eventsPerSec)} events/s wall, ${f(ip.baseline.eventsPerCpuSec)} per CPU-second; slowdown ${ip.slowdownVsBaseline.memoryStore}× wall, ${ip.slowdownVsBaseline.memoryStoreCpu}× CPU | ≥ 160,000/s and ≤ 1.2× — ${yes(ip.target.met)} |`,
  ...(ip.redisStore
    ? [
        `| in-process production path, Redis store | ${f(ip.redisStore.eventsPerSec)} events/s wall (${ip.redisStore.usPerEvent.total} µs/event: ${stages(ip.redisStore)}); ${f(ip.redisStore.eventsPerCpuSec)} per CPU-second | slowdown ${ip.slowdownVsBaseline.redisStore}× wall, ${ip.slowdownVsBaseline.redisStoreCpu}× CPU | — |`,
      ]
    : []),
  `| end-to-end drain, ${f(e2e.events)} pre-loaded events, ${e2e.partitions} partitions, real broker + Redis | ${f(e2e.trustline.eventsPerSec)} events/s | kafkajs consume → produce passthrough (same concurrency): ${f(e2e.passthrough.eventsPerSec)} events/s | ratio ${e2e.ratio} ≥ 0.85 — ${yes(e2e.target.met)} |`,
  `| event-to-emit latency, ${f(lat.trustline.offeredPerSec)} events/s planned (half the drain rate), ${f(achieved(lat.trustline))} achieved | p50 ${lat.trustline.p50Ms} ms, p90 ${lat.trustline.p90Ms}, p99 ${lat.trustline.p99Ms}, max ${lat.trustline.maxMs} | passthrough, ${f(achieved(lat.baseline))} events/s achieved: p50 ${lat.baseline.p50Ms}, p90 ${lat.baseline.p90Ms}, p99 ${lat.baseline.p99Ms}, max ${lat.baseline.maxMs} | p99 ≤ ${lat.target.p99Ms} ms — ${yes(lat.target.met)} |`,
  `| Redis bytes per tracked agent (${f(mem.agents)} agents, INFO used_memory; MEMORY USAGE) | ${mem.trustline.bytesPerAgent} B (${mem.trustline.memoryUsage.bytesPerAgent} B; ${mem.trustline.memoryUsage.keys} bucket hashes, ${Object.entries(
    mem.trustline.memoryUsage.encodings,
  )
    .map(([k, v]) => `${v} ${k}`)
    .join(', ')}) | one key per agent: ${mem.baseline.bytesPerAgent} B (${mem.baseline.memoryUsage.bytesPerAgent} B) | ≤ 256 — ${yes(mem.target.met)} |`,
  `| HS256 sign / verify a TrustUpdate | ${r.signing.signUs} / ${r.signing.verifyUs} µs | JSON.stringify of it: ${r.signing.baseline.us} µs | — |`,
  `| enforcer \`decide()\` (${f(r.decide.agents)} agents, ${f(r.decide.calls)} calls) | ${r.decide.decideUs} µs | \`Map.get\`: ${r.decide.baseline.us} µs | ≤ 0.2 µs — ${yes(r.decide.target.met)} |`,
  '',
  `Where the slowest 1 % of events (≥ p99) spent their time, mean ms: ${Object.entries(lat.trustline.p99Breakdown)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}.`,
  '',
  `CPU profile of the in-process path (memory store; V8 CPU profile of the timed loop in a child process, ${r.profile.totalMs} ms, ${r.profile.samples} samples), top functions by self time:`,
  '',
  r.profile.markdown,
];
process.stdout.write(lines.join('\n') + '\n');
