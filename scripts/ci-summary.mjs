#!/usr/bin/env node
// Reads Vitest's JSON report and prints one closing line that CI understands:
//
//   tests: N passed, N failed, N skipped
//
// usage: node scripts/ci-summary.mjs [report.json]      (default .cache/vitest-report.json)
//
// Exit status: 1 when any test failed, when a test file failed to load, or, under CI
// (CI set and not "false"/"0"), when no test ran at all or any integration test
// (test/**/*.int.test.ts) was skipped: integration tests must run under CI, not skip.
// Diagnostics come first; the `tests:` line is always the last line printed.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const reportPath = path.resolve(process.argv[2] ?? '.cache/vitest-report.json');
const ciEnv = process.env.CI;
const underCI = ciEnv !== undefined && ciEnv !== '' && ciEnv !== '0' && ciEnv.toLowerCase() !== 'false';

if (!existsSync(reportPath)) {
  console.error(`ci-summary: no Vitest JSON report at ${reportPath}: the test run did not get as far as reporting.`);
  process.exit(1);
}

/** @type {{ testResults?: Array<{ name: string, status: string, message?: string, assertionResults?: Array<{ status: string, fullName?: string, title?: string }> }> }} */
let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (err) {
  console.error(`ci-summary: cannot parse ${reportPath}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

const SKIPPED = new Set(['skipped', 'pending', 'todo', 'disabled']);
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
const skippedIntegration = [];
const brokenFiles = [];

for (const file of report.testResults ?? []) {
  const rel = path.relative(process.cwd(), file.name).split(path.sep).join('/');
  const isIntegration = rel.endsWith('.int.test.ts');
  const results = file.assertionResults ?? [];
  let failedHere = 0;
  for (const t of results) {
    const name = `${rel} > ${t.fullName ?? t.title ?? '?'}`;
    if (t.status === 'passed') passed += 1;
    else if (t.status === 'failed') {
      failed += 1;
      failedHere += 1;
      failures.push(name);
    } else if (SKIPPED.has(t.status)) {
      skipped += 1;
      if (isIntegration) skippedIntegration.push(name);
    }
  }
  // A file that failed without a failing test (import error, failing hook, ...) counts as one
  // failure, so the line never says "0 failed" for a red run.
  if (file.status === 'failed' && failedHere === 0) {
    failed += 1;
    brokenFiles.push(`${rel}${file.message ? `: ${file.message.split('\n')[0]}` : ''}`);
  }
}

const problems = [];
if (failures.length > 0) {
  console.error(`ci-summary: ${failures.length} failing test(s):`);
  for (const f of failures.slice(0, 50)) console.error(`  ✗ ${f}`);
}
if (brokenFiles.length > 0) {
  console.error(`ci-summary: ${brokenFiles.length} test file(s) failed outside any test:`);
  for (const f of brokenFiles) console.error(`  ✗ ${f}`);
}
if (underCI && skippedIntegration.length > 0) {
  problems.push(`${skippedIntegration.length} integration test(s) were skipped; under CI they must run:`);
  for (const s of skippedIntegration.slice(0, 50)) problems.push(`  - ${s}`);
}
if (underCI && passed + failed === 0) {
  problems.push('no test ran at all; under CI that is a failure.');
}
for (const p of problems) console.error(`ci-summary: ${p}`);

console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || problems.length > 0 ? 1 : 0);
