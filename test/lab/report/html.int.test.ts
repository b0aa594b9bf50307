/**
 * The HTML replay report: pure pieces (downsampling, escaping, band distribution, recorder),
 * and the real thing — the demo fixture replayed through the real pipeline with labels, its
 * report opened in headless Chromium (Debian's `chromium`, driven by playwright-core; never a
 * downloaded browser): no console errors, no network requests, one SVG chart per agent, and a
 * screenshot in test/artifacts/ to look at.
 *
 * Without /usr/bin/chromium the browser test is skipped loudly, except under CI, where it must
 * run (.ci/run installs the package).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.ts';
import type { CircuitSignal } from '../../../src/contract/schemas.ts';
import type { ScoreRow } from '../../../src/outputs/sink.ts';
import { replayWithLabels } from '../../../lab/eval/replay-eval.ts';
import { loadLabels } from '../../../lab/eval/labels.ts';
import { downsampleMinMax } from '../../../lab/report/downsample.ts';
import { bandDistribution, esc, renderReport } from '../../../lab/report/html.ts';
import { circuitSpans, ReplayRecorder, topReasons } from '../../../lab/report/recorder.ts';
import { writeReplayReport } from '../../../lab/report/from-replay.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const ARTIFACTS = join(ROOT, 'test/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const CI = !!process.env.CI && process.env.CI !== '0' && process.env.CI.toLowerCase() !== 'false';

const T0 = 1_750_000_000_000;
const row = (agentId: string, i: number, trust: number, extra: Partial<ScoreRow> = {}): ScoreRow => ({
  agentId,
  eventId: `${agentId}-${i}`,
  seq: i + 1,
  ts: T0 + i * 1000,
  anomaly: 0.1,
  trust,
  band: trust >= 0.7 ? 'trusted' : trust >= 0.5 ? 'watch' : trust >= 0.3 ? 'restrict' : 'block',
  circuit: 'closed',
  reasons: [],
  ...extra,
});
const signal = (agentId: string, ts: number, state: CircuitSignal['state'], previous: CircuitSignal['state'], until?: number): CircuitSignal => ({
  v: 1,
  tenant: 'default',
  agentId,
  seq: 1,
  state,
  previous,
  reasons: [{ code: 'burst' }],
  offences: 1,
  issuedAt: ts,
  ...(until !== undefined ? { until } : {}),
  mode: 'enforce',
  sig: { kid: 'k', alg: 'HS256', value: 'x' },
});

describe('downsampleMinMax', () => {
  it('returns short series unchanged', () => {
    expect(downsampleMinMax([1, 2, 3], [0.5, 0.4, 0.3], 400)).toEqual({ ts: [1, 2, 3], ys: [0.5, 0.4, 0.3] });
  });

  it('keeps at most maxPoints, in order, with the first, last, lowest and highest points', () => {
    const n = 10_000;
    const ts = Array.from({ length: n }, (_, i) => i);
    const ys = ts.map((i) => 0.8 + 0.1 * Math.sin(i / 50));
    ys[4321] = 0.05; // a one-event dip must survive
    ys[777] = 0.99;
    const d = downsampleMinMax(ts, ys, 400);
    expect(d.ts.length).toBeLessThanOrEqual(400);
    expect(d.ts.length).toBe(d.ys.length);
    expect(d.ts[0]).toBe(0);
    expect(d.ts[d.ts.length - 1]).toBe(n - 1);
    expect(d.ys).toContain(0.05);
    expect(d.ys).toContain(0.99);
    for (let i = 1; i < d.ts.length; i++) expect(d.ts[i]!).toBeGreaterThan(d.ts[i - 1]!);
  });
});

describe('recorder and report pieces', () => {
  it('tracks per-agent timelines, lowest trust, band changes, circuit spans and reasons', () => {
    const rec = new ReplayRecorder();
    rec.add({
      records: 5,
      outputs: {
        trust: [],
        dlq: [{ value: Buffer.from('{'), key: null, code: 'invalid_json', message: 'x', path: '', source: { topic: 't', partition: 0, offset: '3' } }],
        scores: [row('a', 0, 0.9), row('a', 1, 0.6, { reasons: [{ code: 'burst' }] }), row('a', 2, 0.2, { circuit: 'open', reasons: [{ code: 'burst' }, { code: 'scope_violation' }] }), row('b', 3, 0.95)],
        circuit: [signal('a', T0 + 2000, 'open', 'closed', T0 + 60_000)],
      },
    });
    const a = rec.agents.get('a')!;
    expect(a.events).toBe(3);
    expect(a.minTrust).toBe(0.2);
    expect(a.bands.map((b) => b.band)).toEqual(['trusted', 'watch', 'block']);
    expect(a.circuitOpenings).toBe(1);
    expect(topReasons(a)).toEqual([
      { code: 'burst', count: 2 },
      { code: 'scope_violation', count: 1 },
    ]);
    // An open circuit lasts until `until` at most, or the end of the data.
    expect(circuitSpans(a, T0 + 10_000)).toEqual([{ from: T0 + 2000, to: T0 + 10_000, state: 'open' }]);
    expect(circuitSpans(a, T0 + 120_000)).toEqual([{ from: T0 + 2000, to: T0 + 60_000, state: 'open' }]);
    expect(rec.dlq.get('invalid_json')).toBe(1);
    const dist = bandDistribution(rec, 3);
    expect(dist).toHaveLength(3);
    expect(dist[2]!.counts).toEqual({ trusted: 1, watch: 0, restrict: 0, block: 1 });
  });

  it('escapes everything that comes from the data and draws one timeline per agent', () => {
    const rec = new ReplayRecorder();
    const evil = '<script>alert("x")</script>&\'';
    rec.addScores([row(evil, 0, 0.9), row(evil, 1, 0.4), row('plain', 2, 0.8)]);
    const html = renderReport({ files: ['<f>.jsonl'], recorder: rec, labels: { agents: { [evil]: { malicious: true, scenario: '<b>x</b>', attackStartTs: T0 + 1000 } } } });
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b>x</b>');
    expect(html).toContain(esc(evil));
    expect(html.match(/<svg class="timeline"/g)).toHaveLength(2);
    expect(html).toContain('class="attack"');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing loaded from the network
    expect(esc(`<a href="x">'&`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });
});

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !CI) {
  console.warn(
    [
      '',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      `!! SKIPPING the report browser test: ${CHROMIUM} not found.`,
      '!! Install Debian\'s chromium (apt-get install -y chromium); under CI this test must run.',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '',
    ].join('\n'),
  );
}

describe.skipIf(!haveChromium && !CI)('report in headless Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'trustline-report-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('loads with no console errors or network requests and shows one chart per agent', { timeout: 90_000 }, async () => {
    if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run must install Debian's chromium`);
    const file = join(ROOT, 'fixtures/demo/demo.jsonl');
    const labelsFile = join(ROOT, 'fixtures/demo/demo.labels.json');
    const outDir = join(work, 'out');
    const { replay, summary } = await replayWithLabels([file], [labelsFile], outDir, loadConfig({ env: {} }));
    mkdirSync(ARTIFACTS, { recursive: true });
    const reportFile = join(ARTIFACTS, 'report-demo.html');
    const r = await writeReplayReport({ outDir, reportFile, files: ['fixtures/demo/demo.jsonl'], model: replay.model, labels: loadLabels(labelsFile), summary });
    expect(r.agents).toBe(replay.agents);
    expect(statSync(reportFile).size).toBeLessThan(1024 * 1024);

    const { chromium } = await import('playwright-core');
    // A throw-away profile directory (playwright passes it as --user-data-dir).
    const context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1200, height: 1500 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) requests.push(req.url());
      });
      await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });
      expect(await page.locator('svg.timeline').count()).toBe(replay.agents);
      expect(await page.locator('section.agent').count()).toBe(replay.agents);
      // Every chart has a drawn trust line; labelled attackers have their attack-start marker.
      expect(await page.locator('svg.timeline polyline.trust').count()).toBe(replay.agents);
      const attackers = Object.values(loadLabels(labelsFile).agents).filter((l) => l.malicious).length;
      expect(await page.locator('svg.timeline line.attack').count()).toBe(attackers);
      await expect(page.locator('table.detection').first().isVisible()).resolves.toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'report-demo.png') });
      await page.evaluate("document.getElementById('agent-0').scrollIntoView({ block: 'start' })");
      await page.screenshot({ path: join(ARTIFACTS, 'report-demo-charts.png') });
      // The filter works: a single agent id leaves one chart visible.
      const firstId = (await page.locator('section.agent').first().getAttribute('data-id'))!;
      await page.fill('#filter', firstId);
      expect(await page.locator('section.agent:visible').count()).toBe(1);
      await page.fill('#filter', '');
      expect(await page.locator('section.agent:visible').count()).toBe(replay.agents);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await context.close();
    }
    expect(readFileSync(reportFile, 'utf8')).toContain('Detection summary');
  });
});
