/**
 * `trustline import-log`: web-server access logs (combined, nginx JSON) → v1 event JSONL, so
 * analysts can replay real traffic. Mapping rules are in lab/logs/access-record.ts and
 * docs/analysts.md. Light imports only at module load (the command table imports this file).
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { TrustlineError } from '../../src/shared/errors.ts';

const TENANT = /^[A-Za-z0-9._-]{1,64}$/;

/** `trustline import-log` as a command of src/cli/main.ts. */
export const importLogCommand = {
  summary: 'turn web-server access logs (combined, nginx JSON) into v1 event JSONL for replay',
  usage: `trustline import-log <access.log[.gz]> --format combined|nginx-json [--out <events.jsonl[.gz]>] [--tenant <t>] [--source <name>]

Reads an access log line by line and writes one AgentRequestEvent (contract v1) per request,
to --out or to standard output. Every event written passes the pipeline's decoder. Lines that
cannot be read (malformed, bad timestamp, not an HTTP request line such as TLS bytes sent to a
plain-HTTP port) are counted and reported on standard error, with line numbers, never fatal.
Exit status 1 only when no line at all could be converted (wrong --format?).

  --format combined     Apache/nginx combined (or common) log format
  --format nginx-json   one JSON object per line (nginx log_format … escape=json), nginx
                        variable names: msec|time_iso8601|time_local, remote_addr, remote_user,
                        request | request_method+request_uri, status, body_bytes_sent,
                        request_length, request_time, http_user_agent, http_authorization,
                        http_x_api_key, client_id|agent_id, auth_method, request_id
  --tenant <t>          tenant of every event (default: none = "default")
  --source <name>       prefix of generated event ids <name>:<line> (default: the file name)

Agent = the client id when the log has one (client_id field, OAuth JWT client_id/azp/sub,
remote_user, hashed API key), else anon-<hash of IP + user agent>. Auth method is inferred
conservatively: JWT bearer with a client claim → oauth2; other bearer tokens, API keys, Basic
and remote_user → api_key; nothing → none. Routes: numeric, UUID and long hex path segments
become {id} (/orders/123 → /orders/{id}). Details: docs/analysts.md.

Examples:
  trustline import-log /var/log/nginx/access.log --format combined --out out/access.jsonl
  trustline import-log api.json.log.gz --format nginx-json --tenant shop --out out/api.jsonl.gz
  trustline import-log access.log --format combined | trustline validate /dev/stdin`,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { format: { type: 'string' }, out: { type: 'string' }, tenant: { type: 'string' }, source: { type: 'string' } },
    });
    const { LOG_FORMATS } = await import('../logs/parsers.ts');
    if (positionals.length !== 1) throw new TrustlineError('USAGE', 'import-log needs exactly one access log file');
    const format = values.format as (typeof LOG_FORMATS)[number] | undefined;
    if (!format || !LOG_FORMATS.includes(format)) throw new TrustlineError('USAGE', `--format must be one of ${LOG_FORMATS.join(', ')}`);
    if (values.tenant !== undefined && !TENANT.test(values.tenant)) throw new TrustlineError('USAGE', `--tenant must match ${TENANT.source}`);
    const input = positionals[0]!;
    const { readLines, checkInputs, checkOutFile } = await import('../../src/runners/replay/file-source.ts');
    await checkInputs([input]);
    if (values.out) await checkOutFile(values.out);
    const { LogImporter, formatImportStats } = await import('../logs/import.ts');
    const importer = new LogImporter({
      format,
      source: values.source ?? basename(input).replace(/\.gz$/, ''),
      ...(values.tenant ? { tenant: values.tenant } : {}),
    });

    let sink: Writable = process.stdout;
    let file: Writable | null = null;
    if (values.out) {
      mkdirSync(dirname(values.out), { recursive: true });
      file = createWriteStream(values.out);
      if (values.out.endsWith('.gz')) {
        const { createGzip } = await import('node:zlib');
        const gz = createGzip();
        gz.pipe(file);
        sink = gz;
      } else sink = file;
    }
    let chunk: string[] = [];
    const flush = async (): Promise<void> => {
      if (!chunk.length) return;
      const ok = sink.write(chunk.join('\n') + '\n');
      chunk = [];
      if (!ok) await once(sink, 'drain');
    };
    for await (const { line, bytes } of readLines(input)) {
      const json = importer.convert(bytes.toString('utf8'), line);
      if (json !== null) chunk.push(json);
      if (chunk.length >= 500) await flush();
    }
    await flush();
    if (file) {
      sink.end();
      await once(file, 'finish');
    }
    const s = importer.stats;
    process.stderr.write(formatImportStats(s, input) + (values.out ? `wrote ${s.events} events to ${values.out}\n` : ''));
    if (s.events === 0 && s.lines > 0) {
      process.stderr.write(`import-log: no line could be converted — is --format ${format} right for ${input}?\n`);
      return 1;
    }
    return 0;
  },
};
