/**
 * Reading fixture files: `.jsonl` or `.jsonl.gz`, streamed line by line, and their labels
 * sidecars (`<name>.labels.json` next to `<name>.jsonl[.gz]`).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gunzipSync } from 'node:zlib';
import type { LabelsFile } from './types.ts';

/** Path of the labels sidecar of a fixture file. */
export function labelsPathFor(fixturePath: string): string {
  const name = basename(fixturePath).replace(/\.jsonl(\.gz)?$/, '');
  return join(dirname(fixturePath), `${name}.labels.json`);
}

/** Stream the non-empty lines of a fixture file (gunzipped when it ends in `.gz`). */
export async function* readFixtureLines(path: string): AsyncGenerator<string> {
  const raw = createReadStream(path);
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) if (line.length > 0) yield line;
}

/** The whole uncompressed content of a fixture file. */
export function readFixtureBytes(path: string): Buffer {
  const buf = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(buf) : buf;
}

/** Read a labels sidecar. */
export function readLabels(path: string): LabelsFile {
  return JSON.parse(readFileSync(path, 'utf8')) as LabelsFile;
}
