/**
 * `trustline audit verify` — verify the hash chains of an audit log, from a JSONL(.gz) file or
 * a Kafka topic read from its log start to the end offsets it had when reading began.
 * Exit 0 when every chain is intact, 1 at the first broken link, 2 on a usage error, 3 when the
 * log could not be read to the end (so no verdict).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import type { AuditChainResult, AuditHead } from '../audit/chain.ts';
import { TrustlineError } from '../shared/errors.ts';

const USAGE = `trustline audit verify <file.jsonl[.gz]> [--head <partition>:<index>:<hash>]… [--json]
trustline audit verify --topic <name> [--brokers <host:port,…>] [--config <file.json>] [--head …]… [--json]

Checks every partition's hash chain (format in docs/enforcers.md, "Audit chain") and reports
the first broken link: a changed, deleted, inserted or reordered record, a record in the wrong
partition, or a bad first record. --head anchors a chain's expected last record (printed by an
earlier successful run), which also catches records deleted or rewritten at the end.
With --topic, brokers come from --brokers, the config file or KAFKA_BROKERS.

Exit status: 0 intact, 1 broken, 2 usage error, 3 could not read the log to the end.

Examples:
  trustline audit verify out/audit.jsonl
  trustline audit verify --topic agent.audit --head 0:41:3f5c…`;

function parseHead(text: string): AuditHead {
  const m = /^(\d+):(\d+):([0-9a-f]{64})$/.exec(text);
  if (!m) throw new TrustlineError('USAGE', `--head must be <partition>:<index>:<64 hex digits>, got "${text}"`);
  return { partition: Number(m[1]), index: Number(m[2]), hash: m[3]! };
}

function report(result: AuditChainResult, where: string | null, json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(where && !result.ok ? { ...result, where } : result)}\n`);
    return result.ok ? 0 : 1;
  }
  if (result.ok) {
    const lines = result.heads.map((h) => `  partition ${h.partition}  head ${h.partition}:${h.index}:${h.hash}`);
    process.stdout.write(`audit chain ok: ${result.count} records in ${result.heads.length} chain(s)\n${lines.join('\n')}${lines.length ? '\n' : ''}`);
    return 0;
  }
  const what = [result.partition !== undefined ? `partition ${result.partition}` : '', result.chainIndex !== undefined ? `index ${result.chainIndex}` : '']
    .filter(Boolean)
    .join(', ');
  process.stdout.write(`audit chain BROKEN${where ? ` at ${where}` : ''}${what ? ` (${what})` : ''}: ${result.reason}: ${result.detail}\n`);
  return 1;
}

async function verifyFile(file: string, heads: AuditHead[], json: boolean): Promise<number> {
  const { createAuditChainVerifier } = await import('../audit/chain.ts');
  const verifier = createAuditChainVerifier({ heads });
  const raw = createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });
  try {
    await opened;
  } catch (cause) {
    throw new TrustlineError('USAGE', `cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        record = undefined;
      }
      const broken = verifier.add(record);
      if (broken) {
        if (record === undefined) broken.detail = 'line is not valid JSON';
        return report(broken, `line ${lineNo}`, json);
      }
    }
  } finally {
    lines.close();
    raw.destroy();
  }
  return report(verifier.finish(), null, json);
}

async function verifyTopic(topic: string, brokers: string[], heads: AuditHead[], json: boolean): Promise<number> {
  const { createAuditChainVerifier } = await import('../audit/chain.ts');
  const { readTopicToEnd } = await import('../audit/read-topic.ts');
  const verifier = createAuditChainVerifier({ heads });
  let where: string | null = null;
  await readTopicToEnd({ brokers, topic }, (partition, offset, value) => {
    let record: unknown;
    try {
      record = value === null ? undefined : JSON.parse(value.toString('utf8'));
    } catch {
      record = undefined;
    }
    const broken = verifier.add(record, { partition });
    if (broken) {
      if (record === undefined) broken.detail = value === null ? 'tombstone (null value)' : 'value is not valid JSON';
      where = `partition ${partition} offset ${offset}`;
      return false;
    }
    return true;
  });
  return report(verifier.finish(), where, json);
}

/** Exit 3 when the log could not be read to the end (broker down, topic missing): not a verdict on the chain. */
async function couldNotVerify(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TrustlineError && err.code === 'USAGE') throw err;
    process.stderr.write(`trustline audit: could not verify: ${(err as Error).message}\n`);
    return 3;
  }
}

/** The `audit` command, registered in src/cli/main.ts. */
export const auditCommand = {
  summary: 'verify the tamper-evident audit hash chains of a JSONL file or a Kafka topic',
  usage: USAGE,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        topic: { type: 'string' },
        brokers: { type: 'string' },
        config: { type: 'string' },
        head: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
      },
    });
    const [sub, ...files] = positionals;
    if (sub !== 'verify') throw new TrustlineError('USAGE', sub ? `unknown audit subcommand "${sub}"` : 'audit needs a subcommand: verify');
    const heads = (values.head ?? []).map(parseHead);
    if (values.topic !== undefined) {
      if (files.length) throw new TrustlineError('USAGE', 'give either a file or --topic, not both');
      const brokers = values.brokers
        ?.split(',')
        .map((b) => b.trim())
        .filter(Boolean);
      const { loadConfig } = await import('../config/config.ts');
      const config = loadConfig({ file: values.config, overrides: brokers?.length ? { kafka: { brokers } } : {} });
      return couldNotVerify(() => verifyTopic(values.topic!, config.kafka.brokers, heads, values.json!));
    }
    if (files.length !== 1) throw new TrustlineError('USAGE', 'audit verify needs exactly one file (or --topic <name>)');
    return couldNotVerify(() => verifyFile(files[0]!, heads, values.json!));
  },
};
