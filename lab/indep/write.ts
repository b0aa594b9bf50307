/** Writes an independent stream and its labels sidecar (gzip with mtime 0: same bytes every time). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { generateIndep, type IndepOptions } from './generate.ts';

export async function writeIndep(
  outDir: string,
  o: IndepOptions,
  name = `indep-${o.seed}`,
): Promise<{ file: string; labelsFile: string; events: number; agents: number; malicious: number }> {
  const { events, labels } = generateIndep(o);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${name}.jsonl.gz`);
  const labelsFile = join(outDir, `${name}.labels.json`);
  const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  writeFileSync(file, gzipSync(text, { level: 6 }));
  writeFileSync(labelsFile, JSON.stringify(labels, null, 1) + '\n');
  const agents = Object.values(labels.agents);
  return Promise.resolve({ file, labelsFile, events: events.length, agents: agents.length, malicious: agents.filter((a) => a.malicious).length });
}
