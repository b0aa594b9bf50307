/**
 * Vitest globalSetup of the `integration` project: makes sure a real Kafka broker and a real
 * Redis are reachable before any integration test runs, and tells the tests where they are.
 *
 * - `KAFKA_BROKERS` / `REDIS_URL` already set (CI, docker compose, your own services): used as
 *   they are; nothing is started or stopped.
 * - Otherwise `bash scripts/services.sh up <missing services>` starts (or reuses) local ones;
 *   at teardown only the services that this run started itself are stopped again
 *   (`SERVICES_KEEP=1` keeps them for faster re-runs).
 * - Addresses reach the tests both through `project.provide` (read them with `inject`, see
 *   test/support/services.ts) and through `process.env.KAFKA_BROKERS` / `REDIS_URL`.
 * - If the services cannot be had: under CI (`CI` set) the run fails here, loudly; elsewhere a
 *   loud warning is printed and `servicesAvailable` is false, so integration suites skip.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { ServicesContext } from './provided-context.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICES_SCRIPT = path.join(ROOT, 'scripts', 'services.sh');

type ServiceName = 'kafka' | 'redis';

function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/services.sh, echoing its diagnostics (stderr) live so slow first starts are visible. */
function runServicesScript(args: string[]): Promise<ScriptResult> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SERVICES_SCRIPT, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    child.on('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${String(err)}\n` }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Parses the `NAME=value` lines that `services.sh up` prints on stdout. */
function parseAssignments(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2]);
  }
  return out;
}

function banner(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width);
  return ['', bar, ...lines.map((l) => `! ${l.padEnd(width - 4)} !`), bar, ''].join('\n');
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let kafkaBrokers = process.env.KAFKA_BROKERS?.trim() ?? '';
  let redisUrl = process.env.REDIS_URL?.trim() ?? '';
  const missing: ServiceName[] = [];
  if (kafkaBrokers === '') missing.push('kafka');
  if (redisUrl === '') missing.push('redis');

  let started: ServiceName[] = [];
  let reason = '';

  if (missing.length > 0) {
    const result = await runServicesScript(['up', ...missing]);
    const values = parseAssignments(result.stdout);
    started = (values.get('SERVICES_STARTED') ?? '').split(',').filter((s): s is ServiceName => s === 'kafka' || s === 'redis');
    if (result.code === 0) {
      if (missing.includes('kafka')) kafkaBrokers = values.get('KAFKA_BROKERS') ?? '';
      if (missing.includes('redis')) redisUrl = values.get('REDIS_URL') ?? '';
      if (kafkaBrokers === '' || redisUrl === '') {
        reason = `scripts/services.sh up exited 0 but printed no ${kafkaBrokers === '' ? 'KAFKA_BROKERS' : 'REDIS_URL'} line`;
      }
    } else {
      const lastError = result.stderr
        .split('\n')
        .filter((l) => l.includes('ERROR'))
        .pop();
      reason = `scripts/services.sh up ${missing.join(' ')} failed (exit ${String(result.code)})${
        lastError ? `: ${lastError.replace(/^\[services\] ERROR: /, '')}` : ''
      }`;
    }
  }

  const available = reason === '';
  if (!available) {
    if (isCI()) {
      throw new Error(
        `Integration tests need a real Kafka broker and a real Redis, and under CI they must run, not skip.\n${reason}\n` + 'See docs/services.md.',
      );
    }
    process.stderr.write(
      banner([
        'INTEGRATION TESTS WILL BE SKIPPED: no Kafka broker / Redis available.',
        reason,
        'Fix: install redis-server and Java 17 + Maven, then `npm run services -- up`,',
        'or export KAFKA_BROKERS=host:port and REDIS_URL=redis://host:port (docs/services.md).',
        'Under CI (CI=true) this is a failure, not a skip.',
      ]),
    );
  }

  const context: ServicesContext = {
    servicesAvailable: available,
    servicesUnavailableReason: reason,
    kafkaBrokers: available ? kafkaBrokers : '',
    redisUrl: available ? redisUrl : '',
  };
  project.provide('servicesAvailable', context.servicesAvailable);
  project.provide('servicesUnavailableReason', context.servicesUnavailableReason);
  project.provide('kafkaBrokers', context.kafkaBrokers);
  project.provide('redisUrl', context.redisUrl);
  if (available) {
    process.env.KAFKA_BROKERS = kafkaBrokers;
    process.env.REDIS_URL = redisUrl;
  }

  return async () => {
    if (started.length === 0) return;
    if (process.env.SERVICES_KEEP === '1') {
      process.stderr.write(`[services] SERVICES_KEEP=1: leaving ${started.join(', ')} running\n`);
      return;
    }
    const result = await runServicesScript(['down', ...started]);
    if (result.code !== 0) {
      process.stderr.write(`[services] WARNING: scripts/services.sh down exited ${String(result.code)}\n`);
    }
  };
}
