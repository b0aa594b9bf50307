/**
 * Metrics helpers without services: consumer-lag series follow the assignment (a revoked
 * partition stops being reported), build info, and the enforcer SDK's text exposition.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics, retainLag, setBuildInfo, setLag } from '../../src/ops/metrics.ts';
import { enforcerPrometheus } from '../../src/enforcer/prometheus.ts';
import type { EnforcerMetrics } from '../../src/enforcer/types.ts';

describe('processor metrics', () => {
  it('drops the lag of partitions revoked in a rebalance and keeps the others', async () => {
    const m = createMetrics({ defaultMetrics: false });
    setLag(m, 'req', 0, 5);
    setLag(m, 'req', 1, 7);
    setLag(m, 'req', 2, 9);
    retainLag(m, { req: [1, 2, 3] });
    const text = await m.registry.metrics();
    expect(text).not.toContain('trustline_consumer_lag{topic="req",partition="0"}');
    expect(text).toContain('trustline_consumer_lag{topic="req",partition="1"} 7');
    expect(text).toContain('trustline_consumer_lag{topic="req",partition="2"} 9');
    retainLag(m, {});
    expect(await m.registry.metrics()).not.toMatch(/^trustline_consumer_lag\{/m);
  });

  it('reports one build_info series, replaced when the model changes', async () => {
    const m = createMetrics({ defaultMetrics: false });
    setBuildInfo(m, 'model@1', '1.2.3');
    setBuildInfo(m, 'model@2', '1.2.3');
    const lines = (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('trustline_build_info{'));
    expect(lines).toEqual(['trustline_build_info{version="1.2.3",model="model@2"} 1']);
  });

  it('uses standard process metric names (no trustline_ prefix on them)', async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    expect(text).not.toContain('trustline_process_');
  });
});

describe('enforcer.prometheus()', () => {
  const metrics: EnforcerMetrics = {
    accepted: 5,
    duplicates: 1,
    droppedUnsigned: 2,
    droppedBadSignature: 3,
    droppedStaleSeq: 0,
    droppedMalformed: 0,
    tombstones: 0,
    shadowRecords: 0,
    decisions: { allow: 10, challenge: 1, deny: 2, hold: 0 },
    shadowDecisions: { allow: 0, challenge: 0, deny: 0, hold: 0 },
    shadowDisagreements: 0,
    agents: 4,
    ready: true,
    feedAgeMs: 1500,
  };

  it('writes valid exposition text with escaped labels', () => {
    const text = enforcerPrometheus(metrics, { labels: { gateway: 'eu "1"\\x' } });
    expect(text).toContain('trustline_enforcer_records_total{gateway="eu \\"1\\"\\\\x",outcome="bad_signature"} 3');
    expect(text).toContain('trustline_enforcer_decisions_total{gateway="eu \\"1\\"\\\\x",verdict="allow"} 10');
    expect(text).toContain('trustline_enforcer_feed_age_seconds{gateway="eu \\"1\\"\\\\x"} 1.5');
    // Every sample line belongs to a family declared by # TYPE just above it.
    let family = '';
    for (const line of text.trim().split('\n')) {
      const t = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (t) family = t[1]!;
      else if (!line.startsWith('# HELP ')) expect(line.startsWith(family)).toBe(true);
    }
  });

  it('leaves the feed age out before the feed was heard from, and rejects bad names', () => {
    expect(enforcerPrometheus({ ...metrics, feedAgeMs: null })).not.toMatch(/^trustline_enforcer_feed_age_seconds /m);
    expect(() => enforcerPrometheus(metrics, { prefix: 'bad-prefix' })).toThrow(/prefix/);
    expect(() => enforcerPrometheus(metrics, { labels: { __x: 'y' } })).toThrow(/label/);
  });
});
