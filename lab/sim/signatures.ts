/**
 * Measurable signature of each attack scenario, computed from one agent's events alone
 * (relative to the same agent's events before `attackStartTs`). The generator's tests
 * require every malicious agent to show its signature and every benign agent to show none,
 * so no scenario can silently degenerate into benign traffic.
 */
import type { AgentRequestEvent, Sensitivity } from '../../src/contract/schemas.ts';
import type { ScenarioName } from './types.ts';

/** Outcome of a signature check, with the measured figures. */
export interface SignatureResult {
  ok: boolean;
  detail: string;
}

const MIN = 60_000;
const RANK: Readonly<Record<Sensitivity, number>> = { low: 0, medium: 1, high: 2, critical: 3 };
const rank = (e: AgentRequestEvent) => (e.action?.sensitivity ? RANK[e.action.sensitivity] : -1);
const isSensitive = (e: AgentRequestEvent) => rank(e) >= RANK.high;
const isPayment = (e: AgentRequestEvent) => e.action?.name === 'payment.create';

function maxInWindow(events: readonly AgentRequestEvent[], windowMs: number, pred: (e: AgentRequestEvent) => boolean): number {
  const ts = events.filter(pred).map((e) => e.ts);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < ts.length; hi++) {
    while (ts[hi]! - ts[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

function perMinuteMax(events: readonly AgentRequestEvent[]): number {
  const m = new Map<number, number>();
  let max = 0;
  for (const e of events) {
    const k = Math.floor(e.ts / MIN);
    const c = (m.get(k) ?? 0) + 1;
    m.set(k, c);
    if (c > max) max = c;
  }
  return max;
}

function outOfScope(e: AgentRequestEvent): boolean {
  const req = e.action?.requiredScope;
  return req !== undefined && !(e.agent.auth.scopes ?? []).includes(req);
}

const ID_AT_END = /\/(\d+)(?:$|\?)/;

/**
 * Sequential-id measure on the id-bearing route where it is strongest: the number of
 * requests whose id is one of the last three ids on that route plus the dominant step.
 * Random reads of even a small catalogue almost never score; interleaved benign reads do
 * not hide an enumeration.
 */
export function sequentialIds(events: readonly AgentRequestEvent[]): { route: string; step: number; hits: number; total: number } {
  const byRoute = new Map<string, number[]>();
  for (const e of events) {
    if (e.request.status === 429) continue;
    const m = ID_AT_END.exec(e.request.path ?? '');
    if (!m) continue;
    const list = byRoute.get(e.request.route) ?? [];
    list.push(Number(m[1]));
    byRoute.set(e.request.route, list);
  }
  let best = { route: '', step: 0, hits: 0, total: 0 };
  for (const [route, ids] of byRoute) {
    const diffs = new Map<number, number>();
    for (let i = 1; i < ids.length; i++) {
      const dlt = ids[i]! - ids[i - 1]!;
      if (dlt !== 0) diffs.set(dlt, (diffs.get(dlt) ?? 0) + 1);
    }
    let step = 0;
    let stepCount = 0;
    for (const [dlt, c] of diffs) if (c > stepCount || (c === stepCount && Math.abs(dlt) < Math.abs(step))) [step, stepCount] = [dlt, c];
    if (step === 0) continue;
    let hits = 0;
    for (let i = 1; i < ids.length; i++) {
      const want = ids[i]! - step;
      if (ids[i - 1] === want || ids[i - 2] === want || ids[i - 3] === want) hits++;
    }
    if (hits > best.hits) best = { route, step, hits, total: ids.length };
  }
  return best;
}

/**
 * Check the signature of a scenario on one agent's events (sorted by ts).
 * `attackStartTs` splits the agent's traffic into before (baseline) and after.
 */
export function checkSignature(scenario: ScenarioName, events: readonly AgentRequestEvent[], attackStartTs: number): SignatureResult {
  const pre = events.filter((e) => e.ts < attackStartTs);
  const post = events.filter((e) => e.ts >= attackStartTs);
  switch (scenario) {
    case 'stolen_token': {
      const ips = new Set(pre.map((e) => e.request.ip));
      const asns = new Set(pre.map((e) => e.request.asn));
      const uas = new Set(pre.map((e) => e.agent.userAgent));
      const countries = new Set(pre.map((e) => e.request.country));
      const novel = post.filter((e) => !ips.has(e.request.ip) && !asns.has(e.request.asn) && !uas.has(e.agent.userAgent) && !countries.has(e.request.country));
      return { ok: pre.length > 0 && novel.length >= 5, detail: `${novel.length} events from a new ip, asn, country and user agent` };
    }
    case 'enumeration': {
      const s = sequentialIds(post);
      return {
        ok: s.hits >= 100 && s.hits >= 0.6 * s.total && Math.abs(s.step) <= 10,
        detail: `${s.hits}/${s.total} sequential ids (step ${s.step}) on ${s.route}`,
      };
    }
    case 'scope_probing': {
      const denied = post.filter((e) => e.request.status === 403).length;
      const oos = post.filter(outOfScope).length;
      const preOos = pre.filter(outOfScope).length;
      return { ok: denied >= 10 && oos >= 10 && preOos === 0, detail: `${denied} × 403, ${oos} out-of-scope actions after (${preOos} before)` };
    }
    case 'exfiltration': {
      const preMax = pre.reduce((m, e) => Math.max(m, e.request.bytesOut ?? 0), 0);
      const floor = Math.max(3 * preMax, 1_000_000);
      const big = post.filter((e) => (e.request.bytesOut ?? 0) > floor).length;
      return { ok: pre.length > 0 && big >= 3, detail: `${big} responses above max(3 × pre-attack max ${preMax} B, 1 MB)` };
    }
    case 'payment_velocity': {
      const before = maxInWindow(pre, 10 * MIN, isPayment);
      const after = maxInWindow(post, 10 * MIN, isPayment);
      const declined = post.filter((e) => isPayment(e) && e.request.status === 402).length;
      const tiny = post.filter((e) => isPayment(e) && (e.action?.amount ?? Infinity) < (e.action?.currency === 'JPY' ? 400 : 3)).length;
      return {
        ok: after >= Math.max(10, 5 * before) && declined >= 3 && tiny >= 5,
        detail: `${after} payments in 10 min vs ${before} before, ${declined} declined, ${tiny} test amounts`,
      };
    }
    case 'prompt_injection_hijack': {
      const routes = new Set(pre.map((e) => e.request.route));
      const novel = post.filter((e) => !routes.has(e.request.route) && isSensitive(e));
      const novelCritical = novel.filter((e) => rank(e) === RANK.critical).length;
      const preMax = pre.reduce((m, e) => Math.max(m, rank(e)), -1);
      return {
        ok: pre.length > 0 && novel.length >= 3 && novelCritical >= 1 && preMax < RANK.critical,
        detail: `${novel.length} high/critical calls on new routes (${novelCritical} critical), pre-attack max rank ${preMax}`,
      };
    }
    case 'credential_stuffing': {
      const failed = post.filter((e) => e.request.status === 401);
      const users = new Set(failed.map((e) => e.agent.onBehalfOf)).size;
      const logins = post.filter((e) => e.action?.name === 'auth.login');
      const share = logins.length > 0 ? logins.filter((e) => e.request.status === 401).length / logins.length : 0;
      return {
        ok: failed.length >= 50 && users >= 30 && share >= 0.5,
        detail: `${failed.length} × 401 over ${users} distinct onBehalfOf, ${(share * 100).toFixed(0)}% of logins failed`,
      };
    }
    case 'low_and_slow': {
      const limit = perMinuteMax(pre);
      const peak = perMinuteMax(post);
      const share = (xs: readonly AgentRequestEvent[]) => (xs.length > 0 ? xs.filter(isSensitive).length / xs.length : 0);
      const half = attackStartTs + (post.length > 0 ? (post[post.length - 1]!.ts - attackStartTs) / 2 : 0);
      const late = post.filter((e) => e.ts >= half);
      const routes = new Set(pre.map((e) => e.request.route));
      const novelRoutes = new Set(post.filter((e) => !routes.has(e.request.route) && isSensitive(e)).map((e) => e.request.route)).size;
      const spanH = post.length > 0 ? (post[post.length - 1]!.ts - attackStartTs) / 3_600_000 : 0;
      return {
        ok: pre.length > 0 && peak <= limit && share(late) >= Math.max(0.25, share(pre) + 0.2) && novelRoutes >= 2 && spanH >= 2,
        detail: `per-minute peak ${peak} (limit ${limit}); sensitive share ${share(pre).toFixed(2)} → ${share(late).toFixed(2)}; ${novelRoutes} new sensitive routes over ${spanH.toFixed(1)} h`,
      };
    }
  }
}
