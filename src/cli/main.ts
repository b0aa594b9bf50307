/**
 * The `trustline` command line. Each command parses its own flags with node:util parseArgs,
 * reads configuration once through `loadConfig`, and returns an exit code.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ConfigInput } from '../config/config.ts';
import type { EvalSummary } from '../../lab/eval/evaluator.ts';
import { TrustlineError } from '../shared/errors.ts';
import { agentCommand, agentsCommand } from './agent.ts';
import { packageFile } from '../shared/package-files.ts';
import { auditCommand } from './audit.ts';
import { controlCommand } from './control.ts';
import { demoCommand } from '../../lab/cli/demo.ts';
import { importLogCommand } from '../../lab/cli/import-log.ts';
import { publishCommand } from './publish.ts';
import { validateCommand } from './validate.ts';

type Command = { summary: string; usage: string; run: (argv: string[]) => Promise<number> };

const COMMANDS: Record<string, Command> = {
  demo: demoCommand,
  run: {
    summary: 'run the production processor: Kafka consumer group in, Redis state, trust/circuit/DLQ topics out',
    usage: `trustline run [--config <file.json>] [--insecure-dev-keys]

Settings come from the config file (TRUSTLINE_CONFIG) and the environment, e.g.
KAFKA_BROKERS=host:9092, REDIS_URL=redis://host:6379, TRUSTLINE_MODE=shadow,
TRUSTLINE_HTTP_PORT=9464 (GET /healthz, /readyz, /metrics). See docs/operations.md.

Signing keys are required: TRUSTLINE_SIGNING_KEYS=kid:secret[,kid:secret…] (or signing.keys in
the config file); operator keys for agent.control: TRUSTLINE_CONTROL_KEYS. Without signing keys
run refuses to start, unless --insecure-dev-keys (or TRUSTLINE_INSECURE_DEV_KEYS=1) lets it sign
with the built-in development key — for local development only, warned on every start.

Example:
  KAFKA_BROKERS=127.0.0.1:39092 REDIS_URL=redis://127.0.0.1:36379 TRUSTLINE_SIGNING_KEYS=k1:$(openssl rand -hex 32) trustline run`,
    run: async (argv) => {
      const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'insecure-dev-keys': { type: 'boolean', default: false } } });
      const { loadConfig, describeConfig, usesDevSigningKey } = await import('../config/config.ts');
      const config = loadConfig({ file: values.config, overrides: values['insecure-dev-keys'] ? { signing: { insecureDevKeys: true } } : {} });
      const devKey = usesDevSigningKey(config);
      if (devKey && !config.signing.insecureDevKeys) {
        throw new TrustlineError(
          'CONFIG_INVALID',
          'no signing keys: set TRUSTLINE_SIGNING_KEYS=kid:secret (or signing.keys in the config file); for local development only, --insecure-dev-keys or TRUSTLINE_INSECURE_DEV_KEYS=1 signs with the built-in development key',
        );
      }
      const { createLogger } = await import('../shared/logger.ts');
      const log = createLogger({ level: config.log.level });
      if (devKey)
        log.warn(
          { kid: config.signing.activeKid },
          'INSECURE: signing with the built-in development key (--insecure-dev-keys); anyone can forge trust records. Never use this in production: set TRUSTLINE_SIGNING_KEYS',
        );
      log.info({ config: describeConfig(config) }, 'starting trustline run');
      const { assertKafkaReachable } = await import('../runners/kafka/reach.ts');
      await assertKafkaReachable(config.kafka.brokers, config.kafka.clientId);
      const { startKafkaRunner } = await import('../runners/kafka/run.ts');
      const handle = await startKafkaRunner(config, log);
      log.info({ httpPort: handle.httpPort }, 'processor running');
      const onSignal = (sig: string): void => {
        const timer = setTimeout(() => {
          log.error({ deadlineMs: config.shutdownDeadlineMs }, 'shutdown deadline exceeded; exiting');
          process.exit(1);
        }, config.shutdownDeadlineMs);
        timer.unref();
        void handle.stop(sig);
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      await handle.done;
      log.flush?.();
      // A non-retriable error stopped the processor: exit non-zero so the supervisor restarts it
      // (docs/operations.md, "Failures").
      const code = handle.error === null ? 0 : 1;
      // Everything is stopped in order; a client socket left behind (e.g. an abandoned relay join)
      // must not keep the process alive.
      setTimeout(() => process.exit(code), 1_000).unref();
      return code;
    },
  },
  replay: {
    summary: 'replay JSONL(.gz) event files through the pipeline on the embedded default (no Kafka, no Redis); --labels evaluates detection',
    usage: `trustline replay <file.jsonl[.gz]>… [--out <dir>] [--labels [<labels.json>]]… [--report <file.html>] [--mode enforce|shadow] [--config <file.json>]

Writes <dir>/scores.jsonl (one line per valid event, in input order), trust.jsonl and
circuit.jsonl (records exactly as produced to Kafka) and dlq.jsonl (rejected lines).

--labels evaluates what was emitted against ground-truth labels and also writes
<dir>/summary.json (detection rate, time to detect, false positives, ROC/PR-AUC, per agent
and per scenario; definitions in docs/evaluation.md):
  --labels              (no file) every input's sidecar: x.jsonl[.gz] → x.labels.json
  --labels <f.json>     explicit labels files, one --labels per input, in input order
                        (a value is taken as a labels file only when it ends in .json;
                        --labels=<file> always takes it)

--report <file.html> also writes one self-contained HTML report (no network): a trust
timeline per agent with circuit-open spans (and attack starts with --labels), bands over
time, top reasons per agent, dead-letter counts, and the detection summary with --labels.

Examples:
  trustline replay fixtures/demo/demo.jsonl --out out/demo
  trustline replay fixtures/demo/demo.jsonl --out out/demo --labels --report out/demo/report.html
  trustline replay fixtures/validation/*.jsonl.gz --out out/validation --labels
  trustline replay traffic.jsonl.gz --out out/t --labels truth/traffic.labels.json`,
    run: async (argv) => {
      // --labels takes an optional value: split it off before parseArgs (which has no optional values).
      const labelFiles: string[] = [];
      let wantLabels = false;
      const rest: string[] = [];
      for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        if (a === '--labels') {
          wantLabels = true;
          const next = argv[i + 1];
          if (next !== undefined && next.endsWith('.json')) {
            labelFiles.push(next);
            i++;
          }
        } else if (a.startsWith('--labels=')) {
          wantLabels = true;
          labelFiles.push(a.slice('--labels='.length));
        } else rest.push(a);
      }
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { out: { type: 'string', default: 'out/replay' }, mode: { type: 'string' }, config: { type: 'string' }, report: { type: 'string' } },
      });
      if (!positionals.length) throw new TrustlineError('USAGE', 'replay needs at least one input file');
      if (labelFiles.length > 0 && labelFiles.length !== positionals.length) {
        throw new TrustlineError(
          'USAGE',
          `--labels: ${labelFiles.length} labels files for ${positionals.length} input files (give one per input, in order, or --labels alone for the sidecars)`,
        );
      }
      const overrides: ConfigInput = values.mode ? { mode: values.mode as 'enforce' | 'shadow' } : {};
      const { loadConfig } = await import('../config/config.ts');
      const config = loadConfig({ file: values.config, overrides });
      const { checkInputs, checkOutDir, noValidEventsHint } = await import('../runners/replay/file-source.ts');
      await checkInputs(positionals);
      await checkOutDir(values.out!);
      const { replayFiles } = await import('../runners/replay/replay.ts');
      let evaluation = '';
      let evaluated: { labelFiles: string[]; summary: EvalSummary } | null = null;
      const s = wantLabels
        ? await (async () => {
            const { sidecarOf } = await import('../../lab/eval/labels.ts');
            const { replayWithLabels, formatSummary } = await import('../../lab/eval/replay-eval.ts');
            const labels = labelFiles.length ? labelFiles : positionals.map((f) => sidecarOf(f));
            await checkInputs(labels);
            const r = await replayWithLabels(positionals, labels, values.out!, config);
            evaluation = `wrote ${r.summaryPath}\n${formatSummary(r.summary)}`;
            evaluated = { labelFiles: labels, summary: r.summary };
            return r.replay;
          })()
        : await replayFiles(positionals, values.out!, config);
      const eps = Math.round(s.records / Math.max(s.wallMs / 1000, 1e-3));
      process.stdout.write(
        `replayed ${s.records} records (${s.applied} scored, ${s.dead} to dlq) of ${s.agents} agents with ${s.model} in ${s.wallMs} ms (${eps} events/s)\n` +
          `wrote ${values.out}/scores.jsonl, trust.jsonl (${s.trustUpdates}), circuit.jsonl (${s.circuitSignals}), dlq.jsonl (${s.dead}), audit.jsonl (${s.auditRecords}), escalations.jsonl (${s.escalations})\n` +
          evaluation,
      );
      if (values.report) {
        const { writeReplayReportCli } = await import('../../lab/report/from-replay.ts');
        process.stdout.write(
          await writeReplayReportCli({ outDir: values.out!, reportFile: values.report, files: positionals, model: s.model, mode: config.mode, evaluated }),
        );
      }
      const hint = noValidEventsHint(positionals, s.records, s.applied, s.deadByCode);
      if (hint) {
        process.stderr.write(`trustline replay: ${hint}; see ${values.out}/dlq.jsonl\n`);
        return 1;
      }
      return 0;
    },
  },
  features: {
    summary: 'export feature vectors of event files as CSV, for model training',
    usage: `trustline features <file.jsonl[.gz]>… --out <features.csv> [--exclude-attacks]

--exclude-attacks reads each file's labels sidecar (x.labels.json) and leaves out the
events of malicious agents from their attack start on (they still update the baseline).

Example:
  trustline features fixtures/train/*.jsonl.gz --out models/.cache/features.csv --exclude-attacks`,
    run: async (argv) => {
      const { values, positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { out: { type: 'string' }, 'exclude-attacks': { type: 'boolean', default: false } },
      });
      if (!positionals.length || !values.out) throw new TrustlineError('USAGE', 'features needs input files and --out <file.csv>');
      const { exportFeatures } = await import('./features.ts');
      const r = await exportFeatures(positionals, values.out, { excludeAttacks: values['exclude-attacks'] });
      process.stdout.write(`wrote ${r.rows} feature rows to ${values.out} (${r.invalid} invalid lines, ${r.excluded} attack events left out)\n`);
      if (r.rows + r.excluded === 0) {
        const { noValidEventsHint } = await import('../runners/replay/file-source.ts');
        process.stderr.write(`trustline features: ${noValidEventsHint(positionals, r.invalid, 0, r.invalid ? { invalid: r.invalid } : {})}\n`);
        return 1;
      }
      return 0;
    },
  },
  agent: agentCommand,
  agents: agentsCommand,
  audit: auditCommand,
  control: controlCommand,
  validate: validateCommand,
  'import-log': importLogCommand,
  publish: publishCommand,
};

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `trustline — real-time behavioral trust scoring for AI-agent traffic

Usage: trustline <command> [options]    (trustline help <command> or trustline <command> --help for details)
       trustline --version

Commands:
${lines.join('\n')}
`;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * One line for every failure (docs/analysts.md, "Errors"): `trustline <cmd>: <what>: <reason>`, exit 2
 * for a usage error and 1 otherwise, never a stack trace.
 */
export function describeFailure(name: string, err: unknown): { text: string; code: number } {
  const hint = ` (see trustline help ${name})`;
  if (err instanceof TrustlineError) {
    return err.code === 'USAGE' ? { text: `trustline ${name}: ${err.message}${hint}`, code: 2 } : { text: `trustline ${name}: ${err.message}`, code: 1 };
  }
  const e = err as NodeJS.ErrnoException & { name?: string };
  if (e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) return { text: `trustline ${name}: ${e.message}${hint}`, code: 2 };
  if (e && typeof e.name === 'string' && e.name.startsWith('KafkaJS')) return { text: `trustline ${name}: Kafka: ${describeKafkaCause(e)}`, code: 1 };
  if (e && typeof e.code === 'string' && typeof e.path === 'string') return { text: `trustline ${name}: ${e.path}: ${fsReason(e)}`, code: 1 };
  const message = err instanceof Error ? err.message : String(err);
  return { text: `trustline ${name}: internal error: ${message.split('\n')[0]}`, code: 1 };
}

function fsReason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EEXIST':
      return 'already exists';
    case 'ENOTDIR':
      return 'a path component is a file, not a directory';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return e.message;
  }
}

function describeKafkaCause(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  for (let i = 0; i < 5 && e?.cause; i++) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`trustline ${version()}\n`);
    return 0;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      process.stdout.write(help());
      return 0;
    }
    const c = COMMANDS[topic];
    if (!c) {
      process.stderr.write(`trustline help: unknown command "${topic}" (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
      return 2;
    }
    process.stdout.write(`${c.usage}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`trustline: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}; trustline --help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    const { text, code } = describeFailure(name, err);
    process.stderr.write(`${text}\n`);
    return code;
  }
}
