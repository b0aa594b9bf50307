/**
 * Text forms of the inspector's views (`trustline agent`, `trustline agents`) and the duration
 * and time formats shared with the replay report. Pure.
 */
import type { AgentListRow, AgentView } from './agent-view.ts';

/** A duration for people: `850 ms`, `42 s`, `3 min 05 s`, `3 h 03 min`, `2 d 04 h`. */
export function durationText(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const neg = ms < 0 ? '−' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${neg}${Math.round(a)} ms`;
  const s = Math.round(a / 1000);
  if (s < 60) return `${neg}${s} s`;
  if (s < 3600) return `${neg}${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60); // from an hour on, to the nearest minute
  const h = Math.floor(m / 60);
  if (h < 48) return `${neg}${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${neg}${Math.floor(h / 24)} d ${String(h % 24).padStart(2, '0')} h`;
}

/** Event time as `2026-01-05 14:03:07Z`. */
export function timeText(ts: number | null): string {
  if (ts === null || !Number.isFinite(ts)) return '–';
  return new Date(ts)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const num = (x: number | null, digits = 3): string => (x === null ? '–' : x.toFixed(digits));

/** A two-column table of label/value lines. */
function pairs(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}

function hoursText(hours: readonly number[]): string {
  if (!hours.length) return '–';
  // Runs of consecutive hours as ranges: 8–17, 22.
  const runs: string[] = [];
  let start = hours[0]!;
  let prev = start;
  for (const h of [...hours.slice(1), -1]) {
    if (h === prev + 1) {
      prev = h;
      continue;
    }
    runs.push(start === prev ? `${start}` : `${start}–${prev}`);
    start = h;
    prev = h;
  }
  return `${runs.join(', ')} h UTC`;
}

/** `trustline agent <id>` as text. */
export function formatAgent(v: AgentView): string {
  const c = v.circuit;
  let circuit: string = c.state;
  if (c.until !== null)
    circuit += `${c.state === 'forced_closed' ? ' (allowlisted)' : ''} until ${timeText(c.until)} (${durationText(c.until - v.baseline.lastSeen)} after the last event)`;
  if (c.probesLeft !== null) circuit += `, ${c.probesLeft} probes left`;
  circuit += `, ${c.offences} offence${c.offences === 1 ? '' : 's'}`;
  const b = v.baseline;
  const out: string[] = [];
  out.push(`agent ${v.tenant === 'default' ? v.agentId : `${v.tenant}/${v.agentId}`}  (from ${v.source})`);
  out.push(
    pairs([
      ['trust', `${v.trust.toFixed(3)}  ${v.band}`],
      ['circuit', circuit],
      ['identity', num(v.components.identity)],
      ['intent', num(v.components.intent)],
      ['authorization', num(v.components.authorization)],
      ['peer group', v.peerGroup ?? '–'],
      ['escalation', v.escalation.pending ? `pending (seq ${v.escalation.seq}), expires ${timeText(v.escalation.expiresAt)}` : 'none pending'],
      ['last control', timeText(v.lastControlAt)],
      [
        'seen',
        `${timeText(b.firstSeen)} → ${timeText(b.lastSeen)} (${durationText(b.lastSeen - b.firstSeen)})${v.events !== null ? `, ${v.events} events` : ''}, seq ${v.seq}`,
      ],
    ]),
  );
  out.push('baseline');
  out.push(
    pairs([
      ['rate', `${b.eventsLastMinute.toFixed(1)} in the last minute, ${b.eventsLastHour.toFixed(1)} in the last hour (before its last event)`],
      ['usual gap', b.typicalGapSeconds === null ? '–' : durationText(b.typicalGapSeconds * 1000)],
      ['routes', `${b.knownRoutes} in its recent route set, ${pct(b.novelRouteShare)} new`],
      ['errors', pct(b.errorShare)],
      ['privileged', pct(b.privilegedShare)],
      ['sensitive', pct(b.sensitiveShare)],
      ['off home network', pct(b.offHomeNetworkShare)],
      ['bytes out', `${b.typicalBytesOut} typical`],
      ['amount', b.typicalAmount === null ? '–' : `${b.typicalAmount.toFixed(2)} typical`],
      ['active hours', hoursText(b.activeHoursUtc)],
      ['anomaly', `evidence ${b.anomalyEvidence.toFixed(2)}, ${b.anomalousOfLast16}/16 recent events anomalous`],
    ]),
  );
  if (v.recentReasons.length) {
    out.push('recent reasons');
    for (const r of v.recentReasons) out.push(`  ${timeText(r.ts)}  seq ${String(r.seq).padEnd(6)} ${r.reasons.map((x) => x.code).join(', ')}`);
  }
  if (v.movers.length) {
    out.push('events that moved its trust most');
    for (const m of v.movers) {
      const req = m.request ? `  ${m.request.method} ${m.request.route} ${m.request.status} ${m.request.network}` : '';
      out.push(
        `  ${timeText(m.ts)}  ${(m.delta >= 0 ? '+' : '') + m.delta.toFixed(3)} → ${m.trust.toFixed(3)} ${m.band.padEnd(8)} ${m.circuit.padEnd(9)} ${m.reasons.map((x) => x.code).join(', ') || '–'}${req}`,
      );
    }
  }
  for (const n of v.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}

/** `trustline agents` as a table. */
export function formatAgentList(rows: readonly AgentListRow[], total: number): string {
  const head = ['agent', 'trust', 'band', 'circuit', 'until', 'last seen', 'events', 'peer group'];
  const body = rows.map((r) => [
    r.tenant === 'default' ? r.agentId : `${r.tenant}/${r.agentId}`,
    r.trust.toFixed(3),
    r.band,
    r.circuit,
    r.circuitUntil === null ? '–' : timeText(r.circuitUntil),
    timeText(r.lastSeen),
    r.events === null ? '–' : String(r.events),
    r.peerGroup ?? '–',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), ...body.map(line), `${rows.length} of ${total} agents`].join('\n') + '\n';
}
