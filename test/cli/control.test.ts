import { describe, expect, it } from 'vitest';
import { controlCommand } from '../../src/cli/control.ts';
import { main } from '../../src/cli/main.ts';
import { decodeControl } from '../../src/contract/decode.ts';
import { createVerifier } from '../../src/outputs/sign.ts';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const w = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string) => (out.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => (err.push(String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w;
    process.stderr.write = e;
  }
}

const SECRET = 'cli-operator-secret-0123456789';

describe('trustline control', () => {
  it('--print signs a record the operator key ring verifies, without printing the secret', async () => {
    const r = await capture(() =>
      main([
        'control',
        'escalation_decision',
        '--agent',
        'client-42',
        '--escalation',
        'client-42:118',
        '--decision',
        'approve',
        '--key',
        `ops-1:${SECRET}`,
        '--operator',
        'alice',
        '--issued-at',
        '1767225600000',
        '--print',
      ]),
    );
    expect(r.code).toBe(0);
    expect(r.out).not.toContain(SECRET);
    const d = decodeControl(r.out.trim());
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.control).toMatchObject({
      kind: 'control',
      agentId: 'client-42',
      action: 'escalation_decision',
      escalationId: 'client-42:118',
      decision: 'approve',
      issuedAt: 1_767_225_600_000,
      operator: 'alice',
      sig: { kid: 'ops-1', alg: 'HS256' },
    });
    expect(createVerifier([{ kid: 'ops-1', alg: 'HS256', secret: SECRET }]).verify(d.control)).toBe(true);
  });

  it('allowlist takes --until as an ISO time', async () => {
    const r = await capture(() => controlCommand.run(['allowlist', '--agent', 'a', '--until', '2026-12-01T00:00:00Z', '--key', `k:${SECRET}`, '--print']));
    expect(JSON.parse(r.out)).toMatchObject({ action: 'allowlist', until: Date.parse('2026-12-01T00:00:00Z') });
  });

  it('usage errors exit 2 with the usage', async () => {
    for (const argv of [
      ['control', '--agent', 'a', '--key', `k:${SECRET}`],
      ['control', 'force_open', '--key', `k:${SECRET}`],
      ['control', 'force_open', '--agent', 'a'],
      ['control', 'allowlist', '--agent', 'a', '--key', `k:${SECRET}`],
      ['control', 'escalation_decision', '--agent', 'a', '--key', `k:${SECRET}`, '--escalation', 'a:1'],
    ]) {
      const r = await capture(() => main(argv));
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain('trustline control');
    }
  });
});
