#!/usr/bin/env node
// Entry point for `npx trustline <command>`: the compiled CLI (dist/, written by `npm run build`,
// which `npm ci` runs through the prepare script). No TypeScript loader at run time.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', '.built');
if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
  process.stderr.write('trustline: the compiled CLI is missing (dist/): run `npm run build` in the repository (npm ci does it)\n');
  process.exit(1);
}
// In a clone (the sources are next to dist/), say when they changed after the last build.
if (existsSync(join(root, 'src')) && existsSync(built)) {
  const builtAt = statSync(built).mtimeMs;
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true, recursive: true }).some(
      (e) => e.isFile() && e.name.endsWith('.ts') && statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs > builtAt,
    );
  if (newer(join(root, 'src')) || newer(join(root, 'lab')))
    process.stderr.write('trustline: note: the sources changed after the last build; run `npm run build` to run them\n');
}

const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
