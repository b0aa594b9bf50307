/**
 * One entry point for the analyst's evaluation commands: `npm run eval -- <command> [options]`.
 * Definitions and the meaning of every figure: docs/evaluation.md.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<void> }> }> = {
  report: {
    summary: 'regenerate models/EVALUATION.md, the card evaluation block (needs models/.venv: npm run train once)',
    load: () => import('./commands/report.ts'),
  },
  robustness: {
    summary: 'leave-one-kind-out folds, perturbation sweep, independent streams, real logs → models/EVALUATION.md robustness section',
    load: () => import('./commands/robustness.ts'),
  },
  check: {
    summary: 'quick figures of the current code and a model card on train/validation [--card c] [--sets train,validation]',
    load: () => import('./commands/check.ts'),
  },
  tune: { summary: 'the policy ranking on training-kind data [--tune f]… [--check f]…', load: () => import('./commands/tune.ts') },
  inspect: {
    summary: 'event-by-event view of missed attacks and flagged benign agents: inspect <file> [--agent id]',
    load: () => import('./commands/inspect.ts'),
  },
  reasons: { summary: 'whether first detections name the expected cause [files…]', load: () => import('./commands/reasons.ts') },
  perf: { summary: 'observe() µs per event and ONNX ms per 1000 rows [--card c] [files…]', load: () => import('./commands/perf.ts') },
};

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return `usage: npm run eval -- <command> [options]\n\n${Object.entries(COMMANDS)
    .map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`)
    .join('\n')}\n`;
}

const [name, ...argv] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(usage());
  process.exit(name ? 0 : 2);
}
const command = COMMANDS[name];
if (!command) {
  process.stderr.write(`eval: unknown command "${name}"\n${usage()}`);
  process.exit(2);
}
try {
  await (await command.load()).run(argv);
} catch (err) {
  process.stderr.write(`eval ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
