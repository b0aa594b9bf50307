/**
 * Consistency checks of a fixture set against its labels: ordering, unique event ids,
 * labels for every agent, attack starts inside the agent's traffic and after its benign
 * history, benign traffic inside granted scopes, every attack showing its signature and no
 * benign agent showing any.
 */
import { decodeEvent } from '../../src/contract/decode.ts';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import type { GeneratedSet } from './generate.ts';
import { checkSignature } from './signatures.ts';
import { SCENARIO_NAMES, type LabelsFile, type ScenarioName } from './types.ts';

/** Options of {@link verifySet}. */
export interface VerifyOptions {
  /** minimum number of an agent's events before its attack (not for new-agent attacks) */
  minPreAttackEvents: number;
}

/** Events of a set grouped by agent id, each list in stream order. */
export function groupByAgent(events: Iterable<AgentRequestEvent>): Map<string, AgentRequestEvent[]> {
  const out = new Map<string, AgentRequestEvent[]>();
  for (const e of events) {
    let list = out.get(e.agent.id);
    if (!list) out.set(e.agent.id, (list = []));
    list.push(e);
  }
  return out;
}

/** All problems found in a set (empty when the set is consistent). */
export function verifySet(events: readonly AgentRequestEvent[], labels: LabelsFile, opts: VerifyOptions): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  let lastTs = -Infinity;
  for (const e of events) {
    if (ids.has(e.eventId)) problems.push(`duplicate eventId ${e.eventId}`);
    ids.add(e.eventId);
    if (e.ts < lastTs) problems.push(`event ${e.eventId} out of ts order`);
    lastTs = e.ts;
  }
  const byAgent = groupByAgent(events);
  for (const id of byAgent.keys()) if (!labels.agents[id]) problems.push(`agent ${id} has no label`);
  for (const [id, label] of Object.entries(labels.agents)) {
    const evs = byAgent.get(id);
    if (!evs) {
      problems.push(`label ${id} has no events`);
      continue;
    }
    const grantedAnyway = evs.filter(
      (e) => e.request.status < 300 && e.action?.requiredScope !== undefined && !(e.agent.auth.scopes ?? []).includes(e.action.requiredScope),
    );
    if (grantedAnyway.length > 0) problems.push(`agent ${id}: ${grantedAnyway.length} successful actions outside granted scopes`);
    const tenants = new Set(evs.map((e) => e.tenant ?? 'default'));
    if (tenants.size !== 1 || !tenants.has(label.tenant)) problems.push(`agent ${id}: tenant ${[...tenants].join(',')} ≠ label ${label.tenant}`);
    if (new Set(evs.map((e) => e.agent.purpose)).size !== 1) problems.push(`agent ${id}: purpose not stable`);
    if (!label.malicious) {
      if (label.attackStartTs !== null) problems.push(`benign ${id} has attackStartTs`);
      if (label.scenario !== label.profile) problems.push(`benign ${id}: scenario ${label.scenario} ≠ profile ${label.profile}`);
      const oos = evs.filter((e) => e.action?.requiredScope !== undefined && !(e.agent.auth.scopes ?? []).includes(e.action.requiredScope));
      if (oos.length > 0) problems.push(`benign ${id}: ${oos.length} actions outside granted scopes`);
      const mid = evs[Math.floor(evs.length / 2)]!.ts;
      // Benign agents with as much history as an attack host must not show any signature.
      if (evs.length >= 2 * opts.minPreAttackEvents) {
        for (const s of SCENARIO_NAMES) {
          const r = checkSignature(s, evs, mid);
          if (r.ok) problems.push(`benign ${id} (${label.profile}) shows the ${s} signature: ${r.detail}`);
        }
      }
      continue;
    }
    if (!(SCENARIO_NAMES as readonly string[]).includes(label.scenario)) {
      problems.push(`agent ${id}: unknown scenario ${label.scenario}`);
      continue;
    }
    const start = label.attackStartTs;
    if (start === null) {
      problems.push(`malicious ${id} has no attackStartTs`);
      continue;
    }
    if (!evs.some((e) => e.ts === start)) problems.push(`malicious ${id}: no event at attackStartTs ${start}`);
    if (start < evs[0]!.ts || start > evs[evs.length - 1]!.ts) problems.push(`malicious ${id}: attackStartTs outside its events`);
    const pre = evs.filter((e) => e.ts < start);
    const newAgent = label.traits.includes('new_agent');
    if (newAgent && pre.length > 0) problems.push(`new-agent attack ${id} has events before its start`);
    if (!newAgent && pre.length < opts.minPreAttackEvents) problems.push(`malicious ${id}: only ${pre.length} events before the attack`);
    const preOos = pre.filter((e) => e.action?.requiredScope !== undefined && !(e.agent.auth.scopes ?? []).includes(e.action.requiredScope));
    if (preOos.length > 0) problems.push(`malicious ${id}: ${preOos.length} out-of-scope actions before the attack`);
    const r = checkSignature(label.scenario as ScenarioName, evs, start);
    if (!r.ok) problems.push(`malicious ${id} (${label.scenario}, ${label.traits.join(' ')}) lacks its signature: ${r.detail}`);
  }
  return problems;
}

/** Decode every line of a generated set with the contract decoder, then {@link verifySet}. */
export function verifyGenerated(g: GeneratedSet): string[] {
  const events: AgentRequestEvent[] = [];
  const problems: string[] = [];
  for (const line of g.jsonl.toString('utf8').split('\n')) {
    if (line === '') continue;
    const r = decodeEvent(line);
    if (r.ok) events.push(r.event);
    else problems.push(`undecodable event (${r.code} ${r.path}): ${r.message}`);
  }
  return [...problems.slice(0, 10), ...verifySet(events, g.labels, { minPreAttackEvents: g.spec.minPreAttackEvents })];
}
