/**
 * The package as a user installs it (docs/decisions.md, "Packaging"): `npm pack` both tarballs,
 * install them into scratch projects in a temp directory (dependencies from the npm cache, the
 * registry only for what the cache lacks), then use them the way an application does:
 *
 * - `trustline` (CLI + processor + SDK): `npx trustline --help`, `--version` and one `replay` from
 *   the installed package, outside the repository; the replay's signed trust records are then fed
 *   to `trustline/enforcer` from plain Node ESM JavaScript, which decides; a TypeScript consumer
 *   type-checks with moduleResolution node16 and bundler.
 * - `@trustline/enforcer` alone: installs without onnxruntime-node, ioredis or any install script,
 *   and decides the same way.
 *
 * Tarball sizes and file counts are printed (the figures of docs/decisions.md).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const exec = promisify(execFile);
const DEV_KEY = { kid: 'dev', alg: 'HS256', secret: 'trustline-dev-signing-key-NOT-FOR-PRODUCTION' };

type Packed = { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] };

/** A clean environment: no test-runner or trustline variables leak into the scratch projects. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRUSTLINE_') && !k.startsWith('VITEST') && !k.startsWith('npm_')) e[k] = v;
  return { ...e, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
}

async function run(cmd: string, args: string[], cwd: string, timeout = 240_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(cmd, args, { cwd, env: env(), timeout, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

async function pack(dest: string, workspace?: string): Promise<Packed> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dest, ...(workspace ? ['-w', workspace] : [])], ROOT);
  // npm prints the prepare script's output before the JSON.
  const packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as Packed[];
  return packed[0]!;
}

function scratch(dir: string, extra: object = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true, type: 'module', ...extra }, null, 2));
  return dir;
}

/** The plain-JS consumer: feeds trust records (JSONL) to the SDK and prints its decisions as JSON. */
const CONSUMER_MJS = (specifier: string): string => `
import { readFileSync } from 'node:fs';
import { createEnforcerCore, VERDICTS } from '${specifier}';

const key = JSON.parse(process.argv[2]);
const records = readFileSync(process.argv[3], 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l));
const last = records[records.length - 1];
const blocked = records.find((r) => r.band === 'block');
const core = createEnforcerCore({ keys: [key], now: () => last.ts, logger: { warn() {}, info() {}, debug() {}, error() {} } });
for (const r of records) core.ingest('trust', r);
// A forged copy of the blocked agent's record, claiming it is trusted again.
const forged = { ...blocked, seq: blocked.seq + 1000, trust: 1, band: 'trusted' };
const forgedOutcome = core.ingest('trust', forged);
core.markReady();
console.log(JSON.stringify({
  verdicts: VERDICTS,
  blocked: core.decide({ agentId: blocked.agentId, action: { name: 'orders.read', sensitivity: 'low' } }),
  unknown: core.decide({ agentId: 'nobody-' + Date.now(), action: { name: 'orders.read' } }),
  forgedOutcome,
  metrics: core.metrics(),
}));
`;

const CONSUMER_TS = `
import { createEnforcer, createEnforcerCore, type Decision, type EnforcerOptions, type Verdict } from 'trustline/enforcer';
import { decodeEvent, type AgentRequestEvent } from 'trustline/contract';

const options: EnforcerOptions = {
  kafka: { brokers: ['127.0.0.1:9092'] },
  keys: [{ kid: 'k1', alg: 'HS256', secret: 'a-shared-secret-of-enough-length' }],
  policy: { onStale: 'fail-closed', actions: { 'payment.create': 'critical' } },
};
export const enforcer = createEnforcer(options);
const core = createEnforcerCore({ keys: options.keys });
const d: Decision = core.decide({ agentId: 'a', action: { name: 'payment.create' } });
export const verdict: Verdict = d.verdict;
const r = decodeEvent('{}');
export const event: AgentRequestEvent | null = r.ok ? r.event : null;
// @ts-expect-error a verdict is one of four strings
export const wrong: Verdict = 'maybe';
`;

describe('the packed package, installed into a scratch project', () => {
  let work: string;
  let full: Packed;
  let sdk: Packed;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'trustline-consumer-'));
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    // `npm pack` runs the prepare script (the build), so the tarball holds the current sources.
    full = await pack(tarballs);
    sdk = await pack(tarballs, 'packages/enforcer');
    console.log(
      `[package] ${full.filename}: ${(full.size / 1e6).toFixed(2)} MB packed, ${(full.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${full.entryCount} files; ` +
        `${sdk.filename}: ${(sdk.size / 1e3).toFixed(1)} kB packed, ${sdk.entryCount} files`,
    );
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the tarballs hold what users run: compiled code, the model, the demo fixture — no sources, tests or CI', () => {
    const paths = full.files.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'bin/trustline.js',
        'dist/src/cli/main.js',
        'dist/src/enforcer/index.d.ts',
        'dist/src/state/lua/save-many.lua',
        'models/trustline-tailsum.onnx',
        'fixtures/demo/demo.jsonl',
      ]),
    );
    for (const p of paths) expect(p).not.toMatch(/^(src|test|lab|bench|\.ci|scripts|examples)\/|^fixtures\/(train|validation)|\.ts$(?<!\.d\.ts$)|tsbuildinfo/);
    expect(full.size).toBeLessThan(2_000_000);
    for (const p of sdk.files.map((f) => f.path)) expect(p).toMatch(/^(dist\/|package\.json$|README\.md$)/);
  });

  describe('trustline (CLI, processor and SDK)', () => {
    let app: string;
    beforeAll(async () => {
      // allowScripts: the npm 11 way for an application to decline onnxruntime-node's optional GPU download.
      app = scratch(join(work, 'app'), { allowScripts: { 'onnxruntime-node': false } });
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, 'tarballs', full.filename), '@types/node@20.19.43'], app);
    }, 300_000);

    it('npx trustline --help, --version and help <cmd> run from the installed package', async () => {
      const help = await run('npx', ['--no-install', 'trustline', '--help'], app);
      expect(help.stdout).toMatch(/Usage: trustline <command>/);
      expect(help.stdout).toMatch(/replay\s+replay JSONL/);
      const version = await run('npx', ['--no-install', 'trustline', '--version'], app);
      expect(version.stdout.trim()).toBe(`trustline ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}`);
      const cmdHelp = await run('npx', ['--no-install', 'trustline', 'help', 'replay'], app);
      expect(cmdHelp.stdout).toMatch(/^trustline replay <file\.jsonl\[\.gz\]>/);
      // The installed tree runs compiled JavaScript only.
      expect(existsSync(join(app, 'node_modules/tsx'))).toBe(false);
    });

    it('one replay of the shipped demo fixture, from a directory outside the package (model found relative to the package)', async () => {
      const { stdout } = await run('npx', ['--no-install', 'trustline', 'replay', 'node_modules/trustline/fixtures/demo/demo.jsonl', '--out', 'out'], app);
      expect(stdout).toMatch(/^replayed 4877 records \(4877 scored, 0 to dlq\) of 33 agents with trustline-tailsum@\d+/);
      expect(stdout).toMatch(/audit\.jsonl \(\d+\), escalations\.jsonl \(\d+\)/);
      expect(readFileSync(join(app, 'out/trust.jsonl'), 'utf8').split('\n').filter(Boolean).length).toBeGreaterThan(100);
    });

    it('plain Node ESM JavaScript imports trustline/enforcer, verifies the replay records and decides', async () => {
      writeFileSync(join(app, 'consumer.mjs'), CONSUMER_MJS('trustline/enforcer'));
      if (!existsSync(join(app, 'out/trust.jsonl')))
        await run('npx', ['--no-install', 'trustline', 'replay', 'node_modules/trustline/fixtures/demo/demo.jsonl', '--out', 'out'], app);
      const { stdout } = await run(process.execPath, ['consumer.mjs', JSON.stringify(DEV_KEY), 'out/trust.jsonl'], app);
      const r = JSON.parse(stdout) as {
        verdicts: string[];
        blocked: { verdict: string; band: string };
        unknown: { verdict: string };
        forgedOutcome: string;
        metrics: { accepted: number; droppedBadSignature: number };
      };
      expect(r.verdicts).toEqual(['allow', 'challenge', 'hold', 'deny']);
      expect(r.blocked.verdict).toBe('deny');
      expect(r.unknown.verdict).toBe('challenge');
      expect(r.forgedOutcome).toBe('bad_signature');
      expect(r.metrics.accepted).toBeGreaterThan(100);
      expect(r.metrics.droppedBadSignature).toBe(1);
    });

    // The package's declarations are checked too (skipLibCheck false), with those of its dependencies: slow.
    it('a TypeScript consumer type-checks with moduleResolution node16 and bundler', { timeout: 400_000 }, async () => {
      writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS);
      const base = { strict: true, noEmit: true, target: 'ES2022', skipLibCheck: false, types: ['node'], lib: ['ES2023'] };
      const modes = { node16: { module: 'node16', moduleResolution: 'node16' }, bundler: { module: 'esnext', moduleResolution: 'bundler' } };
      for (const [name, m] of Object.entries(modes)) {
        writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...base, ...m }, files: ['consumer.ts'] }));
        await run(process.execPath, [TSC, '-p', `tsconfig.${name}.json`], app);
      }
      // The check can fail: consumer.ts carries a @ts-expect-error, which is itself an error (TS2578)
      // if the package's types were missing or `any`.
    });
  });

  describe('@trustline/enforcer alone', () => {
    let app: string;
    let install: { stdout: string; stderr: string };
    beforeAll(async () => {
      app = scratch(join(work, 'sdk-app'));
      install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, 'tarballs', sdk.filename)], app);
      // @types/node only for the type check below, installed separately so the check above sees the SDK's own tree.
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--save-dev', '@types/node@20.19.43'], app);
    }, 300_000);

    it('installs light: kafkajs, canonicalize and typebox only (ioredis is an optional peer), no install scripts', () => {
      const installed = readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.'));
      expect(installed.sort()).toEqual(['@sinclair', '@trustline', '@types', 'canonicalize', 'kafkajs', 'undici-types']);
      expect(install.stdout + install.stderr).not.toMatch(/install-scripts|postinstall/);
    });

    it('an ESM bundle of an application (esbuild, platform node) runs, with the createRequire banner kafkajs needs', async () => {
      writeFileSync(
        join(app, 'bundle-me.mjs'),
        `import { createEnforcerCore } from '@trustline/enforcer';\nconst core = createEnforcerCore({ keys: [], logger: { debug() {}, info() {}, warn() {}, error() {} } });\ncore.markReady();\nconsole.log(core.decide({ agentId: 'a' }).verdict);\n`,
      );
      const banner = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";
      await run(
        join(ROOT, 'node_modules/.bin/esbuild'),
        ['bundle-me.mjs', '--bundle', '--platform=node', '--format=esm', '--outfile=bundle.mjs', '--log-level=warning', `--banner:js=${banner}`],
        app,
      );
      const { stdout } = await run(process.execPath, ['bundle.mjs'], app);
      expect(stdout.trim()).toBe('challenge');
    });

    it('a TypeScript consumer of @trustline/enforcer type-checks with moduleResolution node16', { timeout: 300_000 }, async () => {
      writeFileSync(
        join(app, 'consumer.ts'),
        `import { createEnforcer, type Decision, type EnforcerLogger, type Verdict } from '@trustline/enforcer';
const logger: EnforcerLogger = { debug() {}, info() {}, warn() {}, error() {} };
const e = createEnforcer({ kafka: { brokers: ['127.0.0.1:9092'] }, keys: [{ kid: 'k', alg: 'HS256', secret: 'a-shared-secret-of-enough-length' }], logger });
export const d: Decision = e.decide({ agentId: 'a' });
// @ts-expect-error a verdict is one of four strings
export const wrong: Verdict = 'maybe';
`,
      );
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, noEmit: true, target: 'ES2022', skipLibCheck: false, types: ['node'], module: 'node16', moduleResolution: 'node16' },
          files: ['consumer.ts'],
        }),
      );
      await run(process.execPath, [TSC, '-p', 'tsconfig.json'], app);
    });

    it('plain Node ESM JavaScript imports @trustline/enforcer and decides', async () => {
      // Records signed by a replay of the full package (the test above) are verified here too.
      const records = join(work, 'app/out/trust.jsonl');
      if (!existsSync(records))
        await run('npx', ['--no-install', 'trustline', 'replay', 'node_modules/trustline/fixtures/demo/demo.jsonl', '--out', 'out'], join(work, 'app'));
      writeFileSync(join(app, 'consumer.mjs'), CONSUMER_MJS('@trustline/enforcer'));
      const { stdout } = await run(process.execPath, ['consumer.mjs', JSON.stringify(DEV_KEY), records], app);
      const r = JSON.parse(stdout) as { blocked: { verdict: string }; forgedOutcome: string };
      expect(r.blocked.verdict).toBe('deny');
      expect(r.forgedOutcome).toBe('bad_signature');
    });
  });
});
