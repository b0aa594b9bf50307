/**
 * The package manifests as users meet them (docs/decisions.md, "Packaging"). The installed
 * package itself is exercised by test/package/consumer.int.test.ts (npm pack → install → use).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
type Manifest = {
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const read = (f: string): Manifest => JSON.parse(readFileSync(join(ROOT, f), 'utf8')) as Manifest;

describe('package manifests', () => {
  const root = read('package.json');
  const enforcer = read('packages/enforcer/package.json');

  it('every entry point of trustline and @trustline/enforcer is compiled JavaScript with declarations', () => {
    for (const [name, m] of [
      ['trustline', root],
      ['@trustline/enforcer', enforcer],
    ] as const) {
      for (const [entry, target] of Object.entries(m.exports)) {
        if (entry === './package.json') continue;
        expect(typeof target, `${name} ${entry}`).toBe('object');
        const t = target as { types: string; default: string };
        expect(t.types, `${name} ${entry}`).toMatch(/^\.\/dist\/.*\.d\.ts$/);
        expect(t.default, `${name} ${entry}`).toMatch(/^\.\/dist\/.*\.js$/);
      }
    }
    expect(Object.keys(root.exports)).toEqual(expect.arrayContaining(['./enforcer', './contract']));
  });

  it('the CLI runs compiled code: no TypeScript loader at run time', () => {
    const bin = readFileSync(join(ROOT, root.bin.trustline!), 'utf8');
    expect(bin).toContain('../dist/src/cli/main.js');
    expect(bin).not.toMatch(/tsx/);
    expect(bin).not.toMatch(/(import\(|from)\s*['"][^'"]+\.ts['"]/);
    expect(root.dependencies).not.toHaveProperty('tsx');
    expect(root.devDependencies).toHaveProperty('tsx');
  });

  it('the enforcer package installs light: kafkajs, canonicalize and typebox only', () => {
    expect(Object.keys(enforcer.dependencies).sort()).toEqual(['@sinclair/typebox', 'canonicalize', 'kafkajs']);
    // The Redis mode's client is an optional peer, loaded only when that mode connects by url.
    expect((enforcer as unknown as { peerDependenciesMeta: Record<string, { optional: boolean }> }).peerDependenciesMeta.ioredis?.optional).toBe(true);
    // Pinned to the versions the root package (and its lockfile) uses.
    for (const [name, version] of Object.entries(enforcer.dependencies)) expect(root.dependencies[name], name).toBe(version);
  });

  it('the tarball ships what users run, not tests, CI or training data', () => {
    for (const f of root.files) expect(f).not.toMatch(/^(test|\.ci|lab|src|bench|fixtures\/?$|fixtures\/(train|validation))/);
  });

  it('does not load ioredis (an optional peer) unless the Redis mode connects by url', () => {
    const script = (connect: boolean) => `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/ioredis/'));
      const m = await import('./src/enforcer/index.ts');
      const before = loaded();
      const e = m.createRedisEnforcer({ redis: { url: 'redis://127.0.0.1:1' }, keys: [], logger: (await import('./src/shared/logger.ts')).createLogger({ level: 'silent' }) });
      if (${connect}) await e.ready().catch(() => undefined);
      await e.close();
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const run = (connect: boolean) =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(connect)], { encoding: 'utf8', timeout: 30_000 })
          .trim()
          .split('\n')
          .pop()!,
      ) as { before: boolean; after: boolean };
    expect(run(false)).toEqual({ before: false, after: false });
    expect(run(true)).toEqual({ before: false, after: true });
  }, 60_000);
});
