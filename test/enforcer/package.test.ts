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
});
