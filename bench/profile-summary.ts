/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the top functions by self time, with
 * their share of all samples, as JSON (`--json`) or a Markdown table.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--json]
 *
 * Self time of a node = its sample count × the mean sampling interval; nodes of the same
 * function (name + url + line) are added together. `(idle)`, `(program)` and `(garbage
 * collector)` are kept: GC time is part of what allocation costs.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

export type ProfileRow = { function: string; where: string; selfMs: number; selfPct: number };

export function summariseProfile(profile: CpuProfile, top = 25): { totalMs: number; samples: number; rows: ProfileRow[] } {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  // Self time per node from the sample stream (timeDeltas[i] is the gap before samples[i]).
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const totalUs = profile.endTime - profile.startTime;
  const byFunction = new Map<string, { function: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const file = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
    const where = file ? `${file}:${lineNumber + 1}` : '';
    const name = functionName || '(anonymous)';
    const k = `${name}@${where}`;
    const row = byFunction.get(k) ?? { function: name, where, us: 0 };
    row.us += us;
    byFunction.set(k, row);
  }
  const rows = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((r) => ({ function: r.function, where: r.where, selfMs: Math.round(r.us / 100) / 10, selfPct: Math.round((r.us / totalUs) * 1000) / 10 }));
  return { totalMs: Math.round(totalUs / 1000), samples: profile.samples.length, rows };
}

export function profileMarkdown(s: ReturnType<typeof summariseProfile>): string {
  const lines = ['| self ms | self % | function | where |', '|---:|---:|---|---|'];
  for (const r of s.rows) lines.push(`| ${r.selfMs} | ${r.selfPct} | \`${r.function}\` | ${r.where.replace(/\|/g, '\\|')} |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (!file) {
    process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--json]\n');
    process.exit(2);
  }
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const s = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top);
  process.stdout.write(args.includes('--json') ? JSON.stringify(s, null, 2) + '\n' : `${s.totalMs} ms, ${s.samples} samples\n\n${profileMarkdown(s)}\n`);
}
