/**
 * Observability as shipped: the real Kafka runner (real broker, real Redis) is fed events, a
 * malformed record and good and forged control records; its `/metrics` is scraped and must
 * follow the Prometheus conventions (base units, standard process metric names, lag by topic and
 * partition, build info, control/relay/signature counters), `GET /agents/<id>` answers from
 * Redis, and every query of the shipped Grafana dashboard and Prometheus alert rules
 * (deploy/) names metrics and labels that the processor's `/metrics` or the enforcer SDK's
 * `prometheus()` actually expose.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { signControl } from '../../src/control/sign-control.ts';
import { createEnforcerCore } from '../../src/enforcer/core.ts';
import { startKafkaRunner } from '../../src/runners/kafka/run.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ROOT, cleanupTest, connectProducer, processorConfig, processorEnv, readTopic, uniqueNames } from '../support/processor-harness.ts';
import { describeIntegration, waitFor, sharedCluster } from '../support/services.ts';
import { ev } from '../support/events.ts';

type Family = { type: string; labels: Set<string> };

/** Metric families of an exposition text: name → type and the label names seen on samples. */
function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) out.set(t[1]!, { type: t[2]!, labels: new Set() });
  }
  for (const line of text.split('\n')) {
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/.exec(line);
    if (!s) continue;
    const fam = out.get(s[1]!) ?? out.get(s[1]!.replace(/_(bucket|sum|count)$/, ''));
    for (const m of s[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) fam?.labels.add(m[1]!);
  }
  return out;
}

const METRIC = /\b((?:trustline|process|nodejs)_[a-zA-Z0-9_]+|up)\b(?!\s*\()/g;
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = new Set(['job', 'instance']);

/** Metric and label names a PromQL expression (and its legend) uses. */
function namesIn(expr: string, legend = ''): { metrics: string[]; labels: string[] } {
  const metrics = [...new Set([...expr.matchAll(METRIC)].map((m) => m[1]!))];
  const labels = new Set<string>();
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',')) if (l.trim()) labels.add(l.trim());
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) for (const l of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]!);
  for (const m of `${legend}`.matchAll(/\{\{\s*\$?(?:labels\.)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) labels.add(m[1]!);
  return { metrics, labels: [...labels] };
}

describeIntegration('metrics, dashboards and alerts', () => {
  const names = uniqueNames('obs');
  afterAll(() => cleanupTest(sharedCluster(), names));

  it('the processor exposes conventional metrics, /agents/<id>, and every dashboard and alert query names an exposed metric', async () => {
    const config = processorConfig(
      processorEnv(sharedCluster(), names, { TRUSTLINE_PARTITIONS: '2', TRUSTLINE_CONTROL_KEYS: 'ops:obs-test-operator-key-0123456789' }),
    );
    const processor = await startKafkaRunner(config, createLogger({ level: 'warn' }));
    const producer = await connectProducer(sharedCluster());
    const base = `http://127.0.0.1:${processor.httpPort}`;
    let text: string;
    try {
      const t0 = Date.now() - 60_000;
      const messages = Array.from({ length: 30 }, (_, i) => ({
        key: `obs-${i % 3}`,
        value: JSON.stringify(ev({ eventId: `o-${i}`, ts: t0 + i * 1000, agent: { id: `obs-${i % 3}` } })),
      }));
      messages.push({ key: 'obs-0', value: '{"v":1,"broken' });
      await producer.send({ topic: names.requests, acks: -1, messages });
      const key = config.control.keys[0]!;
      const good = signControl({ agentId: 'obs-1', action: 'force_open', issuedAt: Date.now(), operator: 'alice' }, key);
      const forged = signControl(
        { agentId: 'obs-2', action: 'force_close', issuedAt: Date.now(), operator: 'mallory' },
        { ...key, secret: 'not-the-operator-key-0123456789' },
      );
      await producer.send({
        topic: names.control,
        acks: -1,
        messages: [
          { key: 'obs-1', value: JSON.stringify(good) },
          { key: 'obs-2', value: JSON.stringify(forged) },
        ],
      });
      await waitFor(
        async () => (await readTopic(sharedCluster(), names.circuit)).some((r) => String(r.value).includes('operator_force_open')),
        'the control record applied',
        60_000,
      );
      text = await (await fetch(`${base}/metrics`)).text();
      await waitFor(
        async () => {
          text = await (await fetch(`${base}/metrics`)).text();
          // 30 events and the relayed control record.
          return /trustline_events_total\{outcome="applied"\} (\d+)/.exec(text)?.[1] === '31' && text.includes('trustline_control_total{');
        },
        'all records counted',
        30_000,
      );

      // GET /agents/<id>: the agent's state from Redis, read-only; 404 for an unknown agent.
      const res = await fetch(`${base}/agents/obs-1`);
      expect(res.status).toBe(200);
      const view = (await res.json()) as { agentId: string; source: string; circuit: { state: string }; trust: number; baseline: { firstSeen: number } };
      expect(view).toMatchObject({ agentId: 'obs-1', source: 'redis', circuit: { state: 'forced_open' } });
      expect(view.trust).toBeGreaterThan(0);
      expect(view.baseline.firstSeen).toBe(t0 + 1000);
      expect((await fetch(`${base}/agents/no-such-agent`)).status).toBe(404);
      expect((await fetch(`${base}/agents/obs-1`, { method: 'POST' })).status).toBe(405);
    } finally {
      await producer.disconnect();
      await processor.stop('test end');
    }

    // Conventions.
    const fams = families(text);
    // Label names declared on each metric (also for label sets that saw no sample in this run).
    for (const m of processor.metrics.registry.getMetricsAsArray()) {
      const declared = (m as unknown as { name: string; labelNames?: readonly string[] }).labelNames ?? [];
      for (const l of declared) fams.get((m as unknown as { name: string }).name)?.labels.add(l);
    }
    expect([...fams.keys()].filter((n) => /_ms$|_ms_|trustline_process_/.test(n))).toEqual([]);
    expect(fams.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(fams.get('trustline_event_to_emit_seconds')?.type).toBe('histogram');
    expect(text).toMatch(/^trustline_build_info\{version="\d+\.\d+\.\d+[^"]*",model="trustline-tailsum@\d+"\} 1$/m);
    expect(text).toMatch(new RegExp(`^trustline_consumer_lag\\{topic="${names.requests.replace(/\./g, '\\.')}",partition="[01]"\\} \\d+$`, 'm'));
    expect(text).toMatch(/^trustline_ready 1$/m);
    expect(text).toMatch(/^trustline_control_total\{action="force_open",outcome="applied"\} 1$/m);
    expect(text).toMatch(/^trustline_control_relay_records_total\{outcome="relayed",code=""\} 1$/m);
    expect(text).toMatch(/^trustline_control_relay_records_total\{outcome="rejected",code="bad_signature"\} 1$/m);
    expect(text).toMatch(/^trustline_signature_rejections_total\{where="relay",code="bad_signature"\} 1$/m);
    expect(text).toMatch(/^trustline_dlq_total\{code="invalid_json"\} 1$/m);
    expect(text).toMatch(/^trustline_signatures_total\{kind="trust"\} [1-9]/m);
    expect(text).toMatch(/^trustline_audit_records_total\{kind="control"\} 1$/m);
    expect(text).toMatch(/^trustline_redis_seconds_count\{op="load"\} [1-9]/m);

    // The enforcer SDK's exposition (what a gateway serves).
    const enforcer = createEnforcerCore({ keys: config.signing.keys, logger: createLogger({ level: 'silent' }) });
    enforcer.markReady();
    enforcer.decide({ agentId: 'nobody' });
    const enforcerText = enforcer.prometheus();
    expect(enforcerText).toMatch(/^trustline_enforcer_ready 1$/m);
    expect(enforcerText).toMatch(/^trustline_enforcer_decisions_total\{verdict="\w+"\} 1$/m);
    for (const [name, fam] of families(enforcerText)) fams.set(name, fam);

    // Every query of the shipped dashboard and alert rules.
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dashboards/trustline.json'), 'utf8')) as {
      uid: string;
      panels: { id: number; type: string; title: string; targets?: { expr: string; legendFormat?: string }[] }[];
    };
    const rules = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus/trustline-alerts.yml'), 'utf8')) as {
      groups: { name: string; rules: { alert: string; expr: string; for?: string; annotations: { summary: string } }[] }[];
    };
    const queries: { where: string; expr: string; legend?: string }[] = [];
    for (const p of dashboard.panels)
      for (const t of p.targets ?? []) queries.push({ where: `panel "${p.title}"`, expr: t.expr, ...(t.legendFormat ? { legend: t.legendFormat } : {}) });
    for (const g of rules.groups) for (const r of g.rules) queries.push({ where: `alert ${r.alert}`, expr: r.expr });
    expect(dashboard.panels.filter((p) => p.type !== 'row').length).toBeGreaterThanOrEqual(15);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(
      expect.arrayContaining(['TrustlineNotReady', 'TrustlineConsumerLagGrowing', 'TrustlineDeadLetterRate', 'TrustlineCircuitsOpenSpike']),
    );
    const problems: string[] = [];
    for (const q of queries) {
      const { metrics, labels } = namesIn(q.expr, q.legend);
      if (!metrics.length) problems.push(`${q.where}: names no metric: ${q.expr}`);
      const known = new Set(TARGET_LABELS);
      for (const m of metrics) {
        if (m === 'up') continue; // Prometheus's own per-target series
        const fam = fams.get(m) ?? fams.get(m.replace(/_(bucket|sum|count)$/, ''));
        if (!fam) problems.push(`${q.where}: ${m} is not exposed`);
        else if (m.endsWith('_bucket') && fam.type !== 'histogram') problems.push(`${q.where}: ${m} is not a histogram bucket`);
        for (const l of fam?.labels ?? []) known.add(l);
        if (m.endsWith('_bucket')) known.add('le');
      }
      for (const l of labels) if (!known.has(l)) problems.push(`${q.where}: label "${l}" is not on ${metrics.join(', ')}`);
    }
    expect(problems).toEqual([]);
    expect(queries.length).toBeGreaterThan(30);
  }, 180_000);
});
