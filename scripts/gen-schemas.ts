/**
 * Writes the v1 wire-contract JSON Schema files under `schemas/` from the TypeBox
 * definitions in `src/contract/schemas.ts` (the single source of truth), and the enforcer's
 * context-policy schema from `src/enforcer/context-policy.ts`.
 *
 *   npm run schemas            regenerate every file
 *   npm run schemas -- --check exit 1 and list the files that differ from the definitions
 *
 * Output is deterministic: key order follows the TypeBox definitions, 2-space indent,
 * trailing newline, `$schema` first. Symbol-keyed TypeBox metadata is not serialised.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PUBLISHED_SCHEMAS } from '../src/contract/schemas.ts';
import { ContextPolicySchema } from '../src/enforcer/context-policy.ts';

/** JSON Schema dialect declared by every published file. */
export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** Directory the published schema files live in. */
export const SCHEMAS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');

/** The exact text of every published schema file, by file name. */
export function generateSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [file, schema] of Object.entries({ ...PUBLISHED_SCHEMAS, 'enforcer-context-policy.schema.json': ContextPolicySchema })) {
    const doc = { $schema: JSON_SCHEMA_DIALECT, ...schema };
    files.set(file, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return files;
}

/** File names under `dir` whose content differs from (or is missing for) the generated text. */
export function findDrift(dir: string = SCHEMAS_DIR): string[] {
  const drifted: string[] = [];
  for (const [file, text] of generateSchemaFiles()) {
    let current: string | null;
    try {
      current = readFileSync(join(dir, file), 'utf8');
    } catch {
      current = null;
    }
    if (current !== text) drifted.push(file);
  }
  return drifted;
}

function main(argv: string[]): number {
  if (argv.includes('--check')) {
    const drifted = findDrift();
    if (drifted.length > 0) {
      console.error(`schemas/ is out of date with src/contract/schemas.ts; run \`npm run schemas\`:\n${drifted.map((f) => `  schemas/${f}`).join('\n')}`);
      return 1;
    }
    console.log(`schemas/ is up to date (${generateSchemaFiles().size} files)`);
    return 0;
  }
  mkdirSync(SCHEMAS_DIR, { recursive: true });
  for (const [file, text] of generateSchemaFiles()) {
    writeFileSync(join(SCHEMAS_DIR, file), text);
    console.log(`wrote schemas/${file}`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
