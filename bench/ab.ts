/**
 * A/B of the in-process production path between two checkouts of trustline, with one harness
 * (the bench's production path: memory store, audit on, no score rows, every output encoded to
 * bytes; 90k training events on 3 partitions, chunks of 1000, 20-chunk warm-up). Prints CPU µs
 * per event (user + system, whole process) and the output bytes, which must be equal.
 *
 *   git worktree add --detach /tmp/base <old commit> && (cd /tmp/base && npm ci)
 *   for i in 1 2 3; do node --import tsx bench/ab.ts /tmp/base; node --import tsx bench/ab.ts .; done
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
const root = resolve(process.argv[2] ?? '.');
const m = async (p: string) => import(join(root, p));
const { loadConfig } = await m('src/config/config.ts');
const { BatchProcessor } = await m('src/pipeline/batch-processor.ts');
const { configuredDeps } = await m('src/pipeline/configure.ts');
const { loadAnomalyScorer } = await m('src/scoring/pipeline-scorer.ts');
const { MemoryStateStore } = await m('src/state/memory-store.ts');
const { readLines } = await m('src/runners/replay/file-source.ts');
const { decodeEvent } = await m('src/contract/decode.ts');
const wire = existsSync(join(root, 'src/outputs/wire.ts')) ? (await m('src/outputs/wire.ts')).wireJson : (r: object) => JSON.stringify(r);
const config = loadConfig({ env: {}, overrides: { log: { level: 'warn' } } });
const base: Buffer[] = [];
for await (const { bytes } of readLines(join(root, 'fixtures/train/train.jsonl.gz'))) if (bytes.length) base.push(Buffer.from(bytes));
const events = base.slice(0, 90_000);
const part = (v: Buffer) => {
  const r = decodeEvent(v);
  const k = r.ok ? r.event.agent.id : '';
  let h = 0;
  for (let i = 0; i < k.length; i++) h = (Math.imul(h, 31) + k.charCodeAt(i)) | 0;
  return (h >>> 0) % 3;
};
const recs = events.map((value, i) => ({ value, key: null, position: i + 1, source: { topic: 'ab', partition: part(value), offset: String(i + 1) } }));
const chunks: any[][] = [];
for (let p = 0; p < 3; p++) {
  const ps = recs.filter((r) => r.source.partition === p);
  for (let i = 0; i < ps.length; i += 1000) chunks.push(ps.slice(i, i + 1000));
}
chunks.sort((a, b) => a[0].position - b[0].position);
const scorer = await loadAnomalyScorer(config.model.card, 1);
let bytes = 0;
const sink = {
  async write(o: any) {
    for (const k of ['trust', 'circuit', 'escalations', 'audit']) for (const r of o[k] ?? []) bytes += Buffer.from(wire(r)).length;
  },
  async close() {},
};
const deps = { scorer, ...configuredDeps(config), audit: { topic: 'audit' }, scoreRows: false, sink };
const warm = new BatchProcessor({ ...deps, store: new MemoryStateStore() });
for (const c of chunks.slice(0, 20)) await warm.process(c);
const proc = new BatchProcessor({ ...deps, store: new MemoryStateStore() });
const c0 = process.cpuUsage();
const t0 = performance.now();
for (const c of chunks) await proc.process(c);
const c = process.cpuUsage(c0);
const ms = performance.now() - t0;
console.log(
  JSON.stringify({ root, cpuUsPerEvent: +((c.user + c.system) / events.length).toFixed(2), wallUsPerEvent: +((ms * 1000) / events.length).toFixed(2), bytes }),
);
await scorer.close();
process.exit(0);
