/**
 * Simulated agents: identity (id, auth, token lifecycle, network, user agent), the
 * session context that profiles and scenarios use to issue requests (with legitimate
 * errors and retries), session scheduling over event time, and the identity pass that
 * turns raw requests into fully resolved events.
 */
import type { AuthMethod } from '../../src/contract/schemas.ts';
import type { Deployment } from './deployment.ts';
import { intensity, localHour, maxIntensity, type DiurnalShape } from './diurnal.ts';
import { COUNTRY_TZ, HOME_COUNTRIES, netAt, pickBlock, type NetBlock, type NetKind } from './network.ts';
import type { Rng } from './prng.ts';
import type { ActionSpec, Actor, ProfileName, RawEvent, ReqSpec, SimEvent } from './types.ts';

/** When sessions of an agent start. */
export type Schedule = { kind: 'poisson'; perDay: readonly [number, number] } | { kind: 'periodic'; periodMin: readonly [number, number]; gated: boolean };

/** Static description of a benign behaviour profile. */
export interface ProfileMeta {
  name: ProfileName;
  auth: readonly (readonly [AuthMethod, number])[];
  net: readonly (readonly [NetKind, number])[];
  diurnal: DiurnalShape;
  schedule: Schedule;
  userAgents: readonly string[];
  /** scopes always granted, and optional extra (over-privileged, unused) scopes */
  scopes: (d: Deployment) => { base: string[]; extra: string[] };
}

/** A profile, with its per-agent parameters hidden behind `create`. */
export interface Profile extends ProfileMeta {
  /** Draws the agent's parameters and returns its session body. */
  create(ctx: SessionCtx): (t0: number) => void;
}

/** Definition of a profile with typed per-agent parameters. */
export interface ProfileDef<P> extends ProfileMeta {
  init(ctx: SessionCtx): P;
  session(ctx: SessionCtx, p: P, t0: number): void;
}

/** Close a typed profile definition over its parameters. */
export function defineProfile<P>(def: ProfileDef<P>): Profile {
  const { init, session, ...meta } = def;
  return {
    ...meta,
    create(ctx: SessionCtx) {
      const p = init(ctx);
      return (t0: number) => session(ctx, p, t0);
    },
  };
}

/** OAuth token lifecycle of an agent. */
export type TokenPolicy = { kind: 'oauth2'; lifetimeS: number; lazy: boolean } | { kind: 'api_key'; keyAgeS: number; report: boolean } | { kind: 'none' };

/** A simulated agent. */
export interface Agent {
  index: number;
  id: string;
  tenant: string;
  /** the gateway omits `tenant` for this agent (contract default "default") */
  omitTenant: boolean;
  purpose: string;
  profile: Profile;
  d: Deployment;
  rng: Rng;
  authMethod: AuthMethod;
  scopes: string[] | undefined;
  token: TokenPolicy;
  userAgent: string;
  /** user-agent changes (version bumps) at event times */
  uaChanges: { ts: number; ua: string }[];
  home: NetBlock;
  /** network changes at event times */
  netChanges: { ts: number; block: NetBlock }[];
  /** host numbers the agent's addresses are drawn from */
  ipHosts: number[];
  tz: number;
  startTs: number;
  /** benign activity multiplier (host agents of attacks may be more active) */
  activity: number;
  retryStyle: 'polite' | 'storm';
  p429: number;
  p5xx: number;
  traits: string[];
  /** identity used by attacker events of a stolen-token scenario */
  thief?: Thief;
}

/** Identity of whoever replays a stolen credential. */
export interface Thief {
  block: NetBlock;
  ipHosts: number[];
  userAgent: string;
  /** token issue time at theft (oauth2) */
  stolenIssuedAt: number;
  refreshes: boolean;
}

/** Population-level events of a set: outages and sales. */
export interface World {
  startTs: number;
  endTs: number;
  intensity: number;
  outages: { tenant: string; from: number; to: number; p: number }[];
  sales: { from: number; to: number; mult: number; profiles: ProfileName[] }[];
}

/** What a caller asks for; the context adds errors, retries, latency noise. */
export interface CallSpec {
  method: string;
  route: string;
  path?: string;
  /** median latency, ms */
  latency: number;
  bytesOut: number;
  bytesIn?: number;
  status?: number;
  action?: ActionSpec;
  onBehalfOf?: string;
  /** no random errors or retries (scenario traffic that sets its own statuses) */
  exact?: boolean;
}

const SMALL_ERROR_BYTES = [120, 480] as const;

/** Issues requests of one actor into a sink, with realistic errors and retries. */
export class SessionCtx {
  constructor(
    readonly agent: Agent,
    readonly world: World,
    readonly rng: Rng,
    private readonly sink: RawEvent[],
    readonly actor: Actor = 'agent',
  ) {}

  get d(): Deployment {
    return this.agent.d;
  }

  /** A think time in ms: log-normal around a median in seconds. */
  think(medianS: number, sigma = 0.7): number {
    return Math.max(40, Math.round(this.rng.lognormal(medianS * 1000, sigma)));
  }

  /** Emit one request exactly as given (status included). */
  emit(ts: number, spec: CallSpec): void {
    const req: ReqSpec = {
      method: spec.method,
      route: spec.route,
      ...(spec.path !== undefined ? { path: spec.path } : {}),
      status: spec.status ?? 200,
      latencyMs: Math.max(1, Math.round(spec.exact ? spec.latency : this.rng.lognormal(spec.latency, 0.35))),
      bytesIn: Math.round(spec.bytesIn ?? 0),
      bytesOut: Math.round(spec.bytesOut),
      ...(spec.action ? { action: spec.action } : {}),
      ...(spec.onBehalfOf !== undefined ? { onBehalfOf: spec.onBehalfOf } : {}),
    };
    this.sink.push({ ts: Math.round(ts), actor: this.actor, req });
  }

  /**
   * Issue a request at `t`, with the agent's legitimate error rates, outages and retry
   * behaviour. Returns the event time at which the final response arrived.
   */
  call(t: number, spec: CallSpec): number {
    if (spec.exact) {
      this.emit(t, spec);
      return t + spec.latency;
    }
    const a = this.agent;
    let ts = t;
    const maxTries = a.retryStyle === 'storm' ? this.rng.int(6, 18) : this.rng.int(2, 4);
    let errStatus = this.initialError(ts);
    for (let attempt = 0; errStatus !== 0 && attempt < maxTries; attempt++) {
      const lat = errStatus === 504 ? this.rng.range(10_000, 30_000) : errStatus === 429 ? this.rng.range(3, 25) : this.rng.range(20, 900);
      this.emit(ts, { ...spec, status: errStatus, latency: lat, exact: true, bytesOut: this.rng.range(...SMALL_ERROR_BYTES) });
      ts += lat;
      const retry = errStatus === 429 || errStatus >= 500;
      if (!retry) return ts;
      ts += a.retryStyle === 'storm' ? this.rng.range(40, 350) : this.rng.range(600, 1600) * 2 ** attempt;
      errStatus = this.persistingError(ts, errStatus);
    }
    const lat = Math.max(1, this.rng.lognormal(spec.latency, 0.35));
    this.emit(ts, { ...spec, latency: lat, exact: true });
    return ts + lat;
  }

  private outageP(ts: number): number {
    for (const o of this.world.outages) if (o.tenant === this.agent.tenant && ts >= o.from && ts < o.to) return o.p;
    return 0;
  }

  private initialError(ts: number): number {
    const p = this.outageP(ts);
    if (p > 0 && this.rng.chance(p))
      return this.rng.weighted([
        [503, 6],
        [502, 2],
        [504, 1],
      ]);
    if (this.rng.chance(this.agent.p429)) return 429;
    if (this.rng.chance(this.agent.p5xx))
      return this.rng.weighted([
        [500, 3],
        [502, 2],
        [503, 3],
        [504, 1],
      ]);
    return 0;
  }

  private persistingError(ts: number, prev: number): number {
    const p = this.outageP(ts);
    if (p > 0 && this.rng.chance(p)) return prev >= 500 ? prev : 503;
    if (prev === 429 && this.rng.chance(0.35)) return 429;
    if (prev >= 500 && this.rng.chance(0.2)) return prev;
    return 0;
  }
}

/** Start times of the agent's sessions in [agent.startTs, world.endTs). */
export function sessionStarts(agent: Agent, world: World, rng: Rng): number[] {
  const out: number[] = [];
  const s = agent.profile.schedule;
  const shape = agent.profile.diurnal;
  if (s.kind === 'poisson') {
    const perDay = rng.range(s.perDay[0], s.perDay[1]) * agent.activity * world.intensity;
    let saleMax = 1;
    for (const sale of world.sales) if (sale.profiles.includes(agent.profile.name)) saleMax = Math.max(saleMax, sale.mult);
    const perMs = perDay / 86_400_000;
    const lambdaMax = perMs * maxIntensity(shape) * saleMax;
    let t = agent.startTs;
    for (;;) {
      t += rng.exp(1 / lambdaMax);
      if (t >= world.endTs) break;
      let mult = 1;
      for (const sale of world.sales) if (t >= sale.from && t < sale.to && sale.profiles.includes(agent.profile.name)) mult = sale.mult;
      const lambda = perMs * intensity(shape, localHour(t, agent.tz)) * mult;
      if (rng.float() * lambdaMax < lambda) out.push(Math.round(t));
    }
    return out;
  }
  const period = (rng.range(s.periodMin[0], s.periodMin[1]) * 60_000) / Math.max(1, world.intensity * agent.activity);
  const jitter = rng.range(200, 4000);
  const maxI = maxIntensity(shape);
  let t = agent.startTs + rng.range(0, period);
  for (; t < world.endTs; t += period) {
    const at = t + rng.normal(0, jitter / 2);
    if (s.gated && rng.float() * maxI > intensity(shape, localHour(at, agent.tz))) continue;
    if (at >= agent.startTs) out.push(Math.round(at));
  }
  return out;
}

/** Options when creating an agent. */
export interface AgentOptions {
  index: number;
  tenant: string;
  omitTenant: boolean;
  startTs: number;
  activity: number;
  worldStart: number;
  worldEnd: number;
  /** allow benign hard-case traits (network change, UA bump, storms, lazy refresh) */
  hardCases: boolean;
}

function version(rng: Rng): string {
  return `${rng.int(1, 5)}.${rng.int(0, 24)}.${rng.int(0, 12)}`;
}

function bumpVersion(ua: string, rng: Rng): string {
  return ua.replace(/(\d+)\.(\d+)\.(\d+)/, (_m, a: string, b: string) => (rng.chance(0.3) ? `${Number(a) + 1}.0.0` : `${a}.${Number(b) + 1}.${rng.int(0, 3)}`));
}

function agentId(rng: Rng, method: AuthMethod, tenant: string, purpose: string): string {
  switch (method) {
    case 'http_signature':
      return rng.chance(0.5) ? `https://agents.${rng.pick(['example', 'vendor', 'ai'])}.test/keys/${purpose}-${rng.hex(10)}` : `kid-${rng.hex(24)}`;
    case 'mtls':
      return rng.chance(0.5)
        ? `spiffe://${tenant}.corp.test/ns/${rng.pick(['prod', 'agents', 'automation'])}/sa/${purpose}-${rng.hex(6)}`
        : `x509:sha256:${rng.hex(64)}`;
    case 'oauth2':
      return rng.chance(0.5) ? `client_${rng.chars(22, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}` : rng.uuid();
    case 'api_key':
      return `key_${rng.hex(20)}`;
    case 'none':
      return `anon-${rng.hex(16)}`;
  }
}

/** Create an agent of a profile; all randomness comes from `rng`. */
export function createAgent(profile: Profile, d: Deployment, rng: Rng, o: AgentOptions): Agent {
  const authMethod = rng.weighted(profile.auth);
  const netKind = rng.weighted(profile.net);
  const homeCountry = rng.weighted(netKind === 'cloud' ? HOME_COUNTRIES.filter(([c]) => !['BR', 'IN'].includes(c)) : HOME_COUNTRIES);
  const home = pickBlock(rng, netKind, { country: homeCountry, v6Chance: 0.1 });
  const purpose = d.purposes[profile.name];
  const traits: string[] = [];
  let scopes: string[] | undefined;
  if (authMethod !== 'none') {
    const { base, extra } = profile.scopes(d);
    scopes = [...base, ...extra.filter(() => rng.chance(0.3))];
    if (scopes.length === 0) scopes = undefined;
    else if (scopes.length > base.length) traits.push('unused_scopes');
  }
  let token: TokenPolicy = { kind: 'none' };
  if (authMethod === 'oauth2') {
    const lazy = o.hardCases && rng.chance(0.3);
    token = { kind: 'oauth2', lifetimeS: rng.pick([900, 1800, 3600, 3600, 7200]), lazy };
    traits.push(lazy ? 'token_expiry_401' : 'token_refresh');
  } else if (authMethod === 'api_key') {
    token = { kind: 'api_key', keyAgeS: rng.int(2, 500) * 86_400 + rng.int(0, 86_399), report: rng.chance(0.7) };
  }
  const userAgent = rng.pick(profile.userAgents).replace('{v}', version(rng));
  const uaChanges: { ts: number; ua: string }[] = [];
  const span = o.worldEnd - Math.max(o.startTs, o.worldStart);
  if (o.hardCases && rng.chance(0.1)) {
    uaChanges.push({ ts: Math.round(o.startTs + rng.range(0.2, 0.9) * span), ua: bumpVersion(userAgent, rng) });
    traits.push('ua_version_bump');
  }
  const netChanges: { ts: number; block: NetBlock }[] = [];
  const mobileCapable = netKind === 'mobile' || netKind === 'residential';
  if (o.hardCases && mobileCapable && rng.chance(0.6)) {
    // Roaming between a mobile carrier and a home ISP: new ip and asn, same country, same UA.
    const other = pickBlock(rng, netKind === 'mobile' ? 'residential' : 'mobile', { country: home.country, notAsn: home.asn });
    if (other.country === home.country) {
      const n = rng.int(1, 6);
      for (let i = 0; i < n; i++) netChanges.push({ ts: Math.round(o.startTs + rng.range(0.05, 0.95) * span), block: i % 2 === 0 ? other : home });
      netChanges.sort((x, y) => x.ts - y.ts);
      traits.push('network_change');
    }
  } else if (o.hardCases && netKind === 'cloud' && rng.chance(0.05)) {
    netChanges.push({ ts: Math.round(o.startTs + rng.range(0.2, 0.8) * span), block: pickBlock(rng, 'cloud', { country: home.country }) });
    traits.push('redeploy_new_network');
  }
  const nHosts = profile.name === 'search-crawler' ? rng.int(6, 30) : rng.int(1, 4);
  const ipHosts = Array.from({ length: nHosts }, () => rng.int(1, 65000));
  const retryStyle = o.hardCases && rng.chance(0.12) ? 'storm' : 'polite';
  if (retryStyle === 'storm') traits.push('retry_storm');
  if (o.startTs > o.worldStart) traits.push('cold_start');
  return {
    index: o.index,
    id: agentId(rng, authMethod, o.tenant, purpose),
    tenant: o.tenant,
    omitTenant: o.omitTenant,
    purpose,
    profile,
    d,
    rng,
    authMethod,
    scopes,
    token,
    userAgent,
    uaChanges,
    home,
    netChanges,
    ipHosts,
    tz: COUNTRY_TZ[home.country] ?? 0,
    startTs: o.startTs,
    activity: o.activity,
    retryStyle,
    p429: rng.range(0.001, 0.012),
    p5xx: rng.range(0.0005, 0.004),
    traits,
  };
}

function activeAt<T extends { ts: number }>(changes: readonly T[], ts: number): T | undefined {
  let cur: T | undefined;
  for (const c of changes) {
    if (c.ts <= ts) cur = c;
    else break;
  }
  return cur;
}

/**
 * Resolve identity fields of an agent's raw events (sorted by ts): token age with refresh
 * (or a 401 and retry when a lazy client lets its token expire), network, user agent.
 * Attacker events of a stolen-token scenario use the thief's identity.
 */
export function resolveIdentity(agent: Agent, raws: readonly RawEvent[], worldStart: number, rng: Rng): SimEvent[] {
  const out: SimEvent[] = [];
  const tok = agent.token;
  let issuedAt = Number.NaN;
  let refreshAtS = 0;
  let thiefIssuedAt = agent.thief?.stolenIssuedAt ?? 0;
  let thiefDead = false;
  let ipIdx = 0;
  let thiefIpIdx = 0;
  for (const raw of raws) {
    const t = raw.ts;
    const thief = raw.actor === 'attacker' ? agent.thief : undefined;
    let verified = agent.authMethod !== 'none';
    let tokenAgeS: number | undefined;
    let req = raw.req;
    if (tok.kind === 'oauth2') {
      if (thief) {
        let age = (t - thiefIssuedAt) / 1000;
        if (age > tok.lifetimeS) {
          if (thief.refreshes) {
            thiefIssuedAt = t - rng.range(50, 400);
            age = (t - thiefIssuedAt) / 1000;
          } else {
            thiefDead = true;
          }
        }
        if (thiefDead) {
          verified = false;
          req = { ...req, status: 401, bytesOut: rng.int(...SMALL_ERROR_BYTES), latencyMs: rng.int(3, 30) };
        }
        tokenAgeS = Math.floor(Math.max(0, age));
      } else {
        if (Number.isNaN(issuedAt)) {
          issuedAt = agent.startTs <= worldStart ? t - rng.range(0, tok.lifetimeS * 800) : t - rng.range(200, 3000);
          refreshAtS = tok.lifetimeS * rng.range(0.7, 0.92);
        }
        let age = (t - issuedAt) / 1000;
        if (tok.lazy && age > tok.lifetimeS) {
          out.push(
            build(agent, raw, t, false, Math.floor(age), { ...req, status: 401, bytesOut: rng.int(...SMALL_ERROR_BYTES), latencyMs: rng.int(3, 30) }, ipIdx),
          );
          const retryAt = t + rng.int(150, 700);
          issuedAt = retryAt - rng.int(40, 140);
          out.push(build(agent, raw, retryAt, true, Math.floor((retryAt - issuedAt) / 1000), req, ipIdx));
          continue;
        }
        if (!tok.lazy && age > refreshAtS) {
          issuedAt = t - rng.range(50, 500);
          refreshAtS = tok.lifetimeS * rng.range(0.7, 0.92);
          age = (t - issuedAt) / 1000;
        }
        tokenAgeS = Math.floor(Math.max(0, age));
      }
    } else if (tok.kind === 'api_key' && tok.report) {
      tokenAgeS = Math.floor(tok.keyAgeS + (t - worldStart) / 1000);
    }
    if (thief) {
      if (rng.chance(0.04)) thiefIpIdx = rng.int(0, thief.ipHosts.length - 1);
    } else if (rng.chance(agent.profile.name === 'search-crawler' ? 0.3 : 0.02)) {
      ipIdx = rng.int(0, agent.ipHosts.length - 1);
    }
    const ev = build(agent, raw, t, verified, tokenAgeS, req, ipIdx);
    if (thief) {
      const net = netAt(thief.block, thief.ipHosts[thiefIpIdx]!);
      ev.ip = net.ip;
      ev.asn = net.asn;
      ev.country = net.country;
      ev.userAgent = thief.userAgent;
    }
    out.push(ev);
  }
  return out;
}

function build(agent: Agent, raw: RawEvent, ts: number, verified: boolean, tokenAgeS: number | undefined, req: ReqSpec, ipIdx: number): SimEvent {
  const block = activeAt(agent.netChanges, ts)?.block ?? agent.home;
  const net = netAt(block, agent.ipHosts[ipIdx]!);
  const ua = activeAt(agent.uaChanges, ts)?.ua ?? agent.userAgent;
  return {
    ts,
    ...(agent.omitTenant ? {} : { tenant: agent.tenant }),
    agentId: agent.id,
    purpose: agent.purpose,
    authMethod: agent.authMethod,
    verified,
    ...(agent.scopes ? { scopes: agent.scopes } : {}),
    ...(tokenAgeS !== undefined ? { tokenAgeS } : {}),
    ...(req.onBehalfOf !== undefined ? { onBehalfOf: req.onBehalfOf } : {}),
    userAgent: ua,
    req,
    ip: net.ip,
    asn: net.asn,
    country: net.country,
    actor: raw.actor,
  };
}
