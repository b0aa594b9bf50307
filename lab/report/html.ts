/**
 * The replay report: one self-contained HTML file (inline CSS, inline SVG charts, a few lines
 * of inline script; no network, no fonts, no CDN) built from a {@link ReplayRecorder}.
 *
 * Guarantees: pure (no I/O, no clock), so the same replay gives the same bytes; every string
 * that came from input data is HTML-escaped; each agent gets exactly one `svg.timeline` chart;
 * timelines are downsampled (min/max per bucket, so dips survive) to at most
 * {@link MAX_POINTS_PER_AGENT} points, fewer when there are many agents, which keeps the file
 * size roughly proportional to the number of agents rather than events.
 */
import type { Band, CircuitState } from '../../src/contract/schemas.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { downsampleMinMax } from './downsample.ts';
import { durationText, timeText as absTime } from '../../src/inspect/format.ts';
import type { AgentDrill } from './drill.ts';
import { circuitSpans, topReasons, type AgentRecord, type ReplayRecorder } from './recorder.ts';

/** Labels sidecar (`x.labels.json`) as the report needs it; extra fields are ignored. */
export type ReportLabels = {
  agents: Record<string, { malicious: boolean; scenario?: string; attackStartTs: number | null }>;
};

/**
 * A table cell: a plain value, or a text with the value it sorts by (durations, times) and an
 * optional hover title; `id: true` shows a long id truncated with the full id on hover.
 */
export type Cell = string | number | boolean | null | { text: string; sort: number | string; title?: string; id?: boolean };

/** A detection summary table (from the evaluation), rendered as it is. */
export type DetectionTable = {
  title: string;
  headers: string[];
  rows: Cell[][];
  /** One line shown under the table (definitions, totals). */
  note?: string;
};

export type ReportInput = {
  title?: string;
  files: readonly string[];
  model?: string;
  mode?: string;
  recorder: ReplayRecorder;
  labels?: ReportLabels;
  /** Detection summary tables, shown when labels were evaluated. */
  detection?: DetectionTable[];
  bands?: { trusted: number; watch: number; restrict: number };
  /** Events behind each agent's verdict (lab/report/drill.ts), shown as a drill-down per agent. */
  drill?: ReadonlyMap<string, AgentDrill>;
  /** Draw every timeline on the replay's whole time range instead of the agent's own (default false). */
  sharedAxis?: boolean;
};

/** Most points drawn per agent timeline. */
export const MAX_POINTS_PER_AGENT = 400;
/** Points drawn over all timelines together, at most (each agent still gets ≥ 60). */
const TOTAL_POINT_BUDGET = 60_000;
const BAND_BINS = 120;

const BAND_COLOURS: Record<Band, string> = { trusted: '#2e9e5b', watch: '#d4a106', restrict: '#e07b24', block: '#c0392b' };
const BAND_ORDER: readonly Band[] = ['trusted', 'watch', 'restrict', 'block'];

/** HTML-escape text for element content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

const r1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Ids longer than this are shown shortened (start…end), the full id on hover. */
const ID_CHARS = 26;

/** A possibly long agent id: shortened in the middle, the full id in the hover title. */
export function idHtml(id: string): string {
  const chars = Array.from(id);
  const short = chars.length > ID_CHARS ? `${chars.slice(0, ID_CHARS - 9).join('')}…${chars.slice(-8).join('')}` : id;
  return `<span class="id" title="${esc(id)}">${esc(short)}</span>`;
}

/** Event time as UTC text, shorter when the replay spans less than a day. */
function timeText(ts: number, spanMs: number): string {
  const iso = new Date(ts).toISOString();
  return spanMs < 86_400_000 ? iso.slice(11, 19) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

type Axis = { t0: number; t1: number; x0: number; x1: number };
const xOf = (ax: Axis, ts: number): number => ax.x0 + ((ts - ax.t0) / Math.max(ax.t1 - ax.t0, 1)) * (ax.x1 - ax.x0);

const TICK_STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800].map((s) => s * 1000);

/** Tick marks on round event times (whole seconds, minutes, hours, days UTC), at most about 8. */
function timeTicks(ax: Axis, y: number): string {
  const span = ax.t1 - ax.t0;
  const step = TICK_STEPS_MS.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 86_400_000) * 86_400_000;
  let out = '';
  for (let ts = Math.ceil(ax.t0 / step) * step; ts <= ax.t1; ts += step) {
    const x = xOf(ax, ts);
    const anchor = x - ax.x0 < 20 ? 'start' : ax.x1 - x < 20 ? 'end' : 'middle';
    out += `<line class="grid" x1="${r1(x)}" x2="${r1(x)}" y1="${y - 13}" y2="${y - 10}"/><text x="${r1(x)}" y="${y}" text-anchor="${anchor}" class="tick">${timeText(ts, span)}</text>`;
  }
  return out;
}

const W = 760;
const PLOT = { left: 34, right: 750, top: 8, bottom: 104 };

function agentChart(a: AgentRecord, ax: Axis, bands: NonNullable<ReportInput['bands']>, attackStartTs: number | null, maxPoints: number): string {
  const y = (trust: number): number => PLOT.bottom - trust * (PLOT.bottom - PLOT.top);
  const parts: string[] = [];
  // Band stripes.
  const stripes: [number, number, Band][] = [
    [bands.trusted, 1, 'trusted'],
    [bands.watch, bands.trusted, 'watch'],
    [bands.restrict, bands.watch, 'restrict'],
    [0, bands.restrict, 'block'],
  ];
  for (const [lo, hi, band] of stripes) {
    parts.push(
      `<rect x="${PLOT.left}" y="${r1(y(hi))}" width="${PLOT.right - PLOT.left}" height="${r1(y(lo) - y(hi))}" fill="${BAND_COLOURS[band]}" opacity="0.08"/>`,
    );
  }
  for (const v of [0, 0.5, 1]) parts.push(`<text x="${PLOT.left - 4}" y="${r1(y(v) + 3)}" text-anchor="end" class="tick">${v}</text>`);
  // Circuit spans.
  for (const s of circuitSpans(a, ax.t1)) {
    const x0 = xOf(ax, s.from);
    const x1 = Math.max(xOf(ax, s.to), x0 + 1.5);
    const cls = s.state === 'half_open' ? 'span-half' : 'span-open';
    parts.push(
      `<rect class="${cls}" x="${r1(x0)}" y="${PLOT.top}" width="${r1(x1 - x0)}" height="${PLOT.bottom - PLOT.top}"><title>circuit ${esc(s.state)} ${timeText(s.from, ax.t1 - ax.t0)} – ${timeText(s.to, ax.t1 - ax.t0)}</title></rect>`,
    );
  }
  // Trust line.
  const ds = downsampleMinMax(a.ts, a.trust, maxPoints);
  const pts = ds.ts.map((t, i) => `${r1(xOf(ax, t))},${r1(y(ds.ys[i]!))}`).join(' ');
  parts.push(`<polyline class="trust" points="${pts}"/>`);
  // Attack start marker.
  if (attackStartTs !== null) {
    const x = r1(xOf(ax, attackStartTs));
    parts.push(
      `<line class="attack" x1="${x}" x2="${x}" y1="${PLOT.top}" y2="${PLOT.bottom}"><title>attack starts ${timeText(attackStartTs, ax.t1 - ax.t0)}</title></line>`,
    );
    // Near the right edge the label goes to the left of the line, so it is never clipped.
    const right = xOf(ax, attackStartTs) > PLOT.right - 40;
    parts.push(`<text x="${x}" y="${PLOT.top + 9}" dx="${right ? -3 : 3}" text-anchor="${right ? 'end' : 'start'}" class="attack-label">attack</text>`);
  }
  parts.push(`<line class="axis" x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}"/>`);
  parts.push(timeTicks(ax, PLOT.bottom + 13));
  return `<svg class="timeline" data-agent="${esc(a.agentId)}" data-first="${a.firstTs}" data-last="${a.lastTs}" viewBox="0 0 ${W} 122" role="img" aria-label="trust timeline of ${esc(a.agentId)}">${parts.join('')}</svg>`;
}

/** Agents per band at the end of each time bin. */
export function bandDistribution(rec: ReplayRecorder, bins = BAND_BINS): { ts: number; counts: Record<Band, number> }[] {
  const t0 = rec.firstTs;
  const t1 = rec.lastTs;
  if (!Number.isFinite(t0)) return [];
  const out: { ts: number; counts: Record<Band, number> }[] = [];
  const agents = [...rec.agents.values()];
  const cursor = new Array<number>(agents.length).fill(0);
  for (let b = 1; b <= bins; b++) {
    const ts = t0 + ((t1 - t0) * b) / bins;
    const counts: Record<Band, number> = { trusted: 0, watch: 0, restrict: 0, block: 0 };
    agents.forEach((a, i) => {
      if (a.firstTs > ts) return;
      let c = cursor[i]!;
      while (c + 1 < a.bands.length && a.bands[c + 1]!.ts <= ts) c++;
      cursor[i] = c;
      counts[a.bands[c]!.band]++;
    });
    out.push({ ts, counts });
  }
  return out;
}

function bandChart(rec: ReplayRecorder): string {
  const dist = bandDistribution(rec);
  if (!dist.length) return '<p class="muted">No scored events.</p>';
  const ax: Axis = { t0: rec.firstTs, t1: rec.lastTs, x0: PLOT.left, x1: PLOT.right };
  const maxAgents = Math.max(1, ...dist.map((d) => BAND_ORDER.reduce((s, b) => s + d.counts[b], 0)));
  const y = (n: number): number => PLOT.bottom - (n / maxAgents) * (PLOT.bottom - PLOT.top);
  const parts: string[] = [];
  const base = new Array<number>(dist.length).fill(0);
  // Draw from the bottom: block, restrict, watch, trusted.
  for (const band of [...BAND_ORDER].reverse()) {
    const top = dist.map((d, i) => base[i]! + d.counts[band]);
    const upper = dist.map((d, i) => `${r1(xOf(ax, d.ts))},${r1(y(top[i]!))}`);
    const lower = dist.map((d, i) => `${r1(xOf(ax, d.ts))},${r1(y(base[i]!))}`).reverse();
    parts.push(`<polygon fill="${BAND_COLOURS[band]}" opacity="0.85" points="${[...upper, ...lower].join(' ')}"><title>${band}</title></polygon>`);
    top.forEach((v, i) => (base[i] = v));
  }
  parts.push(`<text x="${PLOT.left - 4}" y="${r1(y(maxAgents) + 3)}" text-anchor="end" class="tick">${maxAgents}</text>`);
  parts.push(`<text x="${PLOT.left - 4}" y="${r1(y(0) + 3)}" text-anchor="end" class="tick">0</text>`);
  parts.push(`<line class="axis" x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}"/>`);
  parts.push(timeTicks(ax, PLOT.bottom + 13));
  return `<svg class="bands" viewBox="0 0 ${W} 122" role="img" aria-label="agents per band over time">${parts.join('')}</svg>`;
}

function legend(): string {
  const band = (b: Band): string => `<span class="key"><i style="background:${BAND_COLOURS[b]}"></i>${b}</span>`;
  return `<div class="legend">${BAND_ORDER.map(band).join('')}<span class="key"><i class="k-trust"></i>trust</span><span class="key"><i class="k-open"></i>circuit open</span><span class="key"><i class="k-half"></i>half-open</span><span class="key"><i class="k-attack"></i>attack start (labels)</span></div>`;
}

function badge(text: string, cls: string): string {
  return `<span class="badge ${cls}">${esc(text)}</span>`;
}

const circuitClass = (s: CircuitState): string => (s === 'open' || s === 'forced_open' ? 'b-bad' : s === 'half_open' ? 'b-warn' : 'b-ok');
const bandClass = (b: Band): string => (b === 'trusted' ? 'b-ok' : b === 'watch' ? 'b-warn' : 'b-bad');

function cell(v: Cell): string {
  if (v === null) return '<td class="muted" data-sort="">–</td>';
  if (typeof v === 'object') {
    const sort = ` data-sort="${esc(String(v.sort))}"`;
    if (v.id) return `<td${sort}>${idHtml(v.text)}</td>`;
    return `<td${sort}${typeof v.sort === 'number' ? ' class="num"' : ''}${v.title ? ` title="${esc(v.title)}"` : ''}>${esc(v.text)}</td>`;
  }
  if (typeof v === 'string' && v.includes(', ') && v.length > 30) {
    return `<td class="why">${esc(v)}</td>`;
  }
  if (typeof v === 'boolean') return `<td>${v ? 'yes' : 'no'}</td>`;
  if (typeof v === 'number') return `<td class="num">${esc(String(Math.round(v * 1000) / 1000))}</td>`;
  return `<td>${esc(v)}</td>`;
}

const CSS = `
:root{--fg:#1d2330;--muted:#6b7383;--line:#e3e6ec;--accent:#2458c6}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:#f6f7f9}
main{max-width:1240px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:14px;margin:0;word-break:break-all}h3.table-title{margin:14px 0 6px}
.muted{color:var(--muted)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line);width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
table.detection td:first-child{word-break:break-all;min-width:12em}
th{background:#eef1f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.id{word-break:break-all;max-width:340px}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;border:1px solid transparent;white-space:nowrap}
.b-ok{background:#e4f5ea;color:#1d6b3c}.b-warn{background:#fdf3d1;color:#7a5b00}.b-bad{background:#fbe3df;color:#912b1f}.b-mal{background:#3b1f5e;color:#fff}
.agent{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:10px 0;content-visibility:auto;contain-intrinsic-size:auto 230px}
.agent header{display:flex;flex-wrap:wrap;gap:6px;align-items:center;justify-content:space-between}
.agent .meta{font-size:12px;color:var(--muted);margin:2px 0 0}
svg{display:block;width:100%;height:auto}
svg .tick{font-size:9px;fill:var(--muted)}svg .grid{stroke:#9aa1ad;stroke-width:1}svg .axis{stroke:#9aa1ad;stroke-width:1}
svg .trust{fill:none;stroke:#1f3f8f;stroke-width:1.4;stroke-linejoin:round}
svg .span-open{fill:#c0392b;opacity:.22}svg .span-half{fill:#d4a106;opacity:.22}
svg .attack{stroke:#6a1b9a;stroke-width:1.5;stroke-dasharray:4 3}svg .attack-label{font-size:9px;fill:#6a1b9a}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:var(--muted);margin:6px 0}
.key i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:-1px;border-radius:2px}
.k-trust{height:2px!important;background:#1f3f8f;vertical-align:3px!important}.k-open{background:rgba(192,57,43,.35)}.k-half{background:rgba(212,161,6,.35)}
.k-attack{width:0!important;border-left:2px dashed #6a1b9a;border-radius:0!important}
.tools{display:flex;gap:14px;align-items:center;margin:8px 0;font-size:13px}
.tools input[type=search]{padding:4px 8px;border:1px solid var(--line);border-radius:6px;min-width:260px}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.scroll{overflow-x:auto;max-width:100%}
td.num,td.t{white-space:nowrap}table.detection{width:auto;min-width:100%}table.detection td{white-space:nowrap}table.detection td.why{white-space:normal}.small{font-size:11px}td.why{min-width:16em}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12px;white-space:nowrap}
h3 .id{font-size:13px}
table.sortable th{cursor:pointer;user-select:none;white-space:nowrap}
table.sortable th::after{content:" \\2195";color:#aab0bb;font-weight:400}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2";color:var(--fg)}table.sortable th[aria-sort=descending]::after{content:" \\25BC";color:var(--fg)}
.badge-legend{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;font-size:12px;background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:8px 0}
.badge-legend dt{margin:0}.badge-legend dd{margin:0;color:var(--muted)}
details.drill{margin:6px 0 0}details.drill summary{cursor:pointer;font-size:13px;color:var(--accent)}
table.drill{font-size:12px;margin-top:6px}table.drill td.route{font-family:ui-monospace,monospace;word-break:break-all;min-width:16em}
tr.first-flag td{background:#fff4f2}
`;

const SCRIPT = `
(function(){
  var q=document.getElementById('filter'),only=document.getElementById('only-flagged'),count=document.getElementById('shown');
  function apply(){
    var s=(q.value||'').toLowerCase(),n=0,list=document.querySelectorAll('section.agent');
    for(var i=0;i<list.length;i++){
      var el=list[i],ok=el.getAttribute('data-id').toLowerCase().indexOf(s)>=0&&(!only.checked||el.getAttribute('data-flagged')==='1');
      el.style.display=ok?'':'none';if(ok)n++;
    }
    count.textContent=String(n);
  }
  q.addEventListener('input',apply);only.addEventListener('change',apply);apply();
  function key(td){var v=td.getAttribute('data-sort');if(v===null)v=td.textContent;var n=parseFloat(v);return v!==''&&isFinite(v)?n:v.toLowerCase();}
  var tables=document.querySelectorAll('table.sortable');
  for(var t=0;t<tables.length;t++)(function(table){
    var ths=table.querySelectorAll('thead th');
    for(var c=0;c<ths.length;c++)(function(th,col){
      th.setAttribute('tabindex','0');th.title='sort by '+th.textContent;
      function sort(){
        var asc=th.getAttribute('aria-sort')!=='ascending',body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
          if(x===''&&y!=='')return 1;if(y===''&&x!=='')return -1;
          var r=(typeof x==='number'&&typeof y==='number')?x-y:String(x)<String(y)?-1:String(x)>String(y)?1:0;return asc?r:-r;});
        for(var i=0;i<ths.length;i++)ths[i].removeAttribute('aria-sort');
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        for(var j=0;j<rows.length;j++)body.appendChild(rows[j]);
      }
      th.addEventListener('click',sort);th.addEventListener('keydown',function(e){if(e.key==='Enter')sort();});
    })(ths[c],c);
  })(tables[t]);
})();
`;

/** Render the report as one self-contained HTML document. */
export function renderReport(input: ReportInput): string {
  const rec = input.recorder;
  const bands = input.bands ?? DEFAULT_POLICY.bands;
  const labels = input.labels?.agents ?? {};
  const agents = [...rec.agents.values()];
  const flagged = (a: AgentRecord): boolean => a.minTrust < bands.trusted || a.circuitOpenings > 0;
  const malicious = (a: AgentRecord): boolean => labels[a.agentId]?.malicious === true;
  // Malicious (labelled) first, then the agents that fell furthest; ties by id for a stable order.
  agents.sort((x, y) => Number(malicious(y)) - Number(malicious(x)) || x.minTrust - y.minTrust || (x.agentId < y.agentId ? -1 : x.agentId > y.agentId ? 1 : 0));
  const maxPoints = Math.max(60, Math.min(MAX_POINTS_PER_AGENT, Math.floor(TOTAL_POINT_BUDGET / Math.max(agents.length, 1))));
  const ax: Axis = { t0: Number.isFinite(rec.firstTs) ? rec.firstTs : 0, t1: Number.isFinite(rec.lastTs) ? rec.lastTs : 1, x0: PLOT.left, x1: PLOT.right };
  const span = ax.t1 - ax.t0;
  const dead = [...rec.dlq.values()].reduce((s, n) => s + n, 0);
  const openings = agents.reduce((s, a) => s + a.circuitOpenings, 0);
  const title = input.title ?? 'trustline replay report';
  const anchor = (i: number): string => `agent-${i}`;

  const html: string[] = [];
  html.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`);
  html.push(`<title>${esc(title)}</title><style>${CSS}</style></head><body><main>`);
  html.push(`<h1>${esc(title)}</h1>`);
  html.push(
    `<p class="muted">${input.files.map((f) => esc(f)).join(', ')}${input.model ? ` · model ${esc(input.model)}` : ''}${input.mode ? ` · mode ${esc(input.mode)}` : ''}` +
      (Number.isFinite(rec.firstTs)
        ? ` · event time ${esc(new Date(rec.firstTs).toISOString())} → ${esc(new Date(rec.lastTs).toISOString())} (${durationText(span)})`
        : '') +
      `</p>`,
  );
  html.push(`<div class="cards">`);
  const card = (label: string, value: string | number): string =>
    `<div class="card"><span class="muted">${esc(label)}</span><b>${esc(String(value))}</b></div>`;
  html.push(
    card('agents', agents.length),
    card('events scored', rec.scored),
    card('dead letters', dead),
    card('trust updates', rec.trustUpdates),
    card('circuit openings', openings),
    card('agents below trusted', agents.filter((a) => a.minTrust < bands.trusted).length),
  );
  html.push(`</div>`);

  if (input.detection?.length) {
    html.push(`<h2>Detection summary</h2>`);
    input.detection.forEach((d, i) => {
      html.push(`<h3 class="table-title">${esc(d.title)}</h3>`);
      if (d.rows.length) {
        html.push(
          `<div class="scroll"><table class="detection sortable" id="detection-${i}"><thead><tr>${d.headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`,
        );
        for (const row of d.rows) html.push(`<tr>${row.map(cell).join('')}</tr>`);
        html.push(`</tbody></table></div>`);
      }
      if (d.note) html.push(`<p class="muted">${esc(d.note)}</p>`);
    });
  }

  html.push(
    `<h2>Bands over time</h2><p class="muted">Agents in each band (the band of each agent's latest event), ${BAND_BINS} steps of ${durationText(span / BAND_BINS)}.</p>`,
  );
  html.push(bandChart(rec));
  html.push(legend());

  html.push(`<h2>Dead letters</h2>`);
  if (!dead) html.push(`<p class="muted">None: every record decoded.</p>`);
  else {
    html.push(`<table id="dlq" class="sortable"><thead><tr><th>code</th><th>records</th></tr></thead><tbody>`);
    for (const [code, n] of [...rec.dlq.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)))
      html.push(`<tr><td>${esc(code)}</td><td class="num">${n}</td></tr>`);
    html.push(`</tbody></table>`);
  }

  const drill = input.drill;
  const firstFlag = (a: AgentRecord): number | null => drill?.get(a.agentId)?.firstFlagTs ?? null;
  const endCircuit = (a: AgentRecord): { text: string; cls: string; until: number | null } | null => {
    if (a.lastCircuit === 'closed') return null;
    const last = a.circuit[a.circuit.length - 1];
    const until = last && last.state === a.lastCircuit && last.until !== undefined ? last.until : null;
    const name = a.lastCircuit.replace('_', '-');
    return { text: `circuit ${name} at end${until !== null ? ` until ${timeText(until, 0)}` : ''}`, cls: circuitClass(a.lastCircuit), until };
  };
  // One badge: the circuit when it was not closed at the end (it decides what enforcers do), else the band.
  const ended = (a: AgentRecord): string => {
    const c = endCircuit(a);
    return c ? badge(`${c.text} · trust ${a.lastTrust.toFixed(2)} (${a.lastBand})`, c.cls) : badge(`ends ${a.lastBand}`, bandClass(a.lastBand));
  };

  html.push(`<h2>Agents</h2><p class="muted">Click a column to sort. Times are event time, UTC; long ids are shortened, hover for the full id.</p>`);
  html.push(
    `<div class="scroll"><table id="agents" class="sortable"><thead><tr><th>agent</th>${input.labels ? '<th>label</th>' : ''}<th>events</th><th>active</th><th>first flagged at</th><th>lowest trust</th><th>at its last event</th><th>circuit openings</th><th>top reasons</th></tr></thead><tbody>`,
  );
  agents.forEach((a, i) => {
    const l = labels[a.agentId];
    const labelCell = input.labels
      ? `<td data-sort="${l ? esc(l.malicious ? `0 ${l.scenario ?? ''}` : `1 ${l.scenario ?? ''}`) : '2'}">${l ? (l.malicious ? badge(l.scenario ?? 'malicious', 'b-mal') : esc(l.scenario ?? 'benign')) : '<span class="muted">unlabelled</span>'}</td>`
      : '';
    const ff = firstFlag(a);
    const sev = BAND_ORDER.indexOf(a.lastBand) + (a.lastCircuit === 'closed' || a.lastCircuit === 'forced_closed' ? 0 : 10);
    html.push(
      `<tr><td data-sort="${esc(a.agentId)}"><a href="#${anchor(i)}">${idHtml(a.agentId)}</a></td>${labelCell}<td class="num">${a.events}</td>` +
        `<td class="t" data-sort="${a.lastTs - a.firstTs}" title="${esc(absTime(a.firstTs))} → ${esc(absTime(a.lastTs))}">${esc(durationText(a.lastTs - a.firstTs))}<div class="muted small">from ${esc(absTime(a.firstTs))}</div></td>` +
        `<td class="t" data-sort="${ff ?? ''}">${ff === null ? '<span class="muted">never</span>' : esc(absTime(ff))}</td>` +
        `<td class="num" data-sort="${a.minTrust}">${a.minTrust.toFixed(2)}</td><td data-sort="${sev}">${ended(a)}</td><td class="num">${a.circuitOpenings}</td>` +
        `<td class="why">${
          topReasons(a)
            .map((r) => `${esc(r.code)} <span class="muted">×${r.count}</span>`)
            .join(', ') || '<span class="muted">–</span>'
        }</td></tr>`,
    );
  });
  html.push(`</tbody></table></div>`);

  html.push(`<h2>Trust per agent</h2>`);
  html.push(
    `<dl class="badge-legend">` +
      `<dt>${badge('ends trusted', 'b-ok')} ${badge('ends watch', 'b-warn')} ${badge('ends block', 'b-bad')}</dt><dd>the trust band of the agent's last event in this replay (trusted ≥ ${bands.trusted}, watch ≥ ${bands.watch}, restrict ≥ ${bands.restrict}, block below)</dd>` +
      `<dt>${badge('circuit open at end until 14:09:50 · trust 0.80 (trusted)', 'b-bad')}</dt><dd>replaces the band badge when the circuit was not closed at the agent's last event: enforcers refuse its requests until the time shown, then a few half-open probe requests decide. The circuit runs on its own cool-down, so trust (shown after the dot) can be back in a good band while the circuit is still open.</dd>` +
      `<dt>${badge('circuit half-open at end · trust 0.62 (watch)', 'b-warn')}</dt><dd>cool-down over, probe requests are being let through</dd>` +
      (input.labels
        ? `<dt>${badge('malicious: scenario', 'b-mal')}</dt><dd>ground-truth label of the replayed fixture (not something trustline knows)</dd>`
        : '') +
      `</dl>`,
  );
  html.push(legend());
  html.push(
    `<div class="tools"><input type="search" id="filter" placeholder="filter agents by id"><label><input type="checkbox" id="only-flagged"> only agents that left trusted or opened a circuit</label><span class="muted"><span id="shown">${agents.length}</span> shown</span></div>`,
  );
  html.push(
    `<p class="muted">${input.sharedAxis ? 'Every timeline spans the whole replay.' : "Each timeline spans the agent's own activity (its first to its last event), so minutes of activity in a days-long replay stay readable; the range is given above each chart."}</p>`,
  );
  agents.forEach((a, i) => {
    const l = labels[a.agentId];
    const attack = l?.malicious && typeof l.attackStartTs === 'number' ? l.attackStartTs : null;
    const reasons = topReasons(a);
    const ff = firstFlag(a);
    let own: Axis = ax;
    if (!input.sharedAxis) {
      let t0 = Math.min(a.firstTs, attack ?? a.firstTs);
      let t1 = Math.max(a.lastTs, attack ?? a.lastTs);
      // Events within one second: a one-minute window around them (a zero-width axis has no scale).
      if (t1 - t0 < 1000) {
        const mid = (t0 + t1) / 2;
        t0 = mid - 30_000;
        t1 = mid + 30_000;
      }
      own = { t0, t1, x0: PLOT.left, x1: PLOT.right };
    }
    html.push(
      `<section class="agent" id="${anchor(i)}" data-id="${esc(a.agentId)}" data-flagged="${flagged(a) ? 1 : 0}"><header><h3>${idHtml(a.agentId)}</h3><div>`,
    );
    if (l?.malicious) html.push(badge(`malicious: ${l.scenario ?? '?'}`, 'b-mal'), ' ');
    html.push(ended(a));
    html.push(`</div></header>`);
    html.push(
      `<p class="meta">${a.events} events, ${esc(absTime(a.firstTs))} → ${esc(absTime(a.lastTs))} (${esc(durationText(a.lastTs - a.firstTs))}) · ` +
        `${ff === null ? 'never flagged' : `first flagged at ${esc(absTime(ff))}${attack !== null ? ` (${esc(durationText(ff - attack))} after the attack started)` : ''}`} · ` +
        `lowest trust ${a.minTrust.toFixed(2)} at ${esc(absTime(a.minTrustTs))} · ${a.circuitOpenings} circuit opening${a.circuitOpenings === 1 ? '' : 's'}` +
        `${reasons.length ? ` · top reasons: ${reasons.map((r) => `${esc(r.code)} (${r.count})`).join(', ')}` : ''}</p>`,
    );
    html.push(agentChart(a, own, bands, attack, maxPoints));
    const d = drill?.get(a.agentId);
    if (d?.rows.length) {
      html.push(
        `<details class="drill"><summary>Events behind the verdict (${d.rows.length})</summary><div class="scroll"><table class="drill sortable"><thead><tr><th>time</th><th>seq</th><th>shown as</th><th>Δ trust</th><th>trust</th><th>band</th><th>circuit</th><th>request</th><th>status</th><th>network</th><th>reasons</th></tr></thead><tbody>`,
      );
      for (const r of d.rows) {
        const q = r.request;
        html.push(
          `<tr${r.role === 'first flag' ? ' class="first-flag"' : ''}><td class="t" data-sort="${r.ts}">${esc(absTime(r.ts))}</td><td class="num">${r.seq}</td><td>${esc(r.role)}</td>` +
            `<td class="num" data-sort="${r.delta ?? ''}">${r.delta === null ? '–' : (r.delta > 0 ? '+' : '') + r.delta.toFixed(3)}</td><td class="num">${r.trust.toFixed(3)}</td>` +
            `<td>${badge(r.band, bandClass(r.band))}</td><td>${esc(r.circuit.replace('_', '-'))}</td>` +
            `<td class="route">${q ? `${esc(q.method)} ${esc(q.route)}` : '<span class="muted">input not available</span>'}</td><td class="num">${q ? q.status : '–'}</td><td>${q ? esc(q.network) : '–'}</td>` +
            `<td>${esc(r.reasons.map((x) => x.code).join(', ')) || '<span class="muted">–</span>'}</td></tr>`,
        );
      }
      html.push(`</tbody></table></div></details>`);
    }
    html.push(`</section>`);
  });
  html.push(
    `<p class="muted">Generated by trustline replay --report. Times are event time, UTC. Timelines show at most ${maxPoints} points per agent (lowest and highest of each step kept).</p>`,
  );
  html.push(`</main><script>${SCRIPT}</script></body></html>\n`);
  return html.join('');
}
