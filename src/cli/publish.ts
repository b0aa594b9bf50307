/**
 * `trustline publish`: sends the events of a JSONL(.gz) fixture to Kafka, keyed by `agent.id`,
 * as a gateway would — paced by the events' own time (`--speed X` = X× real time), at a fixed
 * rate (`--rate N` events/s) or as fast as the broker acknowledges (`--max`).
 *
 * Guarantees: the record value is the line's bytes, unchanged (an invalid line is published
 * too, and reaches the DLQ downstream; a line whose `agent.id` cannot be read goes without a
 * key); records are sent in file order by one idempotent producer, one acknowledged batch at a
 * time, so the order per key (per partition) is the file order; the job is bounded: it stops at
 * the end of the file, after `--limit` records, or on Ctrl-C after the batch in flight. The
 * Kafka timestamp is the publish time, not the event time (old event times would fall outside
 * the topic's retention). Light imports only at module load (the command table imports this file).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import type { Out } from '../../lab/report/terminal.ts';
import { TrustlineError } from '../shared/errors.ts';

/** How publishing is paced. */
export type Pace = { kind: 'max' } | { kind: 'rate'; perSecond: number } | { kind: 'speed'; factor: number };

export type PublishOptions = {
  file: string;
  topic: string;
  config: Config;
  pace: Pace;
  /** Stop after this many records. */
  limit?: number;
  /** Progress output (a TTY gets a redrawn bar, anything else plain lines); none when absent. */
  out?: Out;
  signal?: AbortSignal;
  /** Create the topic (config.kafka.partitions partitions) when it does not exist. Default true. */
  createTopic?: boolean;
};

export type PublishResult = {
  published: number;
  unkeyed: number;
  batches: number;
  wallMs: number;
  firstTs: number | null;
  lastTs: number | null;
  createdTopic: boolean;
};

const AGENT_ID = /"agent"\s*:\s*\{/;

/** `agent.id` and `ts` of a line, when it is a JSON object that has them. */
function keyAndTs(bytes: Buffer): { key: string | null; ts: number | null } {
  try {
    const text = bytes.toString('utf8');
    if (!AGENT_ID.test(text)) return { key: null, ts: null };
    const doc = JSON.parse(text) as { ts?: unknown; agent?: { id?: unknown } };
    const key = typeof doc.agent?.id === 'string' && doc.agent.id !== '' ? doc.agent.id : null;
    const ts = typeof doc.ts === 'number' && Number.isFinite(doc.ts) ? doc.ts : null;
    return { key, ts };
  } catch {
    return { key: null, ts: null };
  }
}

async function countRecords(file: string, limit: number): Promise<number> {
  const { readLines } = await import('../runners/replay/file-source.ts');
  let n = 0;
  for await (const { bytes } of readLines(file)) {
    if (bytes.length === 0 || (bytes.length < 8 && bytes.toString().trim() === '')) continue;
    if (++n >= limit) break;
  }
  return n;
}

/** Publish a fixture file to Kafka (see the module doc for the guarantees). */
export async function publishFile(o: PublishOptions): Promise<PublishResult> {
  const { Partitioners } = await import('kafkajs');
  const { createKafkaClient } = await import('../shared/kafka.ts');
  const { readLines } = await import('../runners/replay/file-source.ts');
  const { Progress } = await import('../../lab/report/terminal.ts');
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  const total = o.out ? await countRecords(o.file, limit) : 0;
  const kafka = createKafkaClient({ brokers: o.config.kafka.brokers, clientId: `${o.config.kafka.clientId}-publish`, profile: 'command' });
  let createdTopic = false;
  if (o.createTopic !== false) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(o.topic)) {
        createdTopic = await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: o.topic, numPartitions: o.config.kafka.partitions, replicationFactor: 1 }],
        });
      }
    } finally {
      await admin.disconnect();
    }
  }
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const progress = o.out ? new Progress(o.out, total, `publish ${o.topic}`) : null;
  const started = performance.now();
  const r: PublishResult = { published: 0, unkeyed: 0, batches: 0, wallMs: 0, firstTs: null, lastTs: null, createdTopic };
  let pending: { key: string | null; value: Buffer }[] = [];
  const flush = async (): Promise<void> => {
    if (!pending.length) return;
    const messages = pending;
    pending = [];
    await producer.send({ topic: o.topic, acks: -1, messages });
    r.published += messages.length;
    r.batches++;
    const elapsed = (performance.now() - started) / 1000;
    progress?.update(
      r.published,
      `${Math.round(r.published / Math.max(elapsed, 1e-3))} events/s${r.lastTs !== null ? `, event time ${new Date(r.lastTs).toISOString().slice(11, 19)}` : ''}`,
    );
  };
  try {
    let queued = 0;
    let prevTs: number | null = null;
    for await (const { bytes } of readLines(o.file)) {
      if (o.signal?.aborted || queued >= limit) break;
      if (bytes.length === 0 || (bytes.length < 8 && bytes.toString().trim() === '')) continue;
      const { key, ts: rawTs } = keyAndTs(bytes);
      const ts: number | null = rawTs ?? prevTs;
      prevTs = ts;
      if (ts !== null) {
        r.firstTs ??= ts;
        r.lastTs = r.lastTs === null ? ts : Math.max(r.lastTs, ts);
      }
      // When this record is due, in ms after the start.
      let due = 0;
      if (o.pace.kind === 'rate') due = (queued / o.pace.perSecond) * 1000;
      else if (o.pace.kind === 'speed' && ts !== null && r.firstTs !== null) due = Math.max(0, ts - r.firstTs) / o.pace.factor;
      const wait = due - (performance.now() - started);
      if (wait > 15) {
        await flush();
        const left = due - (performance.now() - started);
        if (left > 0) await sleep(left, undefined, o.signal ? { signal: o.signal } : {}).catch(() => undefined);
        if (o.signal?.aborted) break;
      }
      if (key === null) r.unkeyed++;
      pending.push({ key, value: Buffer.from(bytes) });
      queued++;
      if (pending.length >= 500) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  r.wallMs = Math.round(performance.now() - started);
  progress?.done(r.published, `in ${(r.wallMs / 1000).toFixed(1)} s`);
  return r;
}

/** `trustline publish` as a command of src/cli/main.ts. */
export const publishCommand = {
  summary: 'publish a fixture file to Kafka like a gateway (keyed by agent.id), paced by event time, a rate, or --max',
  usage: `trustline publish <file.jsonl[.gz]> [--speed <x> | --rate <n> | --max] [--topic <topic>] [--limit <n>] [--config <file.json>]

Sends each line of the file, unchanged, as one record keyed by its agent.id (so an agent's
events stay in order on one partition), in file order. Invalid lines are sent too (trustline
puts them on the DLQ); a line without a readable agent.id is sent without a key. Stops at the
end of the file, after --limit records, or on Ctrl-C. Brokers come from the configuration
(KAFKA_BROKERS, or the --config file); a missing topic is created with kafka.partitions
partitions. A progress bar on a terminal, plain lines otherwise.

  --speed <x>    keep the events' relative timing, x times real time (default: --speed 1)
  --rate <n>     n events per second, whatever their timestamps
  --max          as fast as the broker acknowledges
  --topic <t>    default: the configured requests topic (agent.requests)
  --limit <n>    publish at most n records

Examples:
  KAFKA_BROKERS=127.0.0.1:39092 trustline publish fixtures/demo/demo.jsonl --speed 20
  trustline publish fixtures/validation/validation-a.jsonl.gz --max --topic agent.requests
  trustline publish fixtures/demo/demo.jsonl --rate 200 --limit 1000`,
  run: async (argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        speed: { type: 'string' },
        rate: { type: 'string' },
        max: { type: 'boolean', default: false },
        topic: { type: 'string' },
        limit: { type: 'string' },
        config: { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new TrustlineError('USAGE', 'publish needs exactly one input file');
    const chosen = [values.speed !== undefined, values.rate !== undefined, values.max].filter(Boolean).length;
    if (chosen > 1) throw new TrustlineError('USAGE', 'give only one of --speed, --rate and --max');
    const positive = (name: string, v: string): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new TrustlineError('USAGE', `--${name} must be a positive number, got ${v}`);
      return n;
    };
    const pace: Pace = values.max
      ? { kind: 'max' }
      : values.rate !== undefined
        ? { kind: 'rate', perSecond: positive('rate', values.rate) }
        : { kind: 'speed', factor: positive('speed', values.speed ?? '1') };
    let limit: number | undefined;
    if (values.limit !== undefined) {
      limit = positive('limit', values.limit);
      if (!Number.isInteger(limit)) throw new TrustlineError('USAGE', `--limit must be a whole number, got ${values.limit}`);
    }
    const file = positionals[0]!;
    const { checkInputs } = await import('../runners/replay/file-source.ts');
    await checkInputs([file]);
    const { loadConfig } = await import('../config/config.ts');
    const config = loadConfig({ file: values.config });
    const topic = values.topic ?? config.kafka.topics.requests;
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const { assertKafkaReachable } = await import('../runners/kafka/reach.ts');
      await assertKafkaReachable(config.kafka.brokers, `${config.kafka.clientId}-publish`);
      process.stderr.write(
        `publish: ${file} → ${topic} on ${config.kafka.brokers.join(',')} (${pace.kind === 'max' ? 'max rate' : pace.kind === 'rate' ? `${pace.perSecond} events/s` : `${pace.factor}× event time`}${limit ? `, at most ${limit} records` : ''})\n`,
      );
      const r = await publishFile({ file, topic, config, pace, ...(limit ? { limit } : {}), out: process.stderr, signal: abort.signal });
      process.stdout.write(
        `published ${r.published} records to ${topic} in ${(r.wallMs / 1000).toFixed(1)} s${r.unkeyed ? ` (${r.unkeyed} without a readable agent.id, sent unkeyed)` : ''}${r.createdTopic ? `; created topic ${topic} with ${config.kafka.partitions} partitions` : ''}${abort.signal.aborted ? '; stopped by Ctrl-C' : ''}\n`,
      );
      return abort.signal.aborted ? 130 : 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};
