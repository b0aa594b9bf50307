/**
 * Determinism with control records (docs/operations.md, delivery guarantees): replaying a file that mixes agent requests and
 * signed operator control records twice gives byte-identical outputs, escalations.jsonl and
 * audit.jsonl included, and the audit export verifies with `trustline audit verify`.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../src/audit/chain.ts';
import { auditCommand } from '../../../src/cli/audit.ts';
import { loadConfig } from '../../../src/config/config.ts';
import type { Escalation } from '../../../src/contract/schemas.ts';
import { signControl } from '../../../src/control/sign-control.ts';
import type { SigningKey } from '../../../src/outputs/sign.ts';
import { replayFiles } from '../../../src/runners/replay/replay.ts';
import { T0, ev } from '../../support/events.ts';

const OP: SigningKey = { kid: 'ops-1', alg: 'HS256', secret: 'operator replay test secret .........' };
const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-control-replay-'));

function input(): string {
  const lines: object[] = [];
  for (let i = 0; i < 10; i++) {
    lines.push(ev({ eventId: `a1-${i}`, ts: T0 + i * 2000 }));
    lines.push(ev({ eventId: `a2-${i}`, ts: T0 + i * 2000 + 500, agent: { id: 'agent-2' } }));
  }
  // agent-1's 11th event is escalated (rules below match every band): escalationId agent-1:11.
  lines.push(ev({ eventId: 'pay-1', ts: T0 + 30_000, action: { name: 'payment.create', amount: 4200, currency: 'EUR', sensitivity: 'critical' } }));
  lines.push(
    signControl(
      {
        controlId: 'ctl-approve',
        agentId: 'agent-1',
        action: 'escalation_decision',
        escalationId: 'agent-1:11',
        decision: 'approve',
        issuedAt: T0 + 31_000,
        operator: 'alice',
      },
      OP,
    ),
  );
  lines.push(signControl({ controlId: 'ctl-open', agentId: 'agent-2', action: 'force_open', issuedAt: T0 + 31_500, operator: 'bob' }, OP));
  lines.push(signControl({ controlId: 'ctl-open', agentId: 'agent-2', action: 'force_open', issuedAt: T0 + 31_500, operator: 'bob' }, OP)); // relay duplicate
  lines.push(ev({ eventId: 'a2-late', ts: T0 + 32_000, agent: { id: 'agent-2' } }));
  lines.push(signControl({ controlId: 'ctl-allow', agentId: 'agent-2', action: 'allowlist', until: T0 + 40_000, issuedAt: T0 + 33_000, operator: 'bob' }, OP));
  lines.push(ev({ eventId: 'a2-after', ts: T0 + 41_000, agent: { id: 'agent-2' } }));
  const { sig: _sig, ...unsigned } = signControl(
    { controlId: 'ctl-unsigned', agentId: 'agent-1', action: 'force_open', issuedAt: T0 + 34_000, operator: 'mallory' },
    OP,
  );
  lines.push(unsigned);
  const file = path.join(dir, 'mixed.jsonl');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replay with control records', () => {
  it('is byte-identical twice, incl. escalations.jsonl and audit.jsonl, and the audit export verifies', async () => {
    const file = input();
    const config = loadConfig({
      env: {},
      overrides: { control: { keys: [OP] }, escalation: { rules: [{ minAmount: 1000, bands: ['trusted', 'watch', 'restrict', 'block'] }] } },
    });
    await replayFiles([file], path.join(dir, 'a'), config);
    await replayFiles([file], path.join(dir, 'b'), config);
    const files = readdirSync(path.join(dir, 'a')).sort();
    expect(files).toEqual(['audit.jsonl', 'circuit.jsonl', 'dlq.jsonl', 'escalations.jsonl', 'manifest.json', 'scores.jsonl', 'state.jsonl', 'trust.jsonl']);
    for (const f of files) expect(readFileSync(path.join(dir, 'b', f)).equals(readFileSync(path.join(dir, 'a', f))), f).toBe(true);

    const read = (f: string): unknown[] =>
      readFileSync(path.join(dir, 'a', f), 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown);
    const escalations = read('escalations.jsonl') as Escalation[];
    expect(escalations.map((e) => [e.escalationId, e.status])).toEqual([
      ['agent-1:11', 'pending'],
      ['agent-1:11', 'approved'],
    ]);
    const circuit = read('circuit.jsonl') as { agentId: string; previous: string; state: string }[];
    expect(circuit.filter((c) => c.agentId === 'agent-2').map((c) => `${c.previous}>${c.state}`)).toEqual([
      'closed>forced_open',
      'forced_open>forced_closed',
      'forced_closed>closed',
    ]);
    expect((read('dlq.jsonl') as { code: string }[]).map((d) => d.code)).toEqual(['unsigned']);
    const audit = read('audit.jsonl');
    expect(verifyChain(audit)).toMatchObject({ ok: true, count: audit.length });
    const controls = audit.map((r) => (r as { entry: { kind: string; controlId?: string } }).entry).filter((e) => e.kind === 'control');
    expect(controls.map((e) => e.controlId)).toEqual(['ctl-approve', 'ctl-open', 'ctl-allow']);

    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      expect(await auditCommand.run(['verify', path.join(dir, 'a', 'audit.jsonl')])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
  });
});
