import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createEnforcer, createEnforcerCore, DEFAULT_ENFORCER_POLICY } from 'trustline/enforcer';
import * as direct from '../../src/enforcer/index.ts';

describe('package export trustline/enforcer', () => {
  it('resolves through the package self-reference to the SDK sources', () => {
    expect(createEnforcer).toBe(direct.createEnforcer);
    expect(createEnforcerCore).toBe(direct.createEnforcerCore);
    expect(DEFAULT_ENFORCER_POLICY.unknown).toBe('challenge');
  });

  it('resolves under tsx too, and the bin still runs', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "const m = await import('trustline/enforcer'); console.log(typeof m.createEnforcer)"], { encoding: 'utf8' });
    expect(out.trim()).toBe('function');
    const help = execFileSync(process.execPath, ['bin/trustline.js', '--help'], { encoding: 'utf8' });
    expect(help).toMatch(/audit\s+verify the tamper-evident audit hash chains/);
  });

  it('does not load ioredis (an optional peer) unless the Redis mode connects by url', () => {
    const script = (connect: boolean) => `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/ioredis/'));
      const m = await import('trustline/enforcer');
      const before = loaded();
      const e = m.createRedisEnforcer({ redis: { url: 'redis://127.0.0.1:1' }, keys: [], logger: (await import('./src/shared/logger.ts')).createLogger({ level: 'silent' }) });
      if (${connect}) await e.ready().catch(() => undefined);
      await e.close();
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const run = (connect: boolean) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(connect)], { encoding: 'utf8', timeout: 30_000 }).trim().split('\n').pop()!) as { before: boolean; after: boolean };
    expect(run(false)).toEqual({ before: false, after: false });
    expect(run(true)).toEqual({ before: false, after: true });
  }, 60_000);
});
