/**
 * Writing the replay report to a file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { renderReport, type ReportInput } from './html.ts';

/** Render the report and write it to `file` (parent folders are created); resolves to its size in bytes. */
export async function writeReport(file: string, input: ReportInput): Promise<number> {
  const html = renderReport(input);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, html);
  return Buffer.byteLength(html);
}
