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
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config/config.ts';
import type { CircuitSignal } from '../../../src/contract/schemas.ts';
import type { ScoreRow } from '../../../src/outputs/sink.ts';
import { replayWithLabels } from '../../../lab/eval/replay-eval.ts';
import { loadLabels } from '../../../lab/eval/labels.ts';
import { downsampleMinMax } from '../../../lab/report/downsample.ts';
import { bandDistribution, esc, renderReport } from '../../../lab/report/html.ts';
import { circuitSpans, ReplayRecorder, topReasons } from '../../../lab/report/recorder.ts';
import { writeReplayReport } from '../../../lab/report/from-replay.ts';
import { main } from '../../../src/cli/main.ts';
import type { Page } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../../..');
const ARTIFACTS = join(ROOT, 'test/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const CI = !!process.env.CI && process.env.CI !== '0' && process.env.CI.toLowerCase() !== 'false';
/** The real access log lives beside the clone (`../shared/…`); REAL_ACCESS_LOG overrides (e.g. from a git worktree). */
const REAL_LOG = [process.env.REAL_ACCESS_LOG, join(ROOT, '../shared/data/real-logs/apache_logs')].find((f) => f && existsSync(f)) ?? null;

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
        scores: [
          row('a', 0, 0.9),
          row('a', 1, 0.6, { reasons: [{ code: 'burst' }] }),
          row('a', 2, 0.2, { circuit: 'open', reasons: [{ code: 'burst' }, { code: 'scope_violation' }] }),
          row('b', 3, 0.95),
        ],
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
    const html = renderReport({
      files: ['<f>.jsonl'],
      recorder: rec,
      labels: { agents: { [evil]: { malicious: true, scenario: '<b>x</b>', attackStartTs: T0 + 1000 } } },
    });
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
      "!! Install Debian's chromium (apt-get install -y chromium); under CI this test must run.",
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
    const r = await writeReplayReport({
      outDir,
      reportFile,
      files: ['fixtures/demo/demo.jsonl'],
      model: replay.model,
      labels: loadLabels(labelsFile),
      summary,
    });
    expect(r.agents).toBe(replay.agents);
    expect(statSync(reportFile).size).toBeLessThan(1024 * 1024);

    const { chromium } = await import('playwright-core');
    // A throw-away profile directory (playwright passes it as --user-data-dir).
    const context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
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
  /**
   * Opens a report in headless Chromium, runs `fn`, and fails on console errors or network
   * requests. Returns the size of a blank page's screenshot, to tell blank screenshots apart.
   */
  async function inBrowser(reportFile: string, fn: (page: Page) => Promise<void>): Promise<void> {
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(join(work, `profile-${Math.random().toString(36).slice(2)}`), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 1400 },
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
        if (!req.url().startsWith('file:') && !req.url().startsWith('about:')) requests.push(req.url());
      });
      await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });
      await fn(page);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await context.close();
    }
  }

  /** A screenshot that is not blank: far larger than one of an empty page of the same size. */
  async function screenshot(
    page: Page,
    name: string,
    options: { fullPage?: boolean; clip?: { x: number; y: number; width: number; height: number } } = {},
  ): Promise<void> {
    const png = await page.screenshot({ path: join(ARTIFACTS, name), ...options });
    expect(png.length).toBeGreaterThan(30_000);
  }

  /** The checks every report must pass, whatever its span. */
  async function readableReport(page: Page, agents: number): Promise<void> {
    expect(await page.locator('svg.timeline').count()).toBe(agents);
    expect(await page.locator('.badge-legend').isVisible()).toBe(true);
    expect(await page.locator('.badge-legend').innerText()).toContain('circuit open at end');
    expect(await page.locator('body').innerText()).not.toContain('final band');
    // Long ids are shortened, with the full id on hover.
    const ids = await page.$$eval('#agents tbody tr td:first-child .id', (els) =>
      els.map((e) => ({ text: e.textContent ?? '', title: e.getAttribute('title') ?? '' })),
    );
    expect(ids).toHaveLength(agents);
    for (const id of ids) {
      expect(id.text.length).toBeLessThanOrEqual(26);
      if (id.title.length > 26) expect(id.text).toContain('…');
      else expect(id.text).toBe(id.title);
    }
    // The agents table sorts: by lowest trust ascending, then descending.
    const th = page.locator('#agents thead th', { hasText: 'lowest trust' });
    const column = await page.$$eval('#agents thead th', (els) => els.findIndex((e) => (e.textContent ?? '').startsWith('lowest trust')));
    const values = (): Promise<number[]> =>
      page.$$eval(`#agents tbody tr td:nth-child(${column + 1})`, (els) => els.map((e) => Number(e.getAttribute('data-sort'))));
    await th.click();
    const up = await values();
    expect(up).toEqual([...up].sort((a, b) => a - b));
    await th.click();
    const down = await values();
    expect(down).toEqual([...up].sort((a, b) => b - a));
    // Each timeline is drawn on its agent's own range: the trust line of an agent active for a
    // second or more spans (nearly) the whole plot width, however long the replay.
    const widths = await page.$$eval('svg.timeline', (els) =>
      els.map((svg) => {
        const xs = (svg.querySelector('polyline.trust')?.getAttribute('points') ?? '').split(' ').map((p: string) => Number(p.split(',')[0]));
        return { span: Number(svg.getAttribute('data-last')) - Number(svg.getAttribute('data-first')), width: Math.max(...xs) - Math.min(...xs) };
      }),
    );
    const active = widths.filter((w) => w.span >= 1000);
    expect(active.length).toBeGreaterThan(0);
    expect(active.filter((w) => w.width < 0.95 * (750 - 34))).toEqual([]);
    // Attack labels stay inside their chart.
    const outside = await page.$$eval(
      'svg.timeline text.attack-label',
      (els) =>
        els.filter((e) => {
          const b = (e as unknown as { getBBox(): { x: number; width: number } }).getBBox();
          return b.x < 0 || b.x + b.width > 760;
        }).length,
    );
    expect(outside).toBe(0);
    // The drill-down of the first agent with one shows the requests behind its verdict.
    const drill = page.locator('details.drill').first();
    await drill.locator('summary').click();
    const rows = await drill.locator('tbody tr').count();
    expect(rows).toBeGreaterThan(0);
    const routes = await drill.locator('td.route').allInnerTexts();
    expect(routes.every((r) => /^[A-Z]+ \S/.test(r))).toBe(true);
    const statuses = await drill.locator('tbody tr td:nth-child(9)').allInnerTexts();
    expect(statuses.every((st) => /^[1-5]\d\d$/.test(st))).toBe(true);
  }

  it('reads on a multi-day replay: the validation fixtures (72 days)', { timeout: 180_000 }, async () => {
    if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run must install Debian's chromium`);
    const files = ['a', 'b', 'c'].map((x) => join(ROOT, `fixtures/validation/validation-${x}.jsonl.gz`));
    const outDir = join(work, 'validation');
    const { replay, summary } = await replayWithLabels(
      files,
      files.map((f) => f.replace('.jsonl.gz', '.labels.json')),
      outDir,
      loadConfig({ env: {} }),
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    const reportFile = join(ARTIFACTS, 'report-validation.html');
    const labels = {
      agents: Object.assign({}, ...files.map((f) => loadLabels(f.replace('.jsonl.gz', '.labels.json')).agents)) as ReturnType<typeof loadLabels>['agents'],
    };
    const r = await writeReplayReport({ outDir, reportFile, files, model: replay.model, labels, summary });
    const html = readFileSync(reportFile, 'utf8');
    const span = /event time (\S+) → (\S+) \(/.exec(html)!;
    expect((Date.parse(span[2]!) - Date.parse(span[1]!)) / 86_400_000).toBeGreaterThan(30);
    await inBrowser(reportFile, async (page) => {
      await screenshot(page, 'report-validation.png');
      await readableReport(page, r.agents);
      // Durations in h/min/s (never `10965.416`), absolute first-flagged times.
      const table = page.locator('table.detection').nth(1);
      const headers = await table.locator('thead th').allInnerTexts();
      const col = (name: string): number => headers.findIndex((h) => h.replace(/\s*[↕▲▼]$/, '') === name) + 1;
      const after = await table.locator(`tbody tr td:nth-child(${col('after')})`).allInnerTexts();
      expect(after.length).toBeGreaterThan(10);
      for (const t of after) expect(t).toMatch(/^(–|\d+ (ms|s)|\d+ min \d\d s|\d+ h \d\d min|\d+ d \d\d h)$/);
      const flaggedAt = await table.locator(`tbody tr td:nth-child(${col('first flagged at')})`).allInnerTexts();
      expect(flaggedAt.filter((t) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/.test(t)).length).toBe(summary.overall.detected);
      await page.locator('#agent-0').scrollIntoViewIfNeeded();
      const box = (await page.locator('#agent-0').boundingBox())!;
      await screenshot(page, 'report-validation-agent.png', { clip: { x: box.x, y: box.y, width: box.width, height: box.height } });
      await page.locator('#agent-0 details.drill summary').click();
      const open = (await page.locator('#agent-0').boundingBox())!;
      await screenshot(page, 'report-validation-drill.png', { clip: { x: open.x, y: open.y, width: open.width, height: Math.min(open.height, 900) } });
    });
  });

  it.skipIf(!REAL_LOG && !CI)('reads on an imported real access log', { timeout: 180_000 }, async () => {
    if (!REAL_LOG) throw new Error('CI is set but ../shared/data/real-logs/apache_logs is missing beside the clone');
    const events = join(work, 'real', 'events.jsonl');
    const outDir = join(work, 'real', 'out');
    mkdirSync(ARTIFACTS, { recursive: true });
    const reportFile = join(ARTIFACTS, 'report-real-log.html');
    let said = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((t: string | Uint8Array) => ((said += String(t)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((t: string | Uint8Array) => ((said += String(t)), true));
    const codes: number[] = [];
    try {
      codes.push(await main(['import-log', REAL_LOG, '--format', 'combined', '--out', events]));
      codes.push(await main(['replay', events, '--out', outDir, '--report', reportFile]));
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    expect(codes, said).toEqual([0, 0]);
    const agents = new Set(
      readFileSync(join(outDir, 'scores.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { agentId: string }).agentId),
    ).size;
    expect(agents).toBeGreaterThan(100);
    await inBrowser(reportFile, async (page) => {
      await screenshot(page, 'report-real-log.png');
      await readableReport(page, agents);
      await page.check('#only-flagged');
      const shown = Number(await page.locator('#shown').innerText());
      expect(shown).toBeGreaterThan(0);
      expect(shown).toBeLessThan(agents);
      await page.locator('section.agent:visible').first().scrollIntoViewIfNeeded();
      await screenshot(page, 'report-real-log-flagged.png');
    });
  });
});
