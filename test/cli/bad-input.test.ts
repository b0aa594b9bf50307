/**
 * Bad input at the command line (docs/analysts.md, "When a command fails"): every case gets ONE
 * line on stderr — `trustline <cmd>: <file or what>: <reason>` — and a non-zero exit, never a stack
 * trace and never the whole usage text. Unreachable Kafka is said once, within seconds.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { createEnforcerCore } from '../../src/enforcer/index.ts';
import { ev } from '../support/events.ts';

const work = mkdtempSync(join(tmpdir(), 'trustline-bad-input-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const f = (name: string): string => join(work, name);

const GOOD = Array.from({ length: 40 }, (_, i) => JSON.stringify(ev({ eventId: `e-${i}`, ts: 1_767_225_600_000 + i * 1000 }))).join('\n') + '\n';
const gz = gzipSync(Buffer.from(GOOD.repeat(50)));
writeFileSync(f('good.jsonl'), GOOD);
writeFileSync(f('good.jsonl.gz'), gz);
writeFileSync(f('truncated.jsonl.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
writeFileSync(f('plain-text.jsonl.gz'), GOOD);
writeFileSync(f('access.log.gz'), 'not gzip at all\n');
writeFileSync(f('empty.jsonl'), '');
writeFileSync(f('pretty.jsonl'), JSON.stringify(ev({ eventId: 'p-1' }), null, 2) + '\n');
writeFileSync(f('events.txt'), GOOD);
writeFileSync(f('a-file'), 'x');
writeFileSync(f('bad.labels.json'), '{"agents": ');
mkdirSync(f('a-dir'));

const SECRET = 'Qw7RtY9uIoP3aSdF5gHjK1lZ';
/** A TCP port nothing listens on: connections are refused at once. */
const DEAD_KAFKA = '127.0.0.1:1';
const RUN_ENV = { KAFKA_BROKERS: DEAD_KAFKA, REDIS_URL: 'redis://127.0.0.1:1', TRUSTLINE_LOG_LEVEL: 'silent' };

type Case = { name: string; argv: string[]; env?: Record<string, string>; err: RegExp; code?: number; out?: RegExp };
const CASES: Case[] = [
  { name: 'replay: missing input', argv: ['replay', f('missing.jsonl'), '--out', f('o1')], err: /^trustline replay: .*missing\.jsonl: no such file$/ },
  { name: 'features: missing input', argv: ['features', f('missing.jsonl'), '--out', f('x.csv')], err: /^trustline features: .*missing\.jsonl: no such file$/ },
  {
    name: 'replay: a directory as input',
    argv: ['replay', f('a-dir'), '--out', f('o2')],
    err: /^trustline replay: .*a-dir: is a directory, not a JSONL\(\.gz\) file$/,
  },
  { name: 'validate: a directory as input', argv: ['validate', f('a-dir')], err: /^trustline validate: .*a-dir: is a directory/ },
  { name: 'import-log: a directory as input', argv: ['import-log', f('a-dir'), '--format', 'combined'], err: /^trustline import-log: .*a-dir: is a directory/ },
  {
    name: 'replay: truncated .gz',
    argv: ['replay', f('truncated.jsonl.gz'), '--out', f('o3')],
    err: /^trustline replay: .*truncated\.jsonl\.gz: not valid gzip data \(unexpected end of file\)/,
  },
  { name: 'validate: truncated .gz', argv: ['validate', f('truncated.jsonl.gz')], err: /^trustline validate: .*truncated\.jsonl\.gz: not valid gzip data/ },
  {
    name: 'features: truncated .gz',
    argv: ['features', f('truncated.jsonl.gz'), '--out', f('t.csv')],
    err: /^trustline features: .*truncated\.jsonl\.gz: not valid gzip data/,
  },
  {
    name: 'replay: .gz that is not gzip',
    argv: ['replay', f('plain-text.jsonl.gz'), '--out', f('o4')],
    err: /^trustline replay: .*plain-text\.jsonl\.gz: not valid gzip data \(incorrect header check\)$/,
  },
  {
    name: 'import-log: .gz that is not gzip',
    argv: ['import-log', f('access.log.gz'), '--format', 'combined'],
    err: /^trustline import-log: .*access\.log\.gz: not valid gzip data/,
  },
  {
    name: 'replay: --out names an existing file',
    argv: ['replay', f('good.jsonl'), '--out', f('a-file')],
    err: /^trustline replay: .*a-file: --out names an existing file; it must be a directory/,
  },
  {
    name: 'features: --out names a directory',
    argv: ['features', f('good.jsonl'), '--out', f('a-dir')],
    err: /^trustline features: .*a-dir: --out names a directory/,
  },
  {
    name: 'control: --key-file missing',
    argv: ['control', 'reset', '--agent', 'a', '--key-file', f('no.key'), '--print'],
    err: /^trustline control: .*no\.key: cannot read the --key-file \(no such file\)$/,
  },
  {
    name: 'replay: labels file that is not JSON (no usage text)',
    argv: ['replay', f('good.jsonl'), '--out', f('o5'), '--labels', f('bad.labels.json')],
    err: /^trustline replay: .*bad\.labels\.json: labels file is not valid JSON/,
  },
  {
    name: 'replay: labels file missing',
    argv: ['replay', f('good.jsonl'), '--out', f('o6'), '--labels', f('none.labels.json')],
    err: /^trustline replay: .*none\.labels\.json: no such file$/,
  },
  {
    name: 'replay: empty file',
    argv: ['replay', f('empty.jsonl'), '--out', f('o7')],
    err: /^trustline replay: .*empty\.jsonl: no events \(the input is empty or only blank lines\)/,
    out: /^replayed 0 records/,
  },
  {
    name: 'replay: pretty-printed JSON (every line dead-lettered)',
    argv: ['replay', f('pretty.jsonl'), '--out', f('o8')],
    err: /^trustline replay: .*pretty\.jsonl: none of the \d+ lines is a valid event \(invalid_json \d+[^)]*\) — is it pretty-printed JSON.*one event object per line; see .*dlq\.jsonl$/,
    out: /dlq\.jsonl \(\d+\), audit\.jsonl \(0\), escalations\.jsonl \(0\)/,
  },
  { name: 'validate: empty file', argv: ['validate', f('empty.jsonl')], err: /^trustline validate: .*empty\.jsonl: no events/, out: /0 records/ },
  {
    name: 'features: --exclude-attacks on a name without .jsonl (never reads the input as labels)',
    argv: ['features', f('events.txt'), '--out', f('e.csv'), '--exclude-attacks'],
    err: /^trustline features: .*events\.txt: --exclude-attacks reads the labels sidecar .*does not end in \.jsonl or \.jsonl\.gz$/,
  },
  {
    name: 'features: --exclude-attacks without a sidecar',
    argv: ['features', f('good.jsonl'), '--out', f('g.csv'), '--exclude-attacks'],
    err: /^trustline features: .*good\.labels\.json: cannot read the labels sidecar of .*good\.jsonl \(no such file\)$/,
  },
  {
    name: 'run: no signing keys',
    argv: ['run'],
    env: RUN_ENV,
    err: /^trustline run: no signing keys: set TRUSTLINE_SIGNING_KEYS=kid:secret .*--insecure-dev-keys or TRUSTLINE_INSECURE_DEV_KEYS=1/,
  },
  {
    name: 'run: a signing key without a kid (the secret is not echoed)',
    argv: ['run'],
    env: { ...RUN_ENV, TRUSTLINE_SIGNING_KEYS: SECRET },
    err: /^trustline run: invalid configuration:.*TRUSTLINE_SIGNING_KEYS: entry 1 is not kid:secret/s,
  },
  {
    name: 'run: unreachable Kafka',
    argv: ['run'],
    env: { ...RUN_ENV, TRUSTLINE_SIGNING_KEYS: `k1:${SECRET}` },
    err: /^trustline run: cannot reach Kafka at 127\.0\.0\.1:1: .*\(check KAFKA_BROKERS \/ kafka\.brokers\)$/,
  },
  {
    name: 'publish: unreachable Kafka',
    argv: ['publish', f('good.jsonl'), '--max'],
    env: { KAFKA_BROKERS: DEAD_KAFKA },
    err: /^trustline publish: cannot reach Kafka at 127\.0\.0\.1:1: /,
  },
  {
    name: 'control: unreachable Kafka',
    argv: ['control', 'reset', '--agent', 'a', '--key', `ops:${SECRET}`],
    env: { KAFKA_BROKERS: DEAD_KAFKA },
    err: /^trustline control: cannot reach Kafka at 127\.0\.0\.1:1: /,
  },
  { name: 'help for an unknown command', argv: ['help', 'nope'], err: /^trustline help: unknown command "nope" \(commands: .*replay.*\)$/, code: 2 },
  { name: 'an unknown command', argv: ['nope'], err: /^trustline: unknown command "nope"/, code: 2 },
  {
    name: 'a usage error: one line with a pointer to the help',
    argv: ['replay'],
    err: /^trustline replay: replay needs at least one input file \(see trustline help replay\)$/,
    code: 2,
  },
];

type Captured = { code: number; out: string; err: string };

async function capture(argv: string[], env: Record<string, string> = {}): Promise<Captured> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('TRUSTLINE_') || k === 'KAFKA_BROKERS' || k === 'REDIS_URL') delete process.env[k];
  Object.assign(process.env, env);
  let out = '';
  let err = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => ((out += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((err += String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), out, err };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    process.env = saved;
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('bad input at the command line: one line, non-zero exit', () => {
  it.each(CASES)('$name', { timeout: 30_000 }, async (c) => {
    const r = await capture(c.argv, c.env);
    const stderr = r.err.trimEnd();
    expect(r.code, `${c.argv.join(' ')}\n${r.err}`).toBe(c.code ?? 1);
    expect(stderr).toMatch(c.err);
    // One line (a configuration error may list its settings below the first line), no stack, no usage text.
    if (!stderr.startsWith('trustline run: invalid configuration')) expect(stderr.split('\n'), stderr).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at |Error: |Usage:|Examples:/);
    expect(r.err).not.toContain(SECRET);
    if (c.out) expect(r.out).toMatch(c.out);
  });

  it('--version and help <cmd> answer on stdout with exit 0', async () => {
    const v = await capture(['--version']);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^trustline \d+\.\d+\.\d+\n$/);
    const h = await capture(['help', 'replay']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^trustline replay <file\.jsonl\[\.gz\]>…/);
  });
});

describe('the enforcer SDK with a bad key', () => {
  it('a wrong public-key PEM is a configuration error naming the kid, not a crypto stack', () => {
    const keys = [{ kid: 'prod-ed', alg: 'Ed25519' as const, secret: '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n' }];
    expect(() => createEnforcerCore({ keys })).toThrow(/^key "prod-ed": not a PEM public \(SPKI\) or private \(PKCS#8\) key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => createEnforcerCore({ keys: [{ kid: 'wrong-type', alg: 'Ed25519', secret: rsa }] })).toThrow(
      /^key "wrong-type": alg Ed25519 but the PEM holds a rsa key$/,
    );
  });
});
