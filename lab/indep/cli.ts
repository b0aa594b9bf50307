/**
 * Writes one independent labelled stream (lab/indep/generate.ts): `<out>/indep-<seed>.jsonl.gz`
 * and its labels sidecar `<out>/indep-<seed>.labels.json` (the format lab/eval/labels.ts reads).
 *
 * Usage: npx tsx lab/indep/cli.ts --seed 1 [--out out/indep] [--minutes 2880] [--benign 66]
 *          [--attacks-per-kind 2] [--rate 1] [--sensitive 1] [--population 1] [--network-noise 0]
 */
import { parseArgs } from 'node:util';
import { writeIndep } from './write.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'out/indep' },
    minutes: { type: 'string', default: '2880' },
    benign: { type: 'string', default: '66' },
    'attacks-per-kind': { type: 'string', default: '2' },
    rate: { type: 'string', default: '1' },
    sensitive: { type: 'string', default: '1' },
    population: { type: 'string', default: '1' },
    'network-noise': { type: 'string', default: '0' },
  },
});
const num = (name: string, v: string | undefined): number => {
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) {
    process.stderr.write(`indep: --${name} must be a non-negative number, got ${v}\n`);
    process.exit(2);
  }
  return x;
};
const r = await writeIndep(values.out!, {
  seed: num('seed', values.seed),
  durationMin: num('minutes', values.minutes),
  benignAgents: num('benign', values.benign),
  attacksPerKind: num('attacks-per-kind', values['attacks-per-kind']),
  rateScale: num('rate', values.rate),
  sensitiveScale: num('sensitive', values.sensitive),
  populationScale: num('population', values.population),
  networkNoise: num('network-noise', values['network-noise']),
});
process.stdout.write(`wrote ${r.file} (${r.events} events, ${r.agents} agents, ${r.malicious} malicious) and ${r.labelsFile}\n`);
