/**
 * The compose stack and the Prometheus/Grafana provisioning files parse, reference files that
 * exist, and wire the services together (Docker is not needed: the files are read as YAML).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const yaml = (f: string): Record<string, unknown> => parse(readFileSync(join(ROOT, f), 'utf8')) as Record<string, unknown>;

type Service = {
  image?: string;
  build?: string | { context: string; target?: string };
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: unknown;
  command?: string[];
};

describe('docker-compose.yml', () => {
  const services = yaml('docker-compose.yml').services as Record<string, Service>;

  it('runs trustline, Kafka, Redis, Prometheus, Grafana and the example gateway', () => {
    // `keys`: the one-shot service that generates the signing and operator keys (docs/operations.md).
    expect(Object.keys(services).sort()).toEqual(['gateway', 'grafana', 'kafka', 'keys', 'prometheus', 'redis', 'trustline']);
    expect(services.trustline!.healthcheck!.test.join(' ')).toContain('/readyz');
    // The gateway runs from the Dockerfile's `gateway` target, whose entrypoint is the example.
    expect(services.gateway!.build).toEqual({ context: '.', target: 'gateway' });
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/FROM build AS gateway[\s\S]*ENTRYPOINT \[[^\]]*"examples\/gateway\/main\.ts"\]/);
    expect(existsSync(join(ROOT, 'examples/gateway/main.ts'))).toBe(true);
  });

  it('mounts provisioning files that exist, at the paths the official images read', () => {
    // Bind mounts only (a named volume such as trustline-keys has no host path).
    const mounts = Object.entries(services)
      .flatMap(([name, s]) => (s.volumes ?? []).map((v) => ({ name, host: v.split(':')[0]!, target: v.split(':')[1]! })))
      .filter((m) => m.host.startsWith('.') || m.host.startsWith('/'));
    for (const m of mounts) expect(existsSync(join(ROOT, m.host)), `${m.name}: ${m.host}`).toBe(true);
    const targets = mounts.map((m) => m.target);
    expect(targets).toEqual(
      expect.arrayContaining([
        '/etc/prometheus/prometheus.yml',
        '/etc/grafana/provisioning/datasources',
        '/etc/grafana/provisioning/dashboards',
        '/var/lib/grafana/dashboards',
      ]),
    );
  });

  it('points Prometheus at trustline and its rules, and Grafana at Prometheus and the dashboards', () => {
    const prom = yaml('deploy/prometheus/prometheus.yml') as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(prom.rule_files).toEqual(['/etc/prometheus/rules/trustline-alerts.yml']);
    expect(services.prometheus!.volumes).toContain('./deploy/prometheus/trustline-alerts.yml:/etc/prometheus/rules/trustline-alerts.yml:ro');
    expect(prom.scrape_configs.find((j) => j.job_name === 'trustline')!.static_configs[0]!.targets).toEqual(['trustline:9464']);
    const ds = yaml('deploy/grafana/provisioning/datasources/prometheus.yml') as { datasources: { type: string; url: string }[] };
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const dash = yaml('deploy/grafana/provisioning/dashboards/trustline.yml') as { providers: { options: { path: string } }[] };
    expect(dash.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
    expect(existsSync(join(ROOT, 'deploy/grafana/dashboards/trustline.json'))).toBe(true);
  });
});
