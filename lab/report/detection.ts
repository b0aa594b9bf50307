/**
 * The detection summary of `trustline replay --labels` (lab/eval) as report tables. Pure.
 */
import type { EvalSummary } from '../eval/evaluator.ts';
import { durationText, timeText } from '../../src/inspect/format.ts';
import type { Cell, DetectionTable } from './html.ts';

const pct = (x: number | null): string | null => (x === null ? null : `${(100 * x).toFixed(1)}%`);
/** A duration given in seconds, shown in h/min, sorted by its value. */
const dur = (seconds: number | null): Cell => (seconds === null ? null : { text: durationText(seconds * 1000), sort: seconds, title: `${seconds} s` });
/** An absolute event time, sorted by its value. */
const at = (ts: number | null): Cell => (ts === null ? null : { text: timeText(ts), sort: ts });

/**
 * Three tables: per scenario (detection rate, time to detect), per malicious agent (when and
 * why it was first flagged) and the benign agents that were flagged (false positives).
 */
export function detectionTables(s: EvalSummary): DetectionTable[] {
  const o = s.overall;
  const scenarios: DetectionTable = {
    title: 'Detection by scenario',
    headers: ['scenario', 'agents', 'detected', 'rate', 'time to detect, median', 'p90', 'median (events)', 'ROC-AUC', 'PR-AUC'],
    rows: Object.entries(s.perScenario).map(([name, g]) => [
      name,
      g.agents,
      g.detected,
      pct(g.detectionRate),
      dur(g.timeToDetectSeconds.median),
      dur(g.timeToDetectSeconds.p90),
      g.timeToDetectEvents.median,
      g.rocAuc,
      g.prAuc,
    ]),
    note:
      `${o.detected}/${o.agents} malicious agents detected (${pct(o.detectionRate) ?? '–'}); ${o.benignAgentsFlagged}/${o.benignAgents} benign agents flagged (${pct(o.falsePositiveRate) ?? '–'}). ` +
      `Detected = an event at or after the attack start in restrict/block or with an open circuit (definitions: ${s.definitions}).`,
  };
  const malicious = s.agents.filter((a) => a.malicious);
  const attacks: DetectionTable = {
    title: 'Malicious agents',
    headers: [
      'agent',
      'scenario',
      'detected',
      'attack started',
      'first flagged at',
      'after',
      'after (events)',
      'as',
      'reasons',
      'lowest trust',
      'circuit openings',
      'flagged before attack',
    ],
    rows: malicious.map((a) => {
      const d = a.firstDetection;
      const start = a.attackStartTs;
      return [
        { text: a.agentId, sort: a.agentId, id: true },
        a.scenario,
        a.detected,
        at(start),
        d && start !== null ? at(start + Math.round(d.secondsAfterStart * 1000)) : null,
        d ? dur(d.secondsAfterStart) : null,
        d ? d.eventsAfterStart : null,
        d
          ? d.circuit === 'open' || d.circuit === 'forced_open'
            ? `circuit ${d.circuit.replace('_', ' ')}${d.band === 'trusted' ? '' : ` + ${d.band}`}`
            : d.band
          : null,
        d ? d.reasons.map((r) => r.code).join(', ') || null : null,
        a.lowestTrust,
        a.circuitOpenings,
        a.flaggedBeforeAttack,
      ];
    }),
  };
  const flagged = s.agents.filter((a) => !a.malicious && a.flaggedEvents > 0);
  const fps: DetectionTable = {
    title: 'Benign agents flagged (false positives)',
    headers: ['agent', 'profile', 'events', 'flagged events', 'lowest trust', 'circuit openings'],
    rows: flagged.map((a) => [
      { text: a.agentId, sort: a.agentId, id: true },
      a.profile ?? a.scenario,
      a.events,
      a.flaggedEvents,
      a.lowestTrust,
      a.circuitOpenings,
    ]),
    ...(flagged.length ? {} : { note: 'None.' }),
  };
  return [scenarios, attacks, fps];
}
