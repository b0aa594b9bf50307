/**
 * `trustline features <files…> --out features.csv` — export the feature vectors that the
 * processor computes, for offline model training. Same code path as serving (`observe`);
 * each file is its own stream (agents start fresh per file); invalid lines are counted and
 * left out.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { decodeEvent } from '../contract/decode.ts';
import { eventAgentKey } from '../core/agent-key.ts';
import { newAgentState, type AgentState } from '../core/agent-state.ts';
import { FEATURE_COUNT, FEATURE_NAMES } from '../core/features.ts';
import { PeerBook } from '../core/peers.ts';
import { DEFAULT_COMPILED_RULES } from '../core/routes.ts';
import { observeEvent } from '../core/step.ts';
import { checkInputs, checkOutFile, describeFsError, readLines } from '../runners/replay/file-source.ts';
import { TrustlineError } from '../shared/errors.ts';

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The labels sidecar of an event file (`x.jsonl[.gz]` → `x.labels.json`).
 *
 * @throws TrustlineError `INPUT_INVALID` when the name does not end in `.jsonl` or `.jsonl.gz`: there is
 * no sidecar name to derive (and the input itself must never be read as its labels).
 */
export function labelsPathOf(file: string): string {
  if (!/\.jsonl(\.gz)?$/.test(file))
    throw new TrustlineError(
      'INPUT_INVALID',
      `${file}: --exclude-attacks reads the labels sidecar x.labels.json of an x.jsonl[.gz] file, and this name does not end in .jsonl or .jsonl.gz`,
    );
  return file.replace(/\.jsonl(\.gz)?$/, '.labels.json');
}

function readLabels(file: string): Labels {
  const path = labelsPathOf(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new TrustlineError('INPUT_INVALID', `${path}: cannot read the labels sidecar of ${file} (${describeFsError(cause)})`, { cause });
  }
  try {
    const labels = JSON.parse(text) as Labels;
    if (!labels || typeof labels !== 'object' || typeof labels.agents !== 'object' || labels.agents === null) throw new Error('no "agents" object');
    return labels;
  } catch (cause) {
    throw new TrustlineError('INPUT_INVALID', `${path}: not a labels file (${(cause as Error).message})`, { cause });
  }
}

type Labels = { agents: Record<string, { malicious: boolean; attackStartTs: number | null }> };

/**
 * Export one CSV row per valid event. With `excludeAttacks`, events of malicious agents at or
 * after their labelled attack start are still applied to the baseline but not written, so a
 * model is fitted on benign behaviour only.
 */
export async function exportFeatures(
  files: readonly string[],
  out: string,
  options: { excludeAttacks?: boolean } = {},
): Promise<{ rows: number; invalid: number; excluded: number }> {
  await checkInputs(files);
  await checkOutFile(out);
  // Labels are read up front, so a bad one fails before anything is written.
  const labelsOf = new Map(files.map((f) => [f, options.excludeAttacks ? readLabels(f) : null]));
  const stream = createWriteStream(out);
  await once(stream, 'open');
  const write = async (text: string): Promise<void> => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
  await write(['agentId', 'eventId', 'ts', ...FEATURE_NAMES].join(',') + '\n');
  const vec = new Float32Array(FEATURE_COUNT);
  let rows = 0;
  let invalid = 0;
  let excluded = 0;
  for (const file of files) {
    const agents = new Map<string, AgentState>();
    // Peer-group records as the pipeline keeps them for one source partition (a file replays as partition 0).
    const peers = new PeerBook();
    const labels = labelsOf.get(file) ?? null;
    let chunk: string[] = [];
    for await (const { bytes } of readLines(file)) {
      if (bytes.length === 0) continue;
      const r = decodeEvent(bytes);
      if (!r.ok) {
        invalid++;
        continue;
      }
      const ev = r.event;
      const id = eventAgentKey(ev);
      let s = agents.get(id);
      if (!s) agents.set(id, (s = newAgentState()));
      const { ts } = observeEvent(s, ev, vec, 0, { rules: DEFAULT_COMPILED_RULES, peer: peers.get(ev) });
      const label = labels?.agents[ev.agent.id];
      if (label?.malicious && label.attackStartTs !== null && ev.ts >= label.attackStartTs) {
        excluded++;
        continue;
      }
      chunk.push(`${csvField(ev.agent.id)},${csvField(ev.eventId)},${ts},${Array.from(vec, (x) => String(x)).join(',')}`);
      rows++;
      if (chunk.length >= 2000) {
        await write(chunk.join('\n') + '\n');
        chunk = [];
      }
    }
    if (chunk.length) await write(chunk.join('\n') + '\n');
  }
  stream.end();
  await once(stream, 'finish');
  return { rows, invalid, excluded };
}
