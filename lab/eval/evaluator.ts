/**
 * Detection evaluation against labels: feed it every scored event of one or more labelled
 * streams, in per-agent event order, and it returns per-agent outcomes and the overall and
 * per-scenario figures. Every definition is in docs/evaluation.md; the code follows it.
 *
 * Pure and deterministic: no I/O, no clock. Memory is O(events) for the event-level ranking
 * metrics (one float and one byte per event) plus O(agents).
 */
import type { Band, CircuitState, Reason } from '../../src/contract/schemas.ts';
import type { Labels } from './labels.ts';
import { prAuc, quantile, rate, rocAuc, round } from './metrics.ts';

/** One scored event, as any detector (trustline or a baseline) reports it. */
export type EvalRow = {
  agentId: string;
  /** Event time, ms (as processed: clamped forward within an agent). */
  ts: number;
  /** The detector's event-level score, higher = more anomalous (ROC/PR ranking). */
  anomaly: number;
  trust: number;
  band: Band;
  /** Circuit state after this event. */
  circuit: CircuitState;
  /** The circuit (re-)opened on this event. */
  opened: boolean;
  reasons?: readonly Reason[];
};

/** The outcome for one labelled agent of one stream. */
export type AgentOutcome = {
  stream: string;
  agentId: string;
  malicious: boolean;
  /** Attack type for malicious agents, the benign profile otherwise. */
  scenario: string;
  profile: string | null;
  traits: string[];
  attackStartTs: number | null;
  events: number;
  /** Events at or after the attack start (malicious agents). */
  attackEvents: number;
  detected: boolean;
  firstDetection: {
    /** 1-based index of the detecting event among all of the agent's events. */
    eventIndex: number;
    /** 1-based index among the agent's events at or after the attack start (1 = the first attack event). */
    eventsAfterStart: number;
    /** Event time from the attack start to the detecting event, seconds. */
    secondsAfterStart: number;
    band: Band;
    circuit: CircuitState;
    trust: number;
    anomaly: number;
    reasons: Reason[];
  } | null;
  /** Events in restrict/block or with an open circuit (for benign agents: false positives). */
  flaggedEvents: number;
  /** Flagged before the attack start (malicious) or at all (benign). */
  flaggedBeforeAttack: boolean;
  lowestTrust: number;
  /** Times the circuit (re-)opened. */
  circuitOpenings: number;
};

export type Quantiles = { median: number | null; p90: number | null };

export type GroupFigures = {
  agents: number;
  detected: number;
  detectionRate: number | null;
  timeToDetectEvents: Quantiles;
  timeToDetectSeconds: Quantiles;
  attackEvents: number;
  /** Event-level ranking of this group's attack events against all benign events. */
  rocAuc: number | null;
  prAuc: number | null;
};

export type EvalSummary = {
  definitions: string;
  detector: string;
  streams: { name: string; agents: number; events: number; unlabelledAgents: number }[];
  overall: GroupFigures & {
    benignAgents: number;
    benignAgentsFlagged: number;
    /** Share of benign agents ever in restrict/block or with an open circuit. */
    falsePositiveRate: number | null;
    benignEvents: number;
    benignEventsFlagged: number;
    /** Share of benign agents' events in restrict/block or with an open circuit. */
    benignEventFlagRate: number | null;
    /** Negative events of the ranking metrics (benign agents' events + malicious agents' pre-attack events). */
    negativeEvents: number;
  };
  perScenario: Record<string, GroupFigures>;
  perBenignProfile: Record<string, { agents: number; flagged: number; falsePositiveRate: number | null }>;
  agents: AgentOutcome[];
};

/** A row counts as flagged when its band is restrict/block or its circuit is open. */
export function isFlagged(band: Band, circuit: CircuitState): boolean {
  return band === 'restrict' || band === 'block' || circuit === 'open' || circuit === 'forced_open';
}

type AgentAcc = AgentOutcome & { label: { attackStartTs: number | null } };

/** Growable parallel arrays of (score, class) for the ranking metrics. */
class Ranked {
  scores = new Float64Array(1024);
  group = new Int32Array(1024); // -1 negative, else scenario id
  n = 0;
  push(score: number, group: number): void {
    if (this.n === this.scores.length) {
      const s = new Float64Array(this.n * 2);
      s.set(this.scores);
      this.scores = s;
      const g = new Int32Array(this.n * 2);
      g.set(this.group);
      this.group = g;
    }
    this.scores[this.n] = score;
    this.group[this.n++] = group;
  }
}

/**
 * Accumulates labelled streams. Call {@link beginStream} before each stream's rows; rows of an
 * agent must arrive in the order the detector processed them.
 */
export class DetectionEvaluator {
  private readonly agents: AgentAcc[] = [];
  private current = new Map<string, AgentAcc>();
  private labels: Labels | null = null;
  private streamName = '';
  private readonly streams: EvalSummary['streams'] = [];
  private readonly ranked = new Ranked();
  private readonly scenarioIds = new Map<string, number>();

  constructor(readonly detector = 'trustline') {}

  /** Starts a new stream (agents are per stream: the same id in two streams is two agents). */
  beginStream(name: string, labels: Labels): void {
    this.labels = labels;
    this.streamName = name;
    this.current = new Map();
    this.streams.push({ name, agents: 0, events: 0, unlabelledAgents: 0 });
  }

  add(row: EvalRow): void {
    const stream = this.streams[this.streams.length - 1];
    if (!this.labels || !stream) throw new Error('DetectionEvaluator.add before beginStream');
    stream.events++;
    let a = this.current.get(row.agentId);
    if (!a) {
      const label = this.labels.agents[row.agentId];
      if (!label) {
        stream.unlabelledAgents++;
        this.current.set(row.agentId, (a = this.unlabelled(row.agentId)));
      } else {
        stream.agents++;
        const attackStartTs = label.malicious ? label.attackStartTs : null;
        a = newAgentAcc(this.streamName, row.agentId, {
          malicious: label.malicious,
          scenario: label.scenario,
          profile: label.profile ?? null,
          traits: label.traits ?? [],
          attackStartTs,
        });
        this.current.set(row.agentId, a);
        this.agents.push(a);
      }
    }
    if (a.stream === '') return; // unlabelled: not evaluated
    a.events++;
    if (row.trust < a.lowestTrust) a.lowestTrust = row.trust;
    if (row.opened) a.circuitOpenings++;
    const flagged = isFlagged(row.band, row.circuit);
    if (flagged) a.flaggedEvents++;
    const start = a.attackStartTs;
    const inAttack = start !== null && row.ts >= start;
    if (inAttack) {
      a.attackEvents++;
      if (flagged && !a.detected) {
        a.detected = true;
        a.firstDetection = {
          eventIndex: a.events,
          eventsAfterStart: a.attackEvents,
          secondsAfterStart: Math.round(row.ts - start) / 1000,
          band: row.band,
          circuit: row.circuit,
          trust: row.trust,
          anomaly: row.anomaly,
          reasons: row.reasons ? [...row.reasons] : [],
        };
      }
      this.ranked.push(row.anomaly, this.scenarioId(a.scenario));
    } else {
      if (flagged) a.flaggedBeforeAttack = true;
      this.ranked.push(row.anomaly, -1);
    }
  }

  private unlabelled(agentId: string): AgentAcc {
    return newAgentAcc('', agentId, { malicious: false, scenario: '', profile: null, traits: [], attackStartTs: null });
  }

  private scenarioId(s: string): number {
    let id = this.scenarioIds.get(s);
    if (id === undefined) this.scenarioIds.set(s, (id = this.scenarioIds.size));
    return id;
  }

  /**
   * The figures so far (can be called more than once). `ranking: false` skips the ROC/PR-AUC
   * (reported as null), which do not depend on the trust policy and dominate the cost.
   */
  summary(options: { ranking?: boolean } = {}): EvalSummary {
    const ranking = options.ranking ?? true;
    const outcomes: AgentOutcome[] = this.agents.map(({ label: _label, ...o }) => ({ ...o, lowestTrust: round(o.lowestTrust) ?? 0 }));
    const malicious = outcomes.filter((a) => a.malicious);
    const benign = outcomes.filter((a) => !a.malicious);
    const { scores, group, n } = this.ranked;
    const s = scores.subarray(0, n);
    const g = group.subarray(0, n);

    const figures = (agents: AgentOutcome[], scenario: number | null): GroupFigures => {
      const detected = agents.filter((a) => a.detected);
      const ev = detected.map((a) => a.firstDetection!.eventsAfterStart);
      const sec = detected.map((a) => a.firstDetection!.secondsAfterStart);
      // Ranking: this group's attack events (all attack events when scenario is null) vs every negative.
      let ranked: { s: Float64Array; p: Uint8Array };
      if (!ranking) {
        ranked = { s: new Float64Array(0), p: new Uint8Array(0) };
      } else if (scenario === null) {
        const p = new Uint8Array(n);
        for (let i = 0; i < n; i++) p[i] = g[i]! >= 0 ? 1 : 0;
        ranked = { s, p };
      } else {
        let m = 0;
        for (let i = 0; i < n; i++) if (g[i] === -1 || g[i] === scenario) m++;
        const ss = new Float64Array(m);
        const p = new Uint8Array(m);
        for (let i = 0, k = 0; i < n; i++) {
          if (g[i] === -1 || g[i] === scenario) {
            ss[k] = s[i]!;
            p[k++] = g[i] === scenario ? 1 : 0;
          }
        }
        ranked = { s: ss, p };
      }
      return {
        agents: agents.length,
        detected: detected.length,
        detectionRate: round(rate(detected.length, agents.length)),
        timeToDetectEvents: { median: round(quantile(ev, 0.5), 2), p90: round(quantile(ev, 0.9), 2) },
        timeToDetectSeconds: { median: round(quantile(sec, 0.5), 1), p90: round(quantile(sec, 0.9), 1) },
        attackEvents: agents.reduce((x, a) => x + a.attackEvents, 0),
        rocAuc: round(rocAuc(ranked.s, ranked.p)),
        prAuc: round(prAuc(ranked.s, ranked.p)),
      };
    };

    const perScenario: EvalSummary['perScenario'] = {};
    for (const name of [...new Set(malicious.map((a) => a.scenario))].sort()) {
      perScenario[name] = figures(
        malicious.filter((a) => a.scenario === name),
        this.scenarioIds.get(name) ?? -2,
      );
    }
    const { perBenignProfile, benignFlagged, benignEvents, benignEventsFlagged } = benignFigures(benign);
    let negatives = 0;
    for (let i = 0; i < n; i++) if (g[i] === -1) negatives++;
    return {
      definitions: 'docs/evaluation.md',
      detector: this.detector,
      streams: this.streams.map((x) => ({ ...x })),
      overall: {
        ...figures(malicious, null),
        benignAgents: benign.length,
        benignAgentsFlagged: benignFlagged,
        falsePositiveRate: round(rate(benignFlagged, benign.length)),
        benignEvents,
        benignEventsFlagged,
        benignEventFlagRate: round(rate(benignEventsFlagged, benignEvents), 6),
        negativeEvents: negatives,
      },
      perScenario,
      perBenignProfile,
      agents: outcomes,
    };
  }
}

/**
 * The figures of {@link DetectionEvaluator.summary} recomputed from per-agent outcomes alone
 * (ranking metrics null): used to re-rank policies on a subset of agents (leave-one-kind-out
 * tuning, lab/eval/robustness.ts) without judging the events again.
 */
export function summarizeOutcomes(outcomes: readonly AgentOutcome[], detector = 'trustline'): EvalSummary {
  const malicious = outcomes.filter((a) => a.malicious);
  const benign = outcomes.filter((a) => !a.malicious);
  const figures = (agents: AgentOutcome[]): GroupFigures => {
    const detected = agents.filter((a) => a.detected);
    const ev = detected.map((a) => a.firstDetection!.eventsAfterStart);
    const sec = detected.map((a) => a.firstDetection!.secondsAfterStart);
    return {
      agents: agents.length,
      detected: detected.length,
      detectionRate: round(rate(detected.length, agents.length)),
      timeToDetectEvents: { median: round(quantile(ev, 0.5), 2), p90: round(quantile(ev, 0.9), 2) },
      timeToDetectSeconds: { median: round(quantile(sec, 0.5), 1), p90: round(quantile(sec, 0.9), 1) },
      attackEvents: agents.reduce((x, a) => x + a.attackEvents, 0),
      rocAuc: null,
      prAuc: null,
    };
  };
  const perScenario: EvalSummary['perScenario'] = {};
  for (const name of [...new Set(malicious.map((a) => a.scenario))].sort()) perScenario[name] = figures(malicious.filter((a) => a.scenario === name));
  const { perBenignProfile, benignFlagged, benignEvents, benignEventsFlagged } = benignFigures(benign);
  return {
    definitions: 'docs/evaluation.md',
    detector,
    streams: [],
    overall: {
      ...figures(malicious),
      benignAgents: benign.length,
      benignAgentsFlagged: benignFlagged,
      falsePositiveRate: round(rate(benignFlagged, benign.length)),
      benignEvents,
      benignEventsFlagged,
      benignEventFlagRate: round(rate(benignEventsFlagged, benignEvents), 6),
      negativeEvents: 0,
    },
    perScenario,
    perBenignProfile,
    agents: [...outcomes],
  };
}

/** False-positive figures of the benign agents: per profile, agents flagged, events and events flagged. */
function benignFigures(benign: readonly { profile: string | null; scenario: string; flaggedEvents: number; events: number }[]): {
  perBenignProfile: EvalSummary['perBenignProfile'];
  benignFlagged: number;
  benignEvents: number;
  benignEventsFlagged: number;
} {
  const perBenignProfile: EvalSummary['perBenignProfile'] = {};
  for (const name of [...new Set(benign.map((a) => a.profile ?? a.scenario))].sort()) {
    const agents = benign.filter((a) => (a.profile ?? a.scenario) === name);
    const flagged = agents.filter((a) => a.flaggedEvents > 0).length;
    perBenignProfile[name] = { agents: agents.length, flagged, falsePositiveRate: round(rate(flagged, agents.length)) };
  }
  return {
    perBenignProfile,
    benignFlagged: benign.filter((a) => a.flaggedEvents > 0).length,
    benignEvents: benign.reduce((x, a) => x + a.events, 0),
    benignEventsFlagged: benign.reduce((x, a) => x + a.flaggedEvents, 0),
  };
}

/** A fresh per-agent accumulator (an empty stream name marks an unlabelled agent, which is not evaluated). */
function newAgentAcc(
  stream: string,
  agentId: string,
  l: { malicious: boolean; scenario: string; profile: string | null; traits: string[]; attackStartTs: number | null },
): AgentAcc {
  return {
    stream,
    agentId,
    ...l,
    events: 0,
    attackEvents: 0,
    detected: false,
    firstDetection: null,
    flaggedEvents: 0,
    flaggedBeforeAttack: false,
    lowestTrust: 1,
    circuitOpenings: 0,
    label: { attackStartTs: l.attackStartTs },
  };
}
