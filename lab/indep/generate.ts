/**
 * An independent traffic generator for robustness evaluation (docs/evaluation.md,
 * "Robustness"). Written from the wire contract only (src/contract/schemas.ts and the event
 * description in README.md), without lab/sim's profiles or scenarios, so the detector is
 * judged on behaviour nobody tuned it on. Seeded and deterministic: the same options give the
 * same events and labels, byte for byte.
 *
 * Benign kinds (7): procurement (purchasing agent, ~15 % order creation whose share swings
 * per session), trip-planner, helpdesk (support agent reading customer records), etl-sync
 * (nightly bursts of paginated reads), uptime-probe (health poller from several regions),
 * doc-reader (research/crawler-style reader), release-bot (CI/deploy, release-window bursts).
 * Shared realism: home and roaming networks, user agents, OAuth token refresh (and lazy
 * clients that hit a 401 first), 429/5xx with retries, 404s, cold starts, a sales spike and an
 * outage window.
 *
 * Attack kinds (10): token_theft, id_walk, permission_probe, bulk_export, card_testing,
 * and five kinds the committed fixtures do not contain: session_hijack (new network
 * mid-session, same user agent, same token), scope_creep (gradually widening use of granted
 * and then ungranted scopes), refund_abuse, slow_scrape (record scraping at human pace) and
 * born_login_flood (a new agent abusive from its very first request).
 *
 * Perturbation knobs (the robustness sweep): `rateScale` (session rates ×, gaps ÷),
 * `sensitiveScale` (share of high-sensitivity actions ×), `populationScale` (benign agents ×),
 * `networkNoise` (0 = default; 1 = much more roaming and network churn).
 */
import type { AgentRequestEvent, AuthMethod, Sensitivity } from '../../src/contract/schemas.ts';
import type { Labels } from '../eval/labels.ts';
import { Rng } from './rng.ts';

export type IndepOptions = {
  seed: number;
  /** Stream start, epoch ms (default 2026-03-02T00:00Z + seed-dependent hours). */
  startTs?: number;
  durationMin?: number;
  /** Benign agents before `populationScale` (default 66). */
  benignAgents?: number;
  /** Attack agents per attack kind (default 2). */
  attacksPerKind?: number;
  /** Restrict to these attack kinds (default all). */
  attackKinds?: readonly AttackKind[];
  /** Restrict to these benign kinds (default all). */
  benignKinds?: readonly BenignKind[];
  rateScale?: number;
  sensitiveScale?: number;
  populationScale?: number;
  networkNoise?: number;
};

export const BENIGN_KINDS = ['procurement', 'trip-planner', 'helpdesk', 'etl-sync', 'uptime-probe', 'doc-reader', 'release-bot'] as const;
export type BenignKind = (typeof BENIGN_KINDS)[number];
export const ATTACK_KINDS = [
  'token_theft',
  'id_walk',
  'permission_probe',
  'bulk_export',
  'card_testing',
  'session_hijack',
  'scope_creep',
  'refund_abuse',
  'slow_scrape',
  'born_login_flood',
] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];
/** Attack kinds with no counterpart in fixtures/. */
export const NOVEL_ATTACK_KINDS: readonly AttackKind[] = ['session_hijack', 'scope_creep', 'refund_abuse', 'slow_scrape', 'born_login_flood'];

/** Relative share of each benign kind in the population. */
const KIND_WEIGHT: Record<BenignKind, number> = {
  procurement: 14,
  'trip-planner': 9,
  helpdesk: 12,
  'etl-sync': 7,
  'uptime-probe': 6,
  'doc-reader': 8,
  'release-bot': 10,
};

type Net = { prefix: string; hosts: number; asn: number; country: string };

type Identity = {
  id: string;
  kind: BenignKind | 'new-agent';
  purpose: string;
  tenant?: string;
  method: AuthMethod;
  scopes: string[];
  ua: string;
  home: Net;
  roam: Net[];
  /** Local-time offset, hours. */
  tz: number;
  tokenLifeS: number;
  lazyToken: boolean;
  /** Probability that a session uses a roaming network. */
  roamP: number;
  rate429: number;
  rate5xx: number;
  currency: string;
};

type Action = { name: string; sensitivity?: Sensitivity; amount?: number; scope?: string };

type Req = {
  method: string;
  route: string;
  path?: string;
  /** Status unless an error is drawn (default 200, 201 for POST). */
  status?: number;
  latency?: number;
  bytesOut?: number;
  bytesIn?: number;
  action?: Action;
  onBehalfOf?: string;
  /** Chance of a 404 instead (reads of records). */
  notFoundP?: number;
  /** Network/user agent overrides (attacks). */
  net?: Net;
  ip?: string;
  ua?: string;
  /** No retry on transient errors (pollers). */
  noRetry?: boolean;
  /** No token handling and no injected errors (scripted attack steps). */
  raw?: boolean;
  verified?: boolean;
};

type Env = {
  seed: number;
  start: number;
  end: number;
  prefix: string;
  rateScale: number;
  sensitiveScale: number;
  networkNoise: number;
  outages: { from: number; to: number; tenant: string | undefined }[];
  sale: { from: number; to: number };
};

const HOUR = 3_600_000;
const MIN = 60_000;

const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'NL', 'SE', 'PL', 'ES', 'IT', 'CA', 'JP', 'BR', 'IN', 'AU', 'IE', 'CH'];
const TZ: Record<string, number> = { US: -6, DE: 1, FR: 1, GB: 0, NL: 1, SE: 1, PL: 1, ES: 1, IT: 1, CA: -5, JP: 9, BR: -3, IN: 5, AU: 10, IE: 0, CH: 1 };
const CLOUD_ASNS = [16509, 14618, 8075, 15169, 396982, 14061, 24940, 16276, 63949, 20473];
const ISP_ASNS = [7922, 3320, 3215, 2856, 1136, 6830, 3352, 12322, 5089, 701, 7018, 209, 3269, 12389, 6805, 31334];
const ATTACKER_UAS = [
  'python-httpx/0.27.0',
  'curl/8.5.0',
  'Go-http-client/2.0',
  'okhttp/4.12.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'aiohttp/3.9.1',
  'node-fetch/1.0',
];

function makeNet(r: Rng, cloud: boolean, country?: string): Net {
  const a = cloud ? r.pick([3, 13, 18, 34, 35, 44, 52, 54, 104, 159]) : r.pick([24, 62, 77, 81, 84, 88, 92, 95, 109, 176, 185, 188, 212, 217]);
  return {
    prefix: `${a}.${r.int(0, 255)}.${r.int(0, 255)}`,
    hosts: cloud ? r.int(1, 6) : r.int(1, 3),
    asn: r.pick(cloud ? CLOUD_ASNS : ISP_ASNS),
    country: country ?? r.pick(COUNTRIES),
  };
}

function ipOf(net: Net, r: Rng): string {
  return `${net.prefix}.${10 + r.int(0, net.hosts - 1)}`;
}

/** One agent's events under construction. */
class Agent {
  readonly events: AgentRequestEvent[] = [];
  tokenIssued: number;
  private net: Net;
  private ip: string;

  constructor(
    readonly ident: Identity,
    readonly r: Rng,
    readonly env: Env,
  ) {
    this.tokenIssued = env.start - Math.floor(r.next() * ident.tokenLifeS * 1000 * 0.8);
    this.net = ident.home;
    this.ip = ipOf(ident.home, r);
  }

  /** Picks the network of a new session: home, or a roaming one. */
  newSession(): void {
    const roam = this.ident.roam.length > 0 && this.r.chance(Math.min(0.9, this.ident.roamP + 0.35 * this.env.networkNoise));
    this.net = roam ? this.r.pick(this.ident.roam) : this.ident.home;
    this.ip = ipOf(this.net, this.r);
  }

  private push(ts: number, q: Req, status: number, verified: boolean): void {
    const id = this.ident;
    const net = q.net ?? this.net;
    // Noisy networks: the address moves inside the provider's block from time to time.
    const ip = q.ip ?? (this.env.networkNoise > 0 && this.r.chance(0.05 * this.env.networkNoise) ? ipOf(net, this.r) : q.net ? ipOf(net, this.r) : this.ip);
    const e: AgentRequestEvent = {
      v: 1,
      eventId: '',
      ts: Math.round(ts),
      ...(id.tenant ? { tenant: id.tenant } : {}),
      agent: {
        id: id.id,
        purpose: id.purpose,
        auth: {
          method: id.method,
          verified: id.method === 'none' ? false : verified,
          ...(id.scopes.length ? { scopes: id.scopes } : {}),
          ...(id.method === 'oauth2' ? { tokenAgeS: Math.max(0, Math.round((ts - this.tokenIssued) / 1000)) } : {}),
        },
        ...(q.onBehalfOf ? { onBehalfOf: q.onBehalfOf } : {}),
        userAgent: q.ua ?? id.ua,
      },
      request: {
        method: q.method,
        route: q.route,
        ...(q.path ? { path: q.path } : {}),
        status,
        latencyMs: Math.round(Math.max(1, (q.latency ?? 80) * Math.exp(this.r.normal(0, 0.35)))),
        ...(q.bytesIn !== undefined ? { bytesIn: Math.round(q.bytesIn) } : {}),
        ...(q.bytesOut !== undefined ? { bytesOut: Math.round(status >= 400 ? 120 + this.r.int(0, 200) : q.bytesOut * Math.exp(this.r.normal(0, 0.15))) } : {}),
        ip,
        asn: net.asn,
        country: net.country,
      },
      ...(q.action
        ? {
            action: {
              name: q.action.name,
              ...(q.action.sensitivity ? { sensitivity: q.action.sensitivity } : {}),
              ...(q.action.amount !== undefined ? { amount: Math.round(q.action.amount * 100) / 100, currency: id.currency } : {}),
              // Agents without scopes (auth none) only reach public endpoints: no required scope.
              ...(q.action.scope && (id.scopes.length > 0 || q.raw) ? { requiredScope: q.action.scope } : {}),
            },
          }
        : {}),
    };
    this.events.push(e);
  }

  private outage(ts: number): boolean {
    return this.env.outages.some((o) => ts >= o.from && ts < o.to && o.tenant === this.ident.tenant);
  }

  /**
   * Emits one logical request at `ts` with token handling, transient errors and retries;
   * returns the time of the last event emitted.
   */
  emit(ts: number, q: Req): number {
    if (ts >= this.env.end) return ts;
    const id = this.ident;
    const r = this.r;
    if (q.raw) {
      const st = q.status ?? (q.method === 'POST' ? 201 : 200);
      this.push(ts, q, st, q.verified ?? true);
      return ts;
    }
    let t = ts;
    if (id.method === 'oauth2') {
      const age = (t - this.tokenIssued) / 1000;
      if (!id.lazyToken && age > id.tokenLifeS * r.range(0.7, 0.9)) {
        this.push(
          t,
          { method: 'POST', route: '/oauth/token', latency: 60, bytesOut: 900, bytesIn: 300, action: { name: 'token.refresh', sensitivity: 'low' } },
          200,
          true,
        );
        this.tokenIssued = t;
        t += r.int(50, 400);
      } else if (id.lazyToken && age > id.tokenLifeS) {
        this.push(t, { ...q, bytesOut: 150 }, 401, false);
        t += r.int(30, 300);
        this.push(
          t,
          { method: 'POST', route: '/oauth/token', latency: 60, bytesOut: 900, bytesIn: 300, action: { name: 'token.refresh', sensitivity: 'low' } },
          200,
          true,
        );
        this.tokenIssued = t;
        t += r.int(50, 400);
      }
    }
    for (let attempt = 0; attempt < 4; attempt++) {
      const down = this.outage(t) && r.chance(0.45);
      if (down || r.chance(id.rate5xx)) {
        this.push(t, q, r.pick([500, 502, 503, 503, 504]), true);
      } else if (r.chance(id.rate429)) {
        this.push(t, q, 429, true);
      } else {
        const st = q.notFoundP && r.chance(q.notFoundP) ? 404 : (q.status ?? (q.method === 'POST' ? 201 : 200));
        this.push(t, q, st, true);
        return t;
      }
      if (q.noRetry) return t;
      t += Math.round(r.range(300, 2500) * 2 ** attempt);
    }
    return t;
  }
}

// ---------------------------------------------------------------------------------------------
// Benign kinds
// ---------------------------------------------------------------------------------------------

type Shape = (localHour: number) => number;
const BUSINESS: Shape = (h) => (h >= 8 && h < 18 ? 1 : h >= 7 && h < 20 ? 0.35 : 0.04);
const EVENING: Shape = (h) => (h >= 17 && h < 23 ? 1 : h >= 9 && h < 17 ? 0.5 : 0.08);
const FLAT: Shape = () => 1;

/** Session start times: a thinned Poisson process of `perDay` sessions/day shaped by local hour. */
function sessionStarts(a: Agent, from: number, perDay: number, shape: Shape, saleBoost = 1): number[] {
  const env = a.env;
  const maxRate = ((perDay * env.rateScale) / 24 / HOUR) * Math.max(1, saleBoost) * 2.2;
  const out: number[] = [];
  let t = from;
  for (;;) {
    t += a.r.exp(1 / maxRate);
    if (t >= env.end) break;
    const h = (((new Date(t).getUTCHours() + a.ident.tz) % 24) + 24) % 24;
    const boost = t >= env.sale.from && t < env.sale.to ? saleBoost : 1;
    const rate = ((perDay * env.rateScale) / 24 / HOUR) * shape(h) * boost * (24 / shapeMass(shape));
    if (a.r.next() < rate / maxRate) out.push(t);
  }
  return out;
}

const massCache = new Map<Shape, number>();
function shapeMass(s: Shape): number {
  let m = massCache.get(s);
  if (m === undefined) {
    m = 0;
    for (let h = 0; h < 24; h++) m += s(h);
    massCache.set(s, m);
  }
  return m;
}

/** Think time between requests of a session, ms. */
function gap(a: Agent, medianS: number): number {
  return Math.max(40, (a.r.logNormal(medianS, 0.5) * 1000) / a.env.rateScale);
}

function runSessions(a: Agent, from: number, perDay: number, shape: Shape, session: (t: number) => number, saleBoost = 1): void {
  let busyUntil = from;
  for (const s of sessionStarts(a, from, perDay, shape, saleBoost)) {
    if (s < busyUntil) continue;
    a.newSession();
    busyUntil = session(s) + 1000;
  }
}

function sku(r: Rng): string {
  return `${r.pick(['AX', 'BK', 'CR', 'DL', 'MT'])}-${r.int(10000, 99999)}`;
}

const BENIGN: Record<BenignKind, (a: Agent, from: number, s: KindState) => void> = {
  procurement(a, from, st) {
    const P = a.env.prefix;
    const r = a.r;
    // Per-agent mean share of order creation ~15 %, swinging per session (Beta with 6 pseudo-counts).
    const mean = Math.min(0.6, r.range(0.08, 0.22) * a.env.sensitiveScale);
    runSessions(
      a,
      from,
      r.range(24, 60),
      BUSINESS,
      (t0) => {
        const share = r.beta(Math.max(0.3, mean * 6), Math.max(0.3, (1 - mean) * 6));
        let t = a.emit(t0, {
          method: 'GET',
          route: `${P}/catalog/search`,
          path: `${P}/catalog/search?q=${r.pick(['bolts', 'paper', 'toner', 'cable', 'gloves', 'pallets'])}`,
          latency: 220,
          bytesOut: r.range(8e3, 40e3),
          action: { name: 'catalog.search', sensitivity: 'low', scope: 'catalog:read' },
        });
        const n = r.int(4, 16);
        for (let i = 0; i < n; i++) {
          t += gap(a, 3);
          if (r.chance(share)) {
            t = a.emit(t, {
              method: 'POST',
              route: `${P}/purchase-orders`,
              latency: 300,
              bytesIn: r.range(600, 3000),
              bytesOut: 1200,
              action: { name: 'order.create', sensitivity: 'high', amount: r.logNormal(st.orderMedian, 0.7), scope: 'orders:write' },
              onBehalfOf: r.pick(st.users),
            });
            t += gap(a, 1);
            t = a.emit(t, {
              method: 'GET',
              route: `${P}/purchase-orders/{id}`,
              path: `${P}/purchase-orders/PO-${r.int(100000, 999999)}`,
              latency: 90,
              bytesOut: 2500,
              action: { name: 'order.read', sensitivity: 'medium', scope: 'orders:read' },
            });
          } else if (r.chance(0.2)) {
            t = a.emit(t, {
              method: 'GET',
              route: `${P}/suppliers/{id}`,
              path: `${P}/suppliers/${r.int(100, 999)}`,
              latency: 70,
              bytesOut: r.range(2e3, 6e3),
              action: { name: 'supplier.read', sensitivity: 'low', scope: 'suppliers:read' },
              notFoundP: 0.01,
            });
          } else {
            t = a.emit(t, {
              method: 'GET',
              route: `${P}/catalog/items/{sku}`,
              path: `${P}/catalog/items/${sku(r)}`,
              latency: 60,
              bytesOut: r.range(3e3, 12e3),
              action: { name: 'item.read', sensitivity: 'low', scope: 'catalog:read' },
              notFoundP: 0.02,
            });
          }
        }
        return t;
      },
      3.5,
    );
  },
  'trip-planner'(a, from, st) {
    const P = a.env.prefix;
    const r = a.r;
    runSessions(
      a,
      from,
      r.range(14, 40),
      EVENING,
      (t0) => {
        let t = t0;
        const traveller = r.pick(st.users);
        for (let i = r.int(2, 6); i > 0; i--) {
          const hotel = r.chance(0.35);
          t = a.emit(t, {
            method: 'GET',
            route: hotel ? `${P}/travel/hotels` : `${P}/travel/flights`,
            path: hotel
              ? `${P}/travel/hotels?city=${r.pick(['BER', 'LIS', 'NYC', 'TYO', 'MAD'])}`
              : `${P}/travel/flights?from=${r.pick(['FRA', 'CDG', 'LHR', 'AMS'])}&to=${r.pick(['JFK', 'SFO', 'HND', 'BCN'])}`,
            latency: r.range(700, 2600),
            bytesOut: r.range(50e3, 300e3),
            action: { name: hotel ? 'hotel.search' : 'flight.search', sensitivity: 'low', scope: 'travel:search' },
            onBehalfOf: traveller,
          });
          t += gap(a, 6);
          if (r.chance(0.5)) {
            t = a.emit(t, {
              method: 'GET',
              route: `${P}/travel/offers/{id}`,
              path: `${P}/travel/offers/${r.hex(12)}`,
              latency: 200,
              bytesOut: r.range(4e3, 15e3),
              action: { name: 'offer.read', sensitivity: 'low', scope: 'travel:search' },
              onBehalfOf: traveller,
              notFoundP: 0.03,
            });
            t += gap(a, 5);
          }
        }
        if (r.chance(Math.min(0.9, 0.3 * a.env.sensitiveScale))) {
          const amount = r.logNormal(450, 0.8);
          t = a.emit(t, {
            method: 'POST',
            route: `${P}/travel/bookings`,
            latency: 900,
            bytesIn: 2000,
            bytesOut: 3000,
            action: { name: 'booking.create', sensitivity: 'high', amount, scope: 'travel:book' },
            onBehalfOf: traveller,
          });
          t += gap(a, 2);
          if (a.ident.scopes.includes('payments:write')) {
            t = a.emit(t, {
              method: 'POST',
              route: `${P}/payments`,
              latency: 700,
              bytesIn: 800,
              bytesOut: 900,
              action: { name: 'payment.capture', sensitivity: 'high', amount, scope: 'payments:write' },
              onBehalfOf: traveller,
            });
            t += gap(a, 2);
          }
          t = a.emit(t, {
            method: 'GET',
            route: `${P}/travel/bookings/{id}`,
            path: `${P}/travel/bookings/${r.hex(10)}`,
            latency: 120,
            bytesOut: 5000,
            action: { name: 'booking.read', sensitivity: 'medium', scope: 'travel:read' },
            onBehalfOf: traveller,
          });
        } else if (r.chance(0.05)) {
          t = a.emit(t, {
            method: 'DELETE',
            route: `${P}/travel/bookings/{id}`,
            path: `${P}/travel/bookings/${r.hex(10)}`,
            latency: 400,
            bytesOut: 400,
            action: { name: 'booking.cancel', sensitivity: 'medium', scope: 'travel:book' },
            onBehalfOf: traveller,
          });
        }
        return t;
      },
      2.5,
    );
  },
  helpdesk(a, from, st) {
    const P = a.env.prefix;
    const r = a.r;
    const canRefund = a.ident.scopes.includes('refunds:write');
    runSessions(a, from, r.range(70, 160), BUSINESS, (t0) => {
      const staff = r.pick(st.users);
      let t = a.emit(t0, {
        method: 'GET',
        route: `${P}/tickets`,
        path: `${P}/tickets?status=open&limit=25`,
        latency: 120,
        bytesOut: r.range(10e3, 30e3),
        action: { name: 'ticket.list', sensitivity: 'low', scope: 'tickets:read' },
        onBehalfOf: staff,
      });
      t += gap(a, 2);
      t = a.emit(t, {
        method: 'GET',
        route: `${P}/tickets/{id}`,
        path: `${P}/tickets/${r.int(200000, 299999)}`,
        latency: 80,
        bytesOut: r.range(3e3, 9e3),
        action: { name: 'ticket.read', sensitivity: 'low', scope: 'tickets:read' },
        onBehalfOf: staff,
      });
      t += gap(a, 3);
      const customer = r.int(1, 400000);
      t = a.emit(t, {
        method: 'GET',
        route: `${P}/customers/{id}`,
        path: `${P}/customers/${customer}`,
        latency: 90,
        bytesOut: r.range(2e3, 5e3),
        action: { name: 'customer.read', sensitivity: 'medium', scope: 'customers:read' },
        onBehalfOf: staff,
        notFoundP: 0.01,
      });
      if (r.chance(0.6)) {
        t += gap(a, 3);
        t = a.emit(t, {
          method: 'GET',
          route: `${P}/customers/{id}/orders`,
          path: `${P}/customers/${customer}/orders`,
          latency: 140,
          bytesOut: r.range(3e3, 20e3),
          action: { name: 'customer.orders', sensitivity: 'medium', scope: 'orders:read' },
          onBehalfOf: staff,
        });
      }
      t += gap(a, 8);
      t = a.emit(t, {
        method: 'POST',
        route: `${P}/tickets/{id}/notes`,
        path: `${P}/tickets/${r.int(200000, 299999)}/notes`,
        latency: 110,
        bytesIn: r.range(300, 2500),
        bytesOut: 500,
        action: { name: 'ticket.note', sensitivity: 'low', scope: 'tickets:write' },
        onBehalfOf: staff,
      });
      if (canRefund && r.chance(Math.min(0.5, 0.05 * a.env.sensitiveScale))) {
        t += gap(a, 4);
        t = a.emit(t, {
          method: 'POST',
          route: `${P}/refunds`,
          latency: 350,
          bytesIn: 600,
          bytesOut: 700,
          action: { name: 'refund.create', sensitivity: 'high', amount: r.logNormal(45, 0.7), scope: 'refunds:write' },
          onBehalfOf: staff,
        });
      }
      if (r.chance(0.5)) {
        t += gap(a, 2);
        t = a.emit(t, {
          method: 'PATCH',
          route: `${P}/tickets/{id}`,
          path: `${P}/tickets/${r.int(200000, 299999)}`,
          latency: 90,
          bytesIn: 200,
          bytesOut: 400,
          action: { name: 'ticket.update', sensitivity: 'low', scope: 'tickets:write' },
          onBehalfOf: staff,
        });
      }
      return t;
    });
  },
  'etl-sync'(a, from) {
    const P = a.env.prefix;
    const r = a.r;
    const env = a.env;
    const nightHour = r.int(0, 4);
    const pageBytes = r.range(150e3, 700e3);
    for (let day = Math.floor(env.start / (24 * HOUR)) * 24 * HOUR; day < env.end; day += 24 * HOUR) {
      // Nightly burst (local time), then hourly small deltas.
      const night = day + (nightHour - a.ident.tz) * HOUR + r.int(0, 20) * MIN;
      if (night >= from && night < env.end) {
        a.newSession();
        let t = night;
        const pages = Math.round(r.range(150, 500) * Math.sqrt(env.rateScale));
        for (let p = 1; p <= pages; p++) {
          t = a.emit(t, {
            method: 'GET',
            route: `${P}/records`,
            path: `${P}/records?page=${p}&size=500`,
            latency: 180,
            bytesOut: pageBytes,
            action: { name: 'records.list', sensitivity: 'medium', scope: 'records:read' },
          });
          t += r.range(80, 300);
        }
        const batches = r.int(2, 8);
        for (let b = 0; b < batches; b++) {
          t = a.emit(t, {
            method: 'PUT',
            route: `${P}/warehouse/batches/{id}`,
            path: `${P}/warehouse/batches/${r.hex(8)}`,
            latency: 900,
            bytesIn: r.range(1e6, 8e6),
            bytesOut: 300,
            action: { name: 'batch.upsert', sensitivity: 'medium', scope: 'records:write' },
          });
          t += r.range(200, 900);
        }
      }
      for (let h = 0; h < 24; h++) {
        const t0 = day + h * HOUR + r.int(0, 50) * MIN;
        if (t0 < from || t0 >= env.end || r.chance(0.15)) continue;
        let t = t0;
        for (let p = 1, n = r.int(1, 4); p <= n; p++) {
          t = a.emit(t, {
            method: 'GET',
            route: `${P}/records`,
            path: `${P}/records?since=${Math.floor(t0 / 1000) - 3600}&page=${p}`,
            latency: 150,
            bytesOut: r.range(5e3, 60e3),
            action: { name: 'records.list', sensitivity: 'medium', scope: 'records:read' },
          });
          t += r.range(100, 400);
        }
      }
    }
  },
  'uptime-probe'(a, from) {
    const P = a.env.prefix;
    const r = a.r;
    const every = r.range(45, 120) * 1000;
    const regions = [a.ident.home, ...a.ident.roam];
    let i = 0;
    for (let t = from + r.range(0, every); t < a.env.end; t += every * r.range(0.97, 1.03)) {
      const net = regions[i++ % regions.length]!;
      a.emit(t, { method: 'GET', route: '/health', latency: 15, bytesOut: 60, noRetry: true, net, action: { name: 'health.check', sensitivity: 'low' } });
      if (i % 5 === 0)
        a.emit(t + r.int(50, 300), {
          method: 'GET',
          route: `${P}/status`,
          latency: 40,
          bytesOut: 1500,
          noRetry: true,
          net,
          action: { name: 'status.read', sensitivity: 'low', scope: 'status:read' },
        });
    }
  },
  'doc-reader'(a, from) {
    const P = a.env.prefix;
    const r = a.r;
    runSessions(a, from, r.range(6, 16), FLAT, (t0) => {
      let t = a.emit(t0, { method: 'GET', route: '/robots.txt', latency: 10, bytesOut: 400, action: { name: 'robots.read', sensitivity: 'low' } });
      t += gap(a, 2);
      t = a.emit(t, {
        method: 'GET',
        route: `${P}/docs`,
        path: `${P}/docs?page=${r.int(1, 30)}`,
        latency: 200,
        bytesOut: r.range(20e3, 60e3),
        action: { name: 'docs.list', sensitivity: 'low', scope: 'docs:read' },
      });
      for (let n = r.int(15, 90); n > 0; n--) {
        t += gap(a, 2.2);
        const moved = r.chance(0.03);
        t = a.emit(t, {
          method: 'GET',
          route: `${P}/docs/{slug}`,
          path: `${P}/docs/${r.hex(10)}`,
          status: moved ? 301 : 200,
          latency: 120,
          bytesOut: r.range(10e3, 200e3),
          action: { name: 'doc.read', sensitivity: 'low', scope: 'docs:read' },
          notFoundP: 0.05,
        });
      }
      return t;
    });
  },
  'release-bot'(a, from) {
    const P = a.env.prefix;
    const r = a.r;
    const svc = r.pick(['billing', 'search', 'checkout', 'auth', 'inventory']);
    runSessions(a, from, r.range(5, 12), BUSINESS, (t0) => {
      let t = a.emit(t0, {
        method: 'GET',
        route: `${P}/config/{service}`,
        path: `${P}/config/${svc}`,
        latency: 50,
        bytesOut: 3000,
        action: { name: 'config.read', sensitivity: 'medium', scope: 'config:read' },
      });
      const builds = r.int(1, 4);
      for (let b = 0; b < builds; b++) {
        t += gap(a, 2);
        t = a.emit(t, {
          method: 'POST',
          route: `${P}/builds`,
          latency: 250,
          bytesIn: 1500,
          bytesOut: 800,
          action: { name: 'build.create', sensitivity: 'medium', scope: 'builds:write' },
        });
        const build = r.int(10000, 99999);
        for (let p = r.int(3, 15); p > 0; p--) {
          t += r.range(5000, 15000) / a.env.rateScale;
          t = a.emit(t, {
            method: 'GET',
            route: `${P}/builds/{id}`,
            path: `${P}/builds/${build}`,
            latency: 40,
            bytesOut: 900,
            action: { name: 'build.status', sensitivity: 'low', scope: 'builds:write' },
          });
        }
        t += gap(a, 1);
        t = a.emit(t, {
          method: 'PUT',
          route: `${P}/artifacts/{id}`,
          path: `${P}/artifacts/${svc}-${build}.tgz`,
          latency: 4000,
          bytesIn: r.range(5e6, 80e6),
          bytesOut: 400,
          action: { name: 'artifact.upload', sensitivity: 'medium', scope: 'artifacts:write' },
        });
      }
      t += gap(a, 3);
      const rollback = r.chance(0.06);
      t = a.emit(t, {
        method: 'POST',
        route: rollback ? `${P}/deployments/{id}/rollback` : `${P}/deployments`,
        path: rollback ? `${P}/deployments/${r.int(1000, 9999)}/rollback` : undefined,
        latency: 600,
        bytesIn: 900,
        bytesOut: 700,
        action: { name: rollback ? 'deploy.rollback' : 'deploy.create', sensitivity: 'high', scope: 'deploy:write' },
      });
      for (let p = r.int(4, 20); p > 0; p--) {
        t += r.range(4000, 12000) / a.env.rateScale;
        t = a.emit(t, {
          method: 'GET',
          route: `${P}/deployments/{id}`,
          path: `${P}/deployments/${r.int(1000, 9999)}`,
          latency: 40,
          bytesOut: 1200,
          action: { name: 'deploy.status', sensitivity: 'low', scope: 'deploy:write' },
        });
      }
      return t;
    });
  },
};

type KindState = { users: string[]; orderMedian: number };

const PURPOSES: Record<BenignKind, string[]> = {
  procurement: ['procurement', 'purchasing-agent', 'sourcing'],
  'trip-planner': ['travel', 'trip-planner', 'corporate-travel'],
  helpdesk: ['support', 'helpdesk-assistant', 'customer-care'],
  'etl-sync': ['data-sync', 'etl', 'warehouse-loader'],
  'uptime-probe': ['monitoring', 'uptime', 'synthetics'],
  'doc-reader': ['research', 'knowledge-crawler', 'doc-indexer'],
  'release-bot': ['ci', 'deploy-bot', 'release-automation'],
};
const SCOPES: Record<BenignKind, string[]> = {
  procurement: ['catalog:read', 'suppliers:read', 'orders:read', 'orders:write'],
  'trip-planner': ['travel:search', 'travel:book', 'travel:read'],
  helpdesk: ['tickets:read', 'tickets:write', 'customers:read', 'orders:read'],
  'etl-sync': ['records:read', 'records:write'],
  'uptime-probe': ['status:read'],
  'doc-reader': ['docs:read'],
  'release-bot': ['config:read', 'builds:write', 'artifacts:write', 'deploy:write'],
};
const AUTH: Record<BenignKind, [AuthMethod, number][]> = {
  procurement: [
    ['oauth2', 5],
    ['api_key', 3],
    ['http_signature', 2],
  ],
  'trip-planner': [
    ['oauth2', 6],
    ['http_signature', 3],
  ],
  helpdesk: [
    ['oauth2', 4],
    ['mtls', 4],
    ['api_key', 1],
  ],
  'etl-sync': [
    ['api_key', 4],
    ['mtls', 4],
  ],
  'uptime-probe': [
    ['none', 3],
    ['api_key', 3],
  ],
  'doc-reader': [
    ['api_key', 4],
    ['http_signature', 3],
    ['none', 1],
  ],
  'release-bot': [
    ['http_signature', 4],
    ['mtls', 3],
    ['oauth2', 1],
  ],
};
const UAS: Record<BenignKind, string[]> = {
  procurement: ['procure-agent/3.2.1', 'langchain-python/0.2 procurement', 'BuyerBot/1.8'],
  'trip-planner': ['TripPlanner/5.0 (iOS 17.4)', 'travel-agent-sdk/2.1', 'Mozilla/5.0 (Macintosh) TripAssist/1.2'],
  helpdesk: ['support-copilot/0.9.4', 'zen-agent/4.1', 'Java/17.0.9 HelpdeskAI'],
  'etl-sync': ['airbyte-source/0.50', 'python-requests/2.31.0', 'dbt-loader/1.7'],
  'uptime-probe': ['uptime-checker/2.3', 'Pingdom.com_bot_version_1.4', 'synthetics-runner/8.0'],
  'doc-reader': ['ResearchBot/1.1 (+https://example.org/bot)', 'Scrapy/2.11', 'doc-indexer/0.4'],
  'release-bot': ['GitHub-Actions-Runner/2.314', 'argo-cd/2.10', 'buildkite-agent/3.6'],
};
/** Which kinds live mostly on cloud networks. */
const CLOUD: Record<BenignKind, boolean> = {
  procurement: true,
  'trip-planner': false,
  helpdesk: false,
  'etl-sync': true,
  'uptime-probe': true,
  'doc-reader': true,
  'release-bot': true,
};

function identityFor(kind: BenignKind, r: Rng, n: number, env: Env, tenant?: string): Identity {
  const home = makeNet(r, CLOUD[kind]);
  const roamCount = kind === 'uptime-probe' ? r.int(1, 3) : r.chance(0.4 + 0.4 * env.networkNoise) ? r.int(1, 2 + Math.round(2 * env.networkNoise)) : 0;
  const roam: Net[] = [];
  for (let i = 0; i < roamCount; i++)
    roam.push(makeNet(r, kind === 'uptime-probe' ? true : r.chance(0.3), kind === 'uptime-probe' ? r.pick(COUNTRIES) : home.country));
  const method = r.weighted(AUTH[kind]);
  const scopes = method === 'none' ? [] : [...SCOPES[kind]];
  if (kind === 'helpdesk' && r.chance(0.5)) scopes.push('refunds:write');
  if ((kind === 'trip-planner' || kind === 'procurement') && r.chance(0.6)) scopes.push('payments:write');
  if (r.chance(0.25)) scopes.push(r.pick(['reports:read', 'users:read', 'webhooks:write'])); // granted, never used
  return {
    id: `${kind}-${r.hex(6)}-${n}`,
    kind,
    purpose: r.pick(PURPOSES[kind]),
    ...(tenant ? { tenant } : {}),
    method,
    scopes,
    ua: r.pick(UAS[kind]),
    home,
    roam,
    tz: TZ[home.country] ?? 0,
    tokenLifeS: r.pick([900, 1800, 3600, 7200]),
    lazyToken: r.chance(0.3),
    roamP: kind === 'uptime-probe' ? 0 : r.range(0.03, 0.15),
    rate429: r.range(0.001, 0.012),
    rate5xx: r.range(0.0005, 0.004),
    currency: tenant === 'northwind' ? 'GBP' : r.pick(['EUR', 'USD']),
  };
}

// ---------------------------------------------------------------------------------------------
// Attacks
// ---------------------------------------------------------------------------------------------

/** Host kinds each attack can live in; `null` = a new agent. */
const HOSTS: Record<AttackKind, (BenignKind | null)[]> = {
  token_theft: ['procurement', 'trip-planner', 'helpdesk'],
  id_walk: ['helpdesk', 'doc-reader', null],
  permission_probe: ['procurement', 'helpdesk', 'release-bot', 'etl-sync', 'trip-planner'],
  bulk_export: ['helpdesk', 'etl-sync', 'doc-reader'],
  card_testing: ['procurement', 'trip-planner'],
  session_hijack: ['procurement', 'helpdesk', 'trip-planner', 'release-bot'],
  scope_creep: ['helpdesk', 'procurement'],
  refund_abuse: ['helpdesk'],
  slow_scrape: ['helpdesk', 'procurement', null],
  born_login_flood: [null],
};

const ADMIN_ROUTES: [string, string, Sensitivity][] = [
  ['/admin/users', 'admin:users', 'high'],
  ['/admin/roles/{id}', 'admin:roles', 'critical'],
  ['/admin/api-keys', 'admin:keys', 'critical'],
  ['/billing/payouts', 'payouts:write', 'critical'],
  ['/exports/customers', 'exports:write', 'high'],
  ['/audit/logs', 'audit:read', 'high'],
  ['/settings/sso', 'admin:settings', 'critical'],
  ['/webhooks', 'webhooks:admin', 'high'],
];

/** Runs attack `kind` in agent `a` from `start`; returns the traits. Every attack's first event is at exactly `start`. */
function runAttack(kind: AttackKind, a: Agent, start: number): string[] {
  const r = a.r.fork(`attack-${kind}`);
  const P = a.env.prefix;
  const id = a.ident;
  switch (kind) {
    case 'token_theft': {
      const net = makeNet(r, r.chance(0.7), r.pick(COUNTRIES.filter((c) => c !== id.home.country)));
      const ua = r.pick(ATTACKER_UAS);
      const n = r.int(30, 200);
      let t = start;
      for (let i = 0; i < n; i++) {
        const sens = r.chance(0.5);
        const q: Req = sens
          ? id.kind === 'trip-planner'
            ? {
                method: 'POST',
                route: `${P}/travel/bookings`,
                latency: 900,
                bytesOut: 3000,
                action: { name: 'booking.create', sensitivity: 'high', amount: r.range(300, 4000), scope: 'travel:book' },
              }
            : id.kind === 'helpdesk'
              ? {
                  method: 'GET',
                  route: `${P}/customers/{id}`,
                  path: `${P}/customers/${r.int(1, 400000)}`,
                  latency: 90,
                  bytesOut: 4000,
                  action: { name: 'customer.read', sensitivity: 'medium', scope: 'customers:read' },
                }
              : {
                  method: 'POST',
                  route: `${P}/purchase-orders`,
                  latency: 300,
                  bytesOut: 1200,
                  action: { name: 'order.create', sensitivity: 'high', amount: r.range(2000, 20000), scope: 'orders:write' },
                }
          : {
              method: 'GET',
              route: `${P}/catalog/items/{sku}`,
              path: `${P}/catalog/items/${sku(r)}`,
              latency: 60,
              bytesOut: 6000,
              action: { name: 'item.read', sensitivity: 'low', scope: 'catalog:read' },
            };
        a.emit(t, { ...q, net, ua, raw: true, ip: ipOf(net, r) });
        t += r.chance(0.08) ? r.range(20e3, 120e3) : r.range(400, 3000);
      }
      return [`net:${net.country}/${net.asn}`, `ua:${ua.split('/')[0]}`, `requests:${n}`];
    }
    case 'id_walk': {
      const res = id.kind === 'doc-reader' ? 'docs' : 'customers';
      let cur = r.int(1000, 90000);
      const n = r.int(200, 800);
      const perS = r.range(1, 6);
      const miss = r.range(0.15, 0.5);
      let t = start;
      for (let i = 0; i < n; i++) {
        a.emit(t, {
          method: 'GET',
          route: `${P}/${res}/{id}`,
          path: `${P}/${res}/${cur}`,
          status: r.chance(miss) ? 404 : 200,
          latency: 60,
          bytesOut: r.range(2e3, 6e3),
          action: { name: `${res}.read`, sensitivity: res === 'customers' ? 'medium' : 'low', scope: `${res}:read` },
          raw: true,
        });
        cur += 1;
        t += r.exp(1000 / perS);
      }
      return [`resource:${res}`, `rate:${perS.toFixed(1)}/s`, `requests:${n}`];
    }
    case 'permission_probe': {
      const n = r.int(30, 150);
      let t = start;
      for (let i = 0; i < n; i++) {
        const [route, scope, sens] = r.pick(ADMIN_ROUTES);
        const u = r.next();
        a.emit(t, {
          method: r.pick(['GET', 'POST', 'PUT', 'DELETE']),
          route: `${P}${route}`,
          path: `${P}${route.replace('{id}', String(r.int(1, 50)))}`,
          status: u < 0.85 ? 403 : u < 0.9 ? 401 : 404,
          latency: 30,
          bytesOut: 200,
          action: { name: `${route.split('/')[2] ?? 'admin'}.access`, sensitivity: sens, scope },
          raw: true,
        });
        t += r.range(1500, 12000);
      }
      return [`probes:${n}`];
    }
    case 'bulk_export': {
      const scope = id.kind === 'etl-sync' ? 'records:read' : id.kind === 'doc-reader' ? 'docs:read' : 'customers:read';
      const n = r.int(5, 25);
      let t = start;
      for (let i = 0; i < n; i++) {
        const job = r.hex(10);
        a.emit(t, {
          method: 'POST',
          route: `${P}/exports`,
          latency: 300,
          bytesIn: 400,
          bytesOut: 600,
          action: { name: 'export.create', sensitivity: 'medium', scope },
          raw: true,
        });
        for (let p = r.int(1, 4); p > 0; p--) {
          t += r.range(3000, 15000);
          a.emit(t, {
            method: 'GET',
            route: `${P}/exports/{id}`,
            path: `${P}/exports/${job}`,
            latency: 30,
            bytesOut: 500,
            action: { name: 'export.status', sensitivity: 'low', scope },
            raw: true,
          });
        }
        t += r.range(1000, 5000);
        a.emit(t, {
          method: 'GET',
          route: `${P}/exports/{id}/download`,
          path: `${P}/exports/${job}/download`,
          latency: r.range(5000, 40000),
          bytesOut: r.range(8e6, 120e6),
          action: { name: 'export.download', sensitivity: 'high', scope },
          raw: true,
        });
        t += r.range(30e3, 240e3);
      }
      return [`downloads:${n}`];
    }
    case 'card_testing': {
      const n = r.int(30, 120);
      const decline = r.range(0.4, 0.8);
      let t = start;
      for (let i = 0; i < n; i++) {
        a.emit(t, {
          method: 'POST',
          route: `${P}/payments`,
          latency: 500,
          bytesIn: 700,
          bytesOut: 600,
          status: r.chance(decline) ? 402 : 201,
          action: { name: 'payment.capture', sensitivity: 'high', amount: r.range(0.5, 3), scope: 'payments:write' },
          onBehalfOf: `card-${r.hex(6)}`,
          raw: true,
        });
        t += r.range(1500, 8000);
      }
      return [`payments:${n}`, `declined:${decline.toFixed(2)}`];
    }
    case 'session_hijack': {
      // Same user agent and token, a new network in another country, mid-session.
      const net = makeNet(r, r.chance(0.6), r.pick(COUNTRIES.filter((c) => c !== id.home.country)));
      const n = r.int(15, 60);
      let t = start;
      const steps: Req[] = [
        { method: 'GET', route: `${P}/account/settings`, latency: 60, bytesOut: 2500, action: { name: 'settings.read', sensitivity: 'medium' } },
        {
          method: 'PATCH',
          route: `${P}/account/payout`,
          latency: 200,
          bytesIn: 500,
          bytesOut: 400,
          action: { name: 'payout.update', sensitivity: 'critical', scope: 'account:write' },
        },
        {
          method: 'POST',
          route: `${P}/api-keys`,
          latency: 150,
          bytesIn: 300,
          bytesOut: 600,
          action: { name: 'apikey.create', sensitivity: 'critical', scope: 'account:write' },
        },
        {
          method: 'GET',
          route: `${P}/customers/{id}`,
          latency: 90,
          bytesOut: 4000,
          action: { name: 'customer.read', sensitivity: 'medium', scope: 'customers:read' },
        },
        {
          method: 'POST',
          route: `${P}/purchase-orders`,
          latency: 300,
          bytesOut: 1200,
          action: { name: 'order.create', sensitivity: 'high', amount: r.range(3000, 15000), scope: 'orders:write' },
        },
      ];
      for (let i = 0; i < n; i++) {
        const s = i < 2 ? steps[i]! : r.pick(steps);
        const granted = !s.action?.scope || id.scopes.includes(s.action.scope);
        a.emit(t, {
          ...s,
          ...(s.route.includes('{id}') ? { path: s.route.replace('{id}', String(r.int(1, 400000))) } : {}),
          status: granted ? (s.method === 'POST' ? 201 : 200) : 403,
          net,
          raw: true,
          ip: ipOf(net, r),
        });
        t += r.range(2000, 20000);
      }
      return [`net:${net.country}/${net.asn}`, 'same_ua', `requests:${n}`];
    }
    case 'scope_creep': {
      // Over 2–6 hours, a rising share of requests reaches for wider data, then ungranted admin routes.
      const span = r.range(2, 6) * HOUR;
      const n = r.int(60, 160);
      let t = start;
      for (let i = 0; i < n; i++) {
        const phase = i / n;
        let q: Req;
        if (phase < 0.5) {
          q = r.chance(0.5)
            ? {
                method: 'GET',
                route: `${P}/customers`,
                path: `${P}/customers?limit=${r.pick([200, 500, 1000])}&fields=all`,
                latency: 400,
                bytesOut: r.range(200e3, 900e3),
                action: { name: 'customer.list', sensitivity: 'high', scope: 'customers:read' },
              }
            : {
                method: 'GET',
                route: `${P}/customers/{id}/payment-methods`,
                path: `${P}/customers/${r.int(1, 400000)}/payment-methods`,
                latency: 90,
                bytesOut: 1500,
                action: { name: 'payment_method.read', sensitivity: 'high', scope: 'customers:read' },
              };
        } else {
          const [route, scope, sens] = r.pick(ADMIN_ROUTES);
          q = {
            method: 'GET',
            route: `${P}${route}`,
            path: `${P}${route.replace('{id}', String(r.int(1, 50)))}`,
            latency: 80,
            bytesOut: 3000,
            action: { name: 'admin.read', sensitivity: sens, scope },
          };
        }
        const granted = !q.action?.scope || id.scopes.includes(q.action.scope);
        a.emit(t, { ...q, status: granted ? 200 : 403, raw: true });
        t += (span / n) * r.range(0.3, 1.7);
      }
      return [`span:${(span / HOUR).toFixed(1)}h`, `requests:${n}`];
    }
    case 'refund_abuse': {
      const n = r.int(20, 80);
      const span = r.range(1, 3) * HOUR;
      const accomplices = Array.from({ length: r.int(2, 5) }, () => r.int(1, 400000));
      let t = start;
      for (let i = 0; i < n; i++) {
        const c = r.pick(accomplices);
        if (r.chance(0.4)) {
          a.emit(t, {
            method: 'GET',
            route: `${P}/customers/{id}/orders`,
            path: `${P}/customers/${c}/orders`,
            latency: 140,
            bytesOut: 8000,
            action: { name: 'customer.orders', sensitivity: 'medium', scope: 'orders:read' },
            raw: true,
          });
          t += r.range(2000, 8000);
        }
        a.emit(t, {
          method: 'POST',
          route: `${P}/refunds`,
          latency: 350,
          bytesIn: 600,
          bytesOut: 700,
          action: { name: 'refund.create', sensitivity: 'high', amount: r.range(150, 490), scope: 'refunds:write' },
          raw: true,
        });
        t += (span / n) * r.range(0.3, 1.7);
      }
      return [`refunds:${n}`, `customers:${accomplices.length}`];
    }
    case 'slow_scrape': {
      const n = r.int(200, 600);
      let t = start;
      for (let i = 0; i < n; i++) {
        a.emit(t, {
          method: 'GET',
          route: `${P}/customers/{id}`,
          path: `${P}/customers/${r.int(1, 400000)}`,
          latency: 90,
          bytesOut: r.range(3e3, 12e3),
          action: { name: 'customer.read', sensitivity: 'medium', scope: 'customers:read' },
          raw: true,
          status: r.chance(0.02) ? 404 : 200,
        });
        t += r.logNormal(7000, 0.5);
      }
      return [`requests:${n}`];
    }
    case 'born_login_flood': {
      const n = r.int(100, 600);
      const route = r.pick(['/admin/login', `${P}/auth/login`, '/wp-login.php']);
      let t = start;
      for (let i = 0; i < n; i++) {
        a.emit(t, {
          method: 'POST',
          route,
          latency: 120,
          bytesIn: 200,
          bytesOut: 300,
          status: r.chance(0.96) ? 401 : 200,
          action: { name: 'auth.login', sensitivity: 'high' },
          onBehalfOf: `user${r.int(1, 99999)}`,
          raw: true,
          verified: false,
        });
        t += r.range(300, 3000);
      }
      return [`route:${route}`, `attempts:${n}`];
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Generates one labelled stream. */
export function generateIndep(o: IndepOptions): { events: AgentRequestEvent[]; labels: Labels } {
  const root = new Rng(`indep-${o.seed}`);
  const durationMin = o.durationMin ?? 2880;
  const start = o.startTs ?? Date.UTC(2026, 2, 2) + (o.seed % 97) * HOUR;
  const end = start + durationMin * MIN;
  const er = root.fork('env');
  const env: Env = {
    seed: o.seed,
    start,
    end,
    prefix: er.pick(['/api', '/v3', '/svc/api/v1', '', '/gw/v2']),
    rateScale: o.rateScale ?? 1,
    sensitiveScale: o.sensitiveScale ?? 1,
    networkNoise: o.networkNoise ?? 0,
    outages: [],
    sale: { from: start + er.range(0.2, 0.7) * (end - start), to: 0 },
  };
  env.sale.to = env.sale.from + er.range(30, 90) * MIN;
  for (const tenant of [undefined, 'northwind']) {
    const from = start + er.range(0.1, 0.9) * (end - start);
    env.outages.push({ from, to: from + er.range(3, 12) * MIN, tenant });
  }

  const benignKinds = o.benignKinds ?? BENIGN_KINDS;
  const benignN = Math.max(benignKinds.length, Math.round((o.benignAgents ?? 66) * (o.populationScale ?? 1)));
  const totalW = benignKinds.reduce((s, k) => s + KIND_WEIGHT[k], 0);
  const agents: { agent: Agent; label: Labels['agents'][string] }[] = [];
  const st = (r: Rng): KindState => ({ users: Array.from({ length: r.int(1, 30) }, () => `u-${r.hex(8)}`), orderMedian: r.range(150, 2500) });

  // Benign agents: kinds by weight (deterministic rounding), every kind at least once.
  const counts = benignKinds.map((k) => Math.max(1, Math.floor((benignN * KIND_WEIGHT[k]) / totalW)));
  for (let i = 0; counts.reduce((s, c) => s + c, 0) < benignN; i++) counts[i % counts.length]!++;
  let n = 0;
  benignKinds.forEach((kind, ki) => {
    for (let i = 0; i < counts[ki]!; i++) {
      const r = root.fork(`benign-${kind}-${i}`);
      const tenant = r.chance(0.12) ? 'northwind' : r.chance(0.2) ? 'default' : undefined;
      const a = new Agent(identityFor(kind, r, n++, env, tenant), r, env);
      const cold = r.chance(0.2);
      const from = cold ? start + r.range(0.1, 0.7) * (end - start) : start;
      BENIGN[kind](a, from, st(r));
      agents.push({
        agent: a,
        label: {
          malicious: false,
          scenario: kind,
          attackStartTs: null,
          tenant: tenant ?? 'default',
          profile: kind,
          traits: [
            ...(cold ? ['cold_start'] : []),
            `auth:${a.ident.method}`,
            ...(a.ident.lazyToken && a.ident.method === 'oauth2' ? ['lazy_token'] : []),
            ...(a.ident.roam.length ? ['roams'] : []),
          ],
        },
      });
    }
  });

  // Attacks.
  const attackKinds = o.attackKinds ?? ATTACK_KINDS;
  const perKind = o.attacksPerKind ?? 2;
  for (const kind of attackKinds) {
    for (let i = 0; i < perKind; i++) {
      const r = root.fork(`attack-${kind}-${i}`);
      const hostKind = r.pick(HOSTS[kind]);
      const tenant = r.chance(0.1) ? 'northwind' : undefined;
      const atStart = start + r.range(0.3, 0.8) * (end - start);
      let a: Agent;
      let traits: string[];
      if (hostKind === null) {
        const borrowed = r.pick(BENIGN_KINDS.filter((k) => k !== 'uptime-probe'));
        const ident = identityFor(borrowed, r, n++, env, tenant);
        ident.kind = 'new-agent';
        ident.id = `agent-${r.hex(8)}-${n}`;
        if (kind === 'born_login_flood') {
          ident.method = r.pick(['none', 'api_key'] as const);
          ident.scopes = [];
          ident.ua = r.pick(ATTACKER_UAS);
          ident.home = makeNet(r, true);
          ident.roam = [];
        }
        a = new Agent(ident, r, env);
        traits = runAttack(kind, a, atStart);
        traits.push('new_agent', `cover:${borrowed}`);
      } else {
        const ident = identityFor(hostKind, r, n++, env, tenant);
        if (kind === 'refund_abuse' && !ident.scopes.includes('refunds:write')) ident.scopes.push('refunds:write');
        if (kind === 'card_testing' && !ident.scopes.includes('payments:write')) ident.scopes.push('payments:write');
        if (ident.method === 'none') ident.method = 'api_key';
        a = new Agent(ident, r, env);
        BENIGN[hostKind](a, start, st(r));
        const hostEvents = a.events.length;
        const hostStops = kind === 'session_hijack' && r.chance(0.5);
        traits = runAttack(kind, a, atStart);
        if (hostStops) a.events.splice(0, hostEvents, ...a.events.slice(0, hostEvents).filter((e) => e.ts < atStart));
        traits.push(`host:${hostKind}`, ...(hostStops ? ['host_stops'] : []));
      }
      agents.push({
        agent: a,
        label: { malicious: true, scenario: kind, attackStartTs: Math.round(atStart), tenant: tenant ?? 'default', profile: hostKind ?? 'new-agent', traits },
      });
    }
  }

  // Merge: by time, then agent, then the agent's own order; event ids after the merge.
  const all: { e: AgentRequestEvent; k: number; i: number }[] = [];
  agents.forEach(({ agent }, k) => agent.events.forEach((e, i) => e.ts < end && all.push({ e, k, i })));
  all.sort((x, y) => x.e.ts - y.e.ts || x.k - y.k || x.i - y.i);
  const events = all.map(({ e }, i) => ({ ...e, eventId: `ind${o.seed}-${i + 1}` }));
  const labels: Labels = { set: `indep-${o.seed}`, seed: o.seed, agents: {} };
  for (const { agent, label } of agents) if (agent.events.some((e) => e.ts < end)) labels.agents[agent.ident.id] = label;
  return { events, labels };
}
