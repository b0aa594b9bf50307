/**
 * Prometheus text exposition (format 0.0.4) of an enforcer's counters, without a metrics
 * library: the SDK stays light. Serve it on the application's own `/metrics`:
 *
 * ```ts
 * if (req.url === '/metrics') res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(enforcer.prometheus());
 * ```
 *
 * Names follow the processor's conventions (docs/operations.md): `trustline_enforcer_` prefix,
 * `_total` on counters, base units (`_seconds`).
 */
import type { EnforcerMetrics } from './types.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A label value escaped as the exposition format requires (backslash, double quote, newline). */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

/**
 * The metrics as exposition text. `labels` are added to every sample (e.g. `{ gateway: 'eu-1' }`);
 * `prefix` replaces `trustline_enforcer_`.
 */
export function enforcerPrometheus(m: EnforcerMetrics, o: { prefix?: string; labels?: Record<string, string> } = {}): string {
  const p = o.prefix ?? 'trustline_enforcer_';
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(p)) throw new Error(`invalid metric prefix ${JSON.stringify(p)}`);
  const base = Object.entries(o.labels ?? {});
  for (const [k] of base) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(k)}`);
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string>, number][]): void => {
    out.push(`# HELP ${p}${name} ${help}`, `# TYPE ${p}${name} ${type}`);
    for (const [labels, value] of samples) {
      const all = [...base, ...Object.entries(labels)];
      out.push(`${p}${name}${all.length ? `{${all.map(([k, v]) => `${k}="${labelValue(v)}"`).join(',')}}` : ''} ${num(value)}`);
    }
  };
  family(
    'records_total',
    'counter',
    'Feed records by outcome: accepted, duplicate, or dropped (unsigned, bad_signature, stale_seq, malformed) and tombstones.',
    [
      [{ outcome: 'accepted' }, m.accepted],
      [{ outcome: 'duplicate' }, m.duplicates],
      [{ outcome: 'unsigned' }, m.droppedUnsigned],
      [{ outcome: 'bad_signature' }, m.droppedBadSignature],
      [{ outcome: 'stale_seq' }, m.droppedStaleSeq],
      [{ outcome: 'malformed' }, m.droppedMalformed],
      [{ outcome: 'tombstone' }, m.tombstones],
    ],
  );
  family('shadow_records_total', 'counter', 'Accepted records marked mode "shadow" (logged, never enforced).', [[{}, m.shadowRecords]]);
  family(
    'decisions_total',
    'counter',
    'decide() calls by enforced verdict.',
    Object.entries(m.decisions).map(([verdict, n]) => [{ verdict }, n]),
  );
  family(
    'shadow_decisions_total',
    'counter',
    'Verdicts the shadow records would have produced.',
    Object.entries(m.shadowDecisions).map(([verdict, n]) => [{ verdict }, n]),
  );
  family('shadow_disagreements_total', 'counter', 'Decisions where the shadow verdict differed from the enforced one.', [[{}, m.shadowDisagreements]]);
  family('agents', 'gauge', 'Agents (tenant, agentId) with at least one record held.', [[{}, m.agents]]);
  family('ready', 'gauge', '1 once the snapshot of the compacted topics is loaded.', [[{}, m.ready ? 1 : 0]]);
  // Absent until the feed was heard from: no sample is better than a made-up age.
  family(
    'feed_age_seconds',
    'gauge',
    'Seconds since the feed was last heard from (a record or a fetch).',
    m.feedAgeMs === null ? [] : [[{}, m.feedAgeMs / 1000]],
  );
  return out.join('\n') + '\n';
}
