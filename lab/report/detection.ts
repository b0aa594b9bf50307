/**
 * The detection summary of `trustline replay --labels` (lab/eval) as report tables. Pure.
 */
import type { EvalSummary } from '../eval/evaluator.ts';
import type { DetectionTable } from './html.ts';

const pct = (x: number | null): string | null => (x === null ? null : `${(100 * x).toFixed(1)}%`);

/**
 * Three tables: per scenario (detection rate, time to detect), per malicious agent (when and
 * why it was first flagged) and the benign agents that were flagged (false positives).
 */
export function detectionTables(s: EvalSummary): DetectionTable[] {
  const o = s.overall;
  const scenarios: DetectionTable = {
    title: 'Detection by scenario',
    headers: ['scenario', 'agents', 'detected', 'rate', 'time to detect, median (s)', 'p90 (s)', 'median (events)', 'ROC-AUC', 'PR-AUC'],
    rows: Object.entries(s.perScenario).map(([name, g]) => [name, g.agents, g.detected, pct(g.detectionRate), g.timeToDetectSeconds.median, g.timeToDetectSeconds.p90, g.timeToDetectEvents.median, g.rocAuc, g.prAuc]),
    note:
      `${o.detected}/${o.agents} malicious agents detected (${pct(o.detectionRate) ?? '–'}); ${o.benignAgentsFlagged}/${o.benignAgents} benign agents flagged (${pct(o.falsePositiveRate) ?? '–'}). ` +
      `Detected = an event at or after the attack start in restrict/block or with an open circuit (definitions: ${s.definitions}).`,
  };
  const malicious = s.agents.filter((a) => a.malicious);
  const attacks: DetectionTable = {
    title: 'Malicious agents',
    headers: ['agent', 'scenario', 'detected', 'after (s)', 'after (events)', 'as', 'reasons', 'lowest trust', 'circuit openings', 'flagged before attack'],
    rows: malicious.map((a) => {
      const d = a.firstDetection;
      return [a.agentId, a.scenario, a.detected, d ? d.secondsAfterStart : null, d ? d.eventsAfterStart : null, d ? `${d.band}, circuit ${d.circuit}` : null, d ? d.reasons.map((r) => r.code).join(', ') || null : null, a.lowestTrust, a.circuitOpenings, a.flaggedBeforeAttack];
    }),
  };
  const flagged = s.agents.filter((a) => !a.malicious && a.flaggedEvents > 0);
  const fps: DetectionTable = {
    title: 'Benign agents flagged (false positives)',
    headers: ['agent', 'profile', 'events', 'flagged events', 'lowest trust', 'circuit openings'],
    rows: flagged.map((a) => [a.agentId, a.profile ?? a.scenario, a.events, a.flaggedEvents, a.lowestTrust, a.circuitOpenings]),
    ...(flagged.length ? {} : { note: 'None.' }),
  };
  return [scenarios, attacks, fps];
}
