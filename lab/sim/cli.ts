/**
 * `npm run fixtures` — regenerate every fixture set recorded in `fixtures/sets.json`.
 *
 *   tsx lab/sim/cli.ts                     regenerate all sets into fixtures/
 *   tsx lab/sim/cli.ts --check             regenerate in memory, compare, exit 1 on drift
 *   tsx lab/sim/cli.ts --only demo         one set
 *   tsx lab/sim/cli.ts --adhoc validation --seed 4242 --out /tmp/x
 *                                          a fresh set with the parameters of a committed
 *                                          kind and a new seed (held-out traffic)
 *
 * Gzip output can differ between zlib builds for the same input, so a committed `.gz` whose
 * uncompressed content is unchanged is left as it is: regeneration never churns git.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateSet, type GeneratedSet } from './generate.ts';
import { readFixtureBytes, labelsPathFor } from './io.ts';
import { loadManifest } from './manifest.ts';
import { SCENARIO_NAMES, type SetSpec } from './types.ts';
import { verifyGenerated } from './verify.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(REPO, 'fixtures');

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function countsTable(sets: GeneratedSet[]): string {
  const head = [
    'set',
    'file',
    'seed',
    'events',
    'agents',
    'benign',
    'malicious',
    ...SCENARIO_NAMES.map((s) => s.replace(/_/g, ' ')),
    'sha256 (uncompressed, first 16)',
  ];
  const rows = sets.map((g) => [
    g.spec.name,
    `\`${g.spec.file}\``,
    String(g.spec.seed),
    String(g.stats.events),
    String(g.stats.agents),
    String(g.stats.benignAgents),
    String(g.stats.maliciousAgents),
    ...SCENARIO_NAMES.map((s) => String(g.stats.attacks[s] ?? 0)),
    `\`${sha256(g.jsonl).slice(0, 16)}\``,
  ]);
  const total = (f: (g: GeneratedSet) => number) => String(sets.reduce((a, g) => a + f(g), 0));
  rows.push([
    '**total**',
    '',
    '',
    total((g) => g.stats.events),
    total((g) => g.stats.agents),
    total((g) => g.stats.benignAgents),
    total((g) => g.stats.maliciousAgents),
    ...SCENARIO_NAMES.map((s) => total((g) => g.stats.attacks[s] ?? 0)),
    '',
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function updateReadme(sets: GeneratedSet[]): void {
  const path = join(FIXTURES, 'README.md');
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const start = '<!-- counts:start -->';
  const end = '<!-- counts:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return;
  const next = `${text.slice(0, i + start.length)}\n${countsTable(sets)}\n${text.slice(j)}`;
  if (next !== text) writeFileSync(path, next);
}

/** Throws when a generated set fails its checks. */
function selfCheck(g: GeneratedSet): void {
  const problems = verifyGenerated(g);
  if (problems.length > 0) throw new Error(`${g.spec.name} (seed ${g.spec.seed}) fails its checks:\n  ${problems.slice(0, 30).join('\n  ')}`);
}

function writeIfChanged(path: string, bytes: Buffer, uncompressed?: Buffer): boolean {
  if (existsSync(path)) {
    if (uncompressed && path.endsWith('.gz')) {
      if (readFixtureBytes(path).equals(uncompressed)) return false;
    } else if (readFileSync(path).equals(bytes)) return false;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return true;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      only: { type: 'string' },
      adhoc: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const manifest = loadManifest(join(FIXTURES, 'sets.json'));
  let specs: SetSpec[] = manifest.sets;
  let outDir = values.out ? resolve(values.out) : FIXTURES;
  if (values.adhoc) {
    const base = specs.find((s) => s.kind === values.adhoc || s.name === values.adhoc);
    if (!base) throw new Error(`--adhoc: no committed set of kind or name "${values.adhoc}"`);
    const seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0) throw new Error('--adhoc needs --seed <non-negative integer>');
    if (!values.out) throw new Error('--adhoc needs --out <dir> (committed fixtures are regenerated from sets.json only)');
    const name = `${base.kind}-adhoc-${seed}`;
    specs = [{ ...base, name, seed, file: `${name}.jsonl.gz` }];
  } else if (values.only) {
    specs = specs.filter((s) => s.name === values.only);
    if (specs.length === 0) throw new Error(`--only: no set named "${values.only}"`);
  }
  if (values.check) outDir = FIXTURES;
  const started = process.hrtime.bigint();
  const generated: GeneratedSet[] = [];
  let drift = 0;
  for (const spec of specs) {
    const t0 = process.hrtime.bigint();
    const g = generateSet(spec);
    selfCheck(g);
    generated.push(g);
    const file = join(outDir, spec.file);
    const labels = labelsPathFor(file);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const attacks = SCENARIO_NAMES.filter((s) => g.stats.attacks[s])
      .map((s) => `${s}=${g.stats.attacks[s]}`)
      .join(' ');
    let status: string;
    if (values.check) {
      const same = existsSync(file) && readFixtureBytes(file).equals(g.jsonl) && existsSync(labels) && readFileSync(labels).equals(g.labelsJson);
      if (!same) drift++;
      status = same ? 'ok' : 'DIFFERS';
    } else {
      const a = writeIfChanged(file, g.file, g.jsonl);
      const b = writeIfChanged(labels, g.labelsJson);
      status = a || b ? 'written' : 'unchanged';
    }
    console.log(
      `${spec.name}: ${g.stats.events} events, ${g.stats.agents} agents (${g.stats.maliciousAgents} malicious: ${attacks}) ${(g.file.length / 1024).toFixed(0)} KiB → ${relative(REPO, file)} [${status}] ${ms.toFixed(0)} ms`,
    );
  }
  if (!values.check && !values.adhoc && !values.only && outDir === FIXTURES) updateReadme(generated);
  console.log(`done in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s`);
  if (drift > 0) {
    console.error(`${drift} set(s) differ from the committed fixtures; run npm run fixtures`);
    process.exitCode = 1;
  }
}

main();
