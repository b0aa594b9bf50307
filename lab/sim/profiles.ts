/**
 * Benign behaviour profiles. Each profile has its own rhythm (session arrivals or a batch
 * schedule, over an hour-of-day shape), its own route mix, sizes and latencies, and keeps
 * `action.requiredScope` inside the agent's granted scopes. Legitimate errors, retries and
 * outages come from {@link SessionCtx.call}.
 */
import { defineProfile, type Profile, type SessionCtx } from './agent.ts';
import { fill, idOf, mcp, route, scope, type Deployment } from './deployment.ts';
import type { Rng } from './prng.ts';
import type { ProfileName } from './types.ts';

/** A user id (the `onBehalfOf` value) in the deployment's style. */
export function userId(d: Deployment, rng: Rng): string {
  return d.ids.users === 'num' ? `user-${d.idBase.users + rng.int(0, d.idSpan.users * 10)}` : `usr_${rng.hex(16)}`;
}

const WORDS = [
  'lamp',
  'shoes',
  'desk',
  'kettle',
  'headphones',
  'jacket',
  'backpack',
  'tent',
  'monitor',
  'blender',
  'rug',
  'watch',
  'charger',
  'mug',
  'novel',
  'sofa',
];
const AIRPORTS = ['JFK', 'LHR', 'CDG', 'FRA', 'AMS', 'SFO', 'NRT', 'SYD', 'GRU', 'BOM', 'MAD', 'ORD', 'SIN', 'DXB'];
const SLUGS = [
  'summer-sale',
  'new-arrivals',
  'kitchen',
  'outdoor',
  'electronics',
  'gifts',
  'shipping-policy',
  'returns',
  'size-guide',
  'care-instructions',
  'about-us',
  'careers',
];

function isoDate(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

function money(x: number, currency: string): number {
  const v = currency === 'JPY' ? Math.round(x * 110) : Math.round(x * 100) / 100;
  return Math.max(currency === 'JPY' ? 1 : 0.01, v);
}

// ---------------------------------------------------------------------------------------------

interface ShopParams {
  users: string[];
  platform: boolean;
  thinkS: number;
  browseMean: number;
  pCart: number;
  pCheckout: number;
  amountMedian: number;
  productBytes: number;
}

const shopping = defineProfile<ShopParams>({
  name: 'shopping',
  auth: [
    ['oauth2', 5],
    ['http_signature', 3],
    ['api_key', 2],
  ],
  net: [
    ['cloud', 8],
    ['hosting', 1],
  ],
  diurnal: 'consumer',
  schedule: { kind: 'poisson', perDay: [8, 22] },
  userAgents: [
    'ShopPilot/{v} (+https://shoppilot.example/agent)',
    'cartwise-agent/{v} node/20.11.1',
    'openai-agents-js/{v} (shopping)',
    'BuyBuddy/{v}',
    'python-httpx/0.27.0 basketbot/{v}',
  ],
  scopes: (d) => ({
    base: [scope(d, 'catalog', 'read'), scope(d, 'cart', 'write'), scope(d, 'orders', 'read'), scope(d, 'orders', 'write'), scope(d, 'payments', 'write')],
    extra: [scope(d, 'account', 'read'), scope(d, 'account', 'write'), scope(d, 'customers', 'read')],
  }),
  init(ctx) {
    const r = ctx.rng;
    const platform = r.chance(0.3);
    if (platform) ctx.agent.traits.push('many_users_login');
    const users = Array.from({ length: platform ? r.int(30, 400) : 1 }, () => userId(ctx.d, r));
    return {
      users,
      platform,
      thinkS: r.range(2, 7),
      browseMean: r.range(3, 10),
      pCart: r.range(0.2, 0.5),
      pCheckout: r.range(0.3, 0.7),
      amountMedian: r.range(25, 140),
      productBytes: r.range(6_000, 40_000),
    };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const u = r.pick(p.users);
    let t = t0;
    if (p.platform) t = login(ctx, t, u);
    t += ctx.think(p.thinkS);
    const q = r.pick(WORDS);
    t = ctx.call(t, {
      method: 'GET',
      route: route(d, 'products'),
      path: `${route(d, 'products')}?q=${q}`,
      latency: 120,
      bytesOut: r.lognormal(40_000, 0.4),
      action: { name: 'product.search', sensitivity: 'low', requiredScope: scope(d, 'catalog', 'read') },
      onBehalfOf: u,
    });
    const n = Math.min(40, r.geometric(p.browseMean));
    for (let i = 0; i < n; i++) {
      t += ctx.think(p.thinkS);
      const tmpl = route(d, 'products', '/{id}');
      t = ctx.call(t, {
        method: 'GET',
        route: tmpl,
        path: fill(tmpl, idOf(d, r, 'products')),
        status: r.chance(0.02) ? 404 : 200,
        latency: 60,
        bytesOut: r.lognormal(p.productBytes, 0.3),
        action: { name: 'product.read', sensitivity: 'low', requiredScope: scope(d, 'catalog', 'read') },
        onBehalfOf: u,
      });
      if (r.chance(0.2)) {
        const rt = route(d, 'products', '/{id}/reviews');
        t = ctx.call(t + ctx.think(1), {
          method: 'GET',
          route: rt,
          path: fill(rt, idOf(d, r, 'products')),
          latency: 90,
          bytesOut: r.lognormal(15_000, 0.5),
          action: { name: 'review.list', sensitivity: 'low', requiredScope: scope(d, 'catalog', 'read') },
          onBehalfOf: u,
        });
      }
      if (r.chance(0.08)) {
        const ct = route(d, 'categories', '/{slug}');
        t = ctx.call(t + ctx.think(1), {
          method: 'GET',
          route: ct,
          path: fill(ct, r.pick(SLUGS)),
          latency: 80,
          bytesOut: r.lognormal(30_000, 0.4),
          action: { name: 'category.read', sensitivity: 'low', requiredScope: scope(d, 'catalog', 'read') },
          onBehalfOf: u,
        });
      }
    }
    if (r.chance(p.pCart)) {
      const k = r.int(1, 3);
      for (let i = 0; i < k; i++) {
        t += ctx.think(p.thinkS);
        t = ctx.call(t, {
          method: 'POST',
          route: route(d, 'cart', '/items'),
          status: 201,
          latency: 70,
          bytesIn: r.int(120, 400),
          bytesOut: r.int(300, 1500),
          action: { name: 'cart.add', sensitivity: 'low', requiredScope: scope(d, 'cart', 'write') },
          onBehalfOf: u,
        });
      }
      t = ctx.call(t + ctx.think(2), {
        method: 'GET',
        route: route(d, 'cart'),
        latency: 50,
        bytesOut: r.int(800, 5000),
        action: { name: 'cart.read', sensitivity: 'low', requiredScope: scope(d, 'cart', 'write') },
        onBehalfOf: u,
      });
      if (r.chance(p.pCheckout)) {
        t += ctx.think(p.thinkS * 1.5);
        t = ctx.call(t, {
          method: 'POST',
          route: route(d, 'checkout'),
          status: 201,
          latency: 180,
          bytesIn: r.int(400, 1500),
          bytesOut: r.int(600, 3000),
          action: { name: 'checkout.create', sensitivity: 'medium', requiredScope: scope(d, 'orders', 'write') },
          onBehalfOf: u,
        });
        const amount = money(Math.min(1500, Math.max(3, r.lognormal(p.amountMedian, 0.7))), d.currency);
        const declined = r.chance(0.03);
        t += ctx.think(3);
        const pay = {
          method: 'POST',
          route: route(d, 'payments'),
          latency: 650,
          bytesIn: r.int(300, 900),
          bytesOut: r.int(400, 1200),
          action: { name: 'payment.create', sensitivity: 'high' as const, amount, currency: d.currency, requiredScope: scope(d, 'payments', 'write') },
          onBehalfOf: u,
        };
        t = ctx.call(t, { ...pay, status: declined ? 402 : 201 });
        if (declined && r.chance(0.6)) t = ctx.call(t + ctx.think(20), { ...pay, status: 201 });
        const ot = route(d, 'orders', '/{id}');
        t = ctx.call(t + ctx.think(2), {
          method: 'GET',
          route: ot,
          path: fill(ot, idOf(d, r, 'orders')),
          latency: 60,
          bytesOut: r.int(1500, 6000),
          action: { name: 'order.read', sensitivity: 'low', requiredScope: scope(d, 'orders', 'read') },
          onBehalfOf: u,
        });
      }
    }
    if (r.chance(0.1)) {
      ctx.call(t + ctx.think(p.thinkS), {
        method: 'GET',
        route: route(d, 'orders'),
        path: `${route(d, 'orders')}?limit=20`,
        latency: 90,
        bytesOut: r.lognormal(12_000, 0.4),
        action: { name: 'order.list', sensitivity: 'low', requiredScope: scope(d, 'orders', 'read') },
        onBehalfOf: u,
      });
    }
  },
});

/** A login on behalf of a user, with a rare mistyped password first. */
function login(ctx: SessionCtx, t: number, u: string): number {
  const { d, rng: r } = ctx;
  const spec = {
    method: 'POST',
    route: route(d, 'auth', '/login'),
    latency: 220,
    bytesIn: r.int(150, 400),
    bytesOut: r.int(400, 1200),
    action: { name: 'auth.login', sensitivity: 'medium' as const },
    onBehalfOf: u,
  };
  if (r.chance(0.03)) t = ctx.call(t, { ...spec, status: 401, bytesOut: 180 }) + ctx.think(6);
  return ctx.call(t, spec);
}

// ---------------------------------------------------------------------------------------------

interface TravelParams {
  travellers: string[];
  thinkS: number;
  pBook: number;
  amountMedian: number;
}

const travel = defineProfile<TravelParams>({
  name: 'travel-booking',
  auth: [
    ['http_signature', 4],
    ['oauth2', 4],
    ['mtls', 1],
  ],
  net: [['cloud', 1]],
  diurnal: 'consumer',
  schedule: { kind: 'poisson', perDay: [5, 14] },
  userAgents: ['TripMate-Agent/{v}', 'travel-concierge/{v} (+https://trip.example/agents)', 'langchain-js/{v} travel-tools', 'Wayfarer/{v} (linux; node)'],
  scopes: (d) => ({
    base: [scope(d, 'travel', 'read'), scope(d, 'bookings', 'read'), scope(d, 'bookings', 'write'), scope(d, 'payments', 'write')],
    extra: [scope(d, 'account', 'read'), scope(d, 'account', 'write'), scope(d, 'payouts', 'read')],
  }),
  init(ctx) {
    const r = ctx.rng;
    const corporate = r.chance(0.35);
    return {
      travellers: Array.from({ length: corporate ? r.int(5, 80) : 1 }, () => userId(ctx.d, r)),
      thinkS: r.range(4, 12),
      pBook: r.range(0.1, 0.3),
      amountMedian: r.range(250, 900),
    };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const u = r.pick(p.travellers);
    let t = t0;
    const from = r.pick(AIRPORTS);
    const to = r.pick(AIRPORTS.filter((a) => a !== from));
    const date = isoDate(t0 + r.int(3, 90) * 86_400_000);
    const searches = r.int(1, 6);
    for (let i = 0; i < searches; i++) {
      const ft = route(d, 'flights', '/search');
      t = ctx.call(t, {
        method: 'GET',
        route: ft,
        path: `${ft}?from=${from}&to=${to}&date=${date}&adults=${r.int(1, 3)}`,
        latency: 2200,
        bytesOut: r.lognormal(120_000, 0.5),
        action: { name: 'flight.search', sensitivity: 'low', requiredScope: scope(d, 'travel', 'read') },
        onBehalfOf: u,
      });
      t += ctx.think(p.thinkS);
    }
    const hotels = r.int(0, 3);
    for (let i = 0; i < hotels; i++) {
      const ht = route(d, 'hotels', '/search');
      t = ctx.call(t, {
        method: 'GET',
        route: ht,
        path: `${ht}?city=${to}&checkin=${date}&nights=${r.int(1, 7)}`,
        latency: 1600,
        bytesOut: r.lognormal(90_000, 0.5),
        action: { name: 'hotel.search', sensitivity: 'low', requiredScope: scope(d, 'travel', 'read') },
        onBehalfOf: u,
      });
      t += ctx.think(p.thinkS);
    }
    const ot = route(d, 'flights', '/offers/{id}');
    t = ctx.call(t, {
      method: 'GET',
      route: ot,
      path: fill(ot, r.uuid()),
      status: r.chance(0.04) ? 404 : 200,
      latency: 700,
      bytesOut: r.lognormal(18_000, 0.4),
      action: { name: 'offer.read', sensitivity: 'low', requiredScope: scope(d, 'travel', 'read') },
      onBehalfOf: u,
    });
    if (r.chance(p.pBook)) {
      const amount = money(Math.min(6000, Math.max(60, r.lognormal(p.amountMedian, 0.6))), d.currency);
      t += ctx.think(p.thinkS * 2);
      t = ctx.call(t, {
        method: 'POST',
        route: route(d, 'bookings'),
        status: 201,
        latency: 1400,
        bytesIn: r.int(800, 3000),
        bytesOut: r.int(1500, 5000),
        action: { name: 'booking.create', sensitivity: 'high', amount, currency: d.currency, requiredScope: scope(d, 'bookings', 'write') },
        onBehalfOf: u,
      });
      const pay = {
        method: 'POST',
        route: route(d, 'payments'),
        latency: 900,
        bytesIn: r.int(300, 900),
        bytesOut: r.int(400, 1200),
        action: { name: 'payment.create', sensitivity: 'high' as const, amount, currency: d.currency, requiredScope: scope(d, 'payments', 'write') },
        onBehalfOf: u,
      };
      const declined = r.chance(0.04);
      t = ctx.call(t + ctx.think(2), { ...pay, status: declined ? 402 : 201 });
      if (declined && r.chance(0.5)) t = ctx.call(t + ctx.think(30), { ...pay, status: 201 });
      const bt = route(d, 'bookings', '/{id}');
      t = ctx.call(t + ctx.think(3), {
        method: 'GET',
        route: bt,
        path: fill(bt, idOf(d, r, 'bookings')),
        latency: 150,
        bytesOut: r.int(2000, 8000),
        action: { name: 'booking.read', sensitivity: 'low', requiredScope: scope(d, 'bookings', 'read') },
        onBehalfOf: u,
      });
    } else if (r.chance(0.05)) {
      const bt = route(d, 'bookings', '/{id}');
      ctx.call(t + ctx.think(p.thinkS), {
        method: 'DELETE',
        route: bt,
        path: fill(bt, idOf(d, r, 'bookings')),
        latency: 600,
        bytesOut: r.int(300, 900),
        action: { name: 'booking.cancel', sensitivity: 'medium', requiredScope: scope(d, 'bookings', 'write') },
        onBehalfOf: u,
      });
    } else if (r.chance(0.15)) {
      ctx.call(t + ctx.think(p.thinkS), {
        method: 'GET',
        route: route(d, 'bookings'),
        latency: 120,
        bytesOut: r.lognormal(9000, 0.4),
        action: { name: 'booking.list', sensitivity: 'low', requiredScope: scope(d, 'bookings', 'read') },
        onBehalfOf: u,
      });
    }
  },
});

// ---------------------------------------------------------------------------------------------

interface SupportParams {
  staff: string[];
  thinkS: number;
  pRefund: number;
  customerBytes: number;
}

const support = defineProfile<SupportParams>({
  name: 'customer-support',
  auth: [
    ['mtls', 3],
    ['oauth2', 4],
    ['api_key', 1],
  ],
  net: [['cloud', 1]],
  diurnal: 'business',
  schedule: { kind: 'poisson', perDay: [15, 45] },
  userAgents: ['HelpdeskCopilot/{v}', 'support-agent/{v} (+https://support.example)', 'ZenAssist/{v} python/3.11', 'openai-agents-python/{v} support'],
  scopes: (d) => ({
    base: [scope(d, 'tickets', 'read'), scope(d, 'tickets', 'write'), scope(d, 'customers', 'read'), scope(d, 'orders', 'read'), scope(d, 'refunds', 'write')],
    extra: [scope(d, 'customers', 'write'), scope(d, 'account', 'write'), scope(d, 'exports', 'read')],
  }),
  init(ctx) {
    const r = ctx.rng;
    return {
      staff: Array.from({ length: r.int(2, 8) }, () => `staff-${r.chars(6)}`),
      thinkS: r.range(6, 20),
      pRefund: r.range(0.03, 0.1),
      customerBytes: r.range(3000, 12_000),
    };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const u = r.pick(p.staff);
    let t = ctx.call(t0, {
      method: 'GET',
      route: route(d, 'tickets'),
      path: `${route(d, 'tickets')}?status=open&limit=25`,
      latency: 120,
      bytesOut: r.lognormal(20_000, 0.3),
      action: { name: 'ticket.list', sensitivity: 'low', requiredScope: scope(d, 'tickets', 'read') },
      onBehalfOf: u,
    });
    const tt = route(d, 'tickets', '/{id}');
    const ticket = idOf(d, r, 'tickets');
    t = ctx.call(t + ctx.think(3), {
      method: 'GET',
      route: tt,
      path: fill(tt, ticket),
      latency: 70,
      bytesOut: r.lognormal(6000, 0.4),
      action: { name: 'ticket.read', sensitivity: 'low', requiredScope: scope(d, 'tickets', 'read') },
      onBehalfOf: u,
    });
    const ct = route(d, 'customers', '/{id}');
    const customer = idOf(d, r, 'customers');
    // A rare legitimate 403: per-record ACL (other region), scope is granted.
    const acl = r.chance(0.005);
    t = ctx.call(t + ctx.think(4), {
      method: 'GET',
      route: ct,
      path: fill(ct, customer),
      status: acl ? 403 : r.chance(0.01) ? 404 : 200,
      latency: 80,
      bytesOut: acl ? 200 : r.lognormal(p.customerBytes, 0.3),
      action: { name: 'customer.read', sensitivity: 'medium', requiredScope: scope(d, 'customers', 'read') },
      onBehalfOf: u,
    });
    if (r.chance(0.6)) {
      const co = route(d, 'customers', '/{id}/orders');
      t = ctx.call(t + ctx.think(4), {
        method: 'GET',
        route: co,
        path: fill(co, customer),
        latency: 110,
        bytesOut: r.lognormal(9000, 0.4),
        action: { name: 'order.list', sensitivity: 'low', requiredScope: scope(d, 'orders', 'read') },
        onBehalfOf: u,
      });
    }
    if (r.chance(0.3)) {
      const ot = route(d, 'orders', '/{id}');
      t = ctx.call(t + ctx.think(4), {
        method: 'GET',
        route: ot,
        path: fill(ot, idOf(d, r, 'orders')),
        latency: 60,
        bytesOut: r.int(1500, 6000),
        action: { name: 'order.read', sensitivity: 'low', requiredScope: scope(d, 'orders', 'read') },
        onBehalfOf: u,
      });
    }
    if (r.chance(p.pRefund)) {
      t = ctx.call(t + ctx.think(p.thinkS), {
        method: 'POST',
        route: route(d, 'refunds'),
        status: 201,
        latency: 500,
        bytesIn: r.int(200, 600),
        bytesOut: r.int(300, 900),
        action: {
          name: 'refund.create',
          sensitivity: 'high',
          amount: money(r.lognormal(45, 0.7), d.currency),
          currency: d.currency,
          requiredScope: scope(d, 'refunds', 'write'),
        },
        onBehalfOf: u,
      });
    }
    const cm = route(d, 'tickets', '/{id}/comments');
    t = ctx.call(t + ctx.think(p.thinkS), {
      method: 'POST',
      route: cm,
      path: fill(cm, ticket),
      status: 201,
      latency: 130,
      bytesIn: r.int(400, 3000),
      bytesOut: r.int(200, 800),
      action: { name: 'ticket.comment', sensitivity: 'low', requiredScope: scope(d, 'tickets', 'write') },
      onBehalfOf: u,
    });
    if (r.chance(0.7)) {
      t = ctx.call(t + ctx.think(2), {
        method: 'PATCH',
        route: tt,
        path: fill(tt, ticket),
        latency: 90,
        bytesIn: r.int(80, 300),
        bytesOut: r.int(300, 900),
        action: { name: 'ticket.update', sensitivity: 'low', requiredScope: scope(d, 'tickets', 'write') },
        onBehalfOf: u,
      });
    }
    if (r.chance(0.1)) {
      ctx.call(t + ctx.think(p.thinkS), {
        method: 'POST',
        route: route(d, 'tickets'),
        status: 201,
        latency: 140,
        bytesIn: r.int(500, 2500),
        bytesOut: r.int(300, 900),
        action: { name: 'ticket.create', sensitivity: 'low', requiredScope: scope(d, 'tickets', 'write') },
        onBehalfOf: u,
      });
    }
  },
});

// ---------------------------------------------------------------------------------------------

interface AnalyticsParams {
  reports: { name: string; pages: number; bytes: number; sensitive: boolean }[];
  metrics: string[];
}

const REPORTS = [
  'sales-daily',
  'revenue-by-region',
  'traffic',
  'conversion-funnel',
  'inventory-aging',
  'churn',
  'ltv-cohorts',
  'ad-spend',
  'returns',
  'margin',
];

const analytics = defineProfile<AnalyticsParams>({
  name: 'analytics',
  auth: [
    ['api_key', 4],
    ['mtls', 3],
    ['oauth2', 2],
  ],
  net: [['cloud', 1]],
  diurnal: 'flat',
  schedule: { kind: 'periodic', periodMin: [20, 60], gated: false },
  userAgents: ['python-requests/2.31.0', 'bi-exporter/{v}', 'dbt-cloud-agent/{v}', 'Metabase-Agent/{v}', 'airflow-http-operator/{v}'],
  scopes: (d) => ({ base: [scope(d, 'reports', 'read'), scope(d, 'metrics', 'read')], extra: [scope(d, 'exports', 'read'), scope(d, 'customers', 'read')] }),
  init(ctx) {
    const r = ctx.rng;
    const bytes = r.range(250_000, 3_000_000);
    return {
      reports: r.sample(REPORTS, r.int(1, 3)).map((name) => ({
        name,
        pages: r.int(2, 8),
        bytes: bytes * r.range(0.7, 1.3),
        sensitive: name.includes('revenue') || name.includes('margin') || name.includes('ltv'),
      })),
      metrics: r.sample(['orders_per_min', 'latency_p95', 'active_users', 'cart_abandonment', 'gmv'], r.int(1, 3)),
    };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    let t = t0;
    const rt = route(d, 'reports', '/{name}');
    const day = isoDate(t0 - 86_400_000);
    for (const rep of p.reports) {
      for (let page = 1; page <= rep.pages; page++) {
        t = ctx.call(t, {
          method: 'GET',
          route: rt,
          path: `${fill(rt, rep.name)}?date=${day}&page=${page}`,
          latency: 900,
          bytesOut: r.lognormal(rep.bytes, 0.12),
          action: { name: 'report.read', sensitivity: rep.sensitive ? 'medium' : 'low', requiredScope: scope(d, 'reports', 'read') },
        });
        t += r.range(150, 1500);
      }
    }
    for (const m of p.metrics) {
      const mt = route(d, 'metrics', '/{name}');
      t = ctx.call(t + r.range(100, 800), {
        method: 'GET',
        route: mt,
        path: `${fill(mt, m)}?window=1h`,
        latency: 150,
        bytesOut: r.lognormal(4000, 0.3),
        action: { name: 'metric.read', sensitivity: 'low', requiredScope: scope(d, 'metrics', 'read') },
      });
    }
  },
});

// ---------------------------------------------------------------------------------------------

interface InventoryParams {
  skus: string[];
  batchMean: number;
  bulk: boolean;
}

const inventory = defineProfile<InventoryParams>({
  name: 'inventory-sync',
  auth: [
    ['mtls', 4],
    ['api_key', 3],
    ['http_signature', 1],
  ],
  net: [
    ['cloud', 3],
    ['hosting', 1],
  ],
  diurnal: 'flat',
  schedule: { kind: 'periodic', periodMin: [15, 60], gated: false },
  userAgents: ['stock-sync/{v}', 'erp-connector/{v} (java/17)', 'Go-http-client/1.1', 'inventory-bridge/{v}'],
  scopes: (d) => ({
    base: [scope(d, 'inventory', 'read'), scope(d, 'inventory', 'write'), scope(d, 'catalog', 'read')],
    extra: [scope(d, 'catalog', 'write'), scope(d, 'orders', 'read')],
  }),
  init(ctx) {
    const r = ctx.rng;
    if (r.chance(0.6)) ctx.agent.p429 *= 3;
    return {
      skus: Array.from({ length: r.int(40, 400) }, () => `${r.chars(3, 'ABCDEFGHJKLMNPQRSTUVWXYZ')}-${r.int(1000, 99999)}`),
      batchMean: r.range(4, 25),
      bulk: r.chance(0.3),
    };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    let t = ctx.call(t0, {
      method: 'GET',
      route: route(d, 'inventory'),
      path: `${route(d, 'inventory')}?updatedSince=${new Date(t0 - 3_600_000).toISOString().slice(0, 19)}Z`,
      latency: 200,
      bytesOut: r.lognormal(30_000, 0.4),
      action: { name: 'inventory.list', sensitivity: 'low', requiredScope: scope(d, 'inventory', 'read') },
    });
    const k = Math.max(1, Math.round(p.batchMean * r.range(0.7, 1.3)));
    if (p.bulk) {
      const chunks = Math.max(1, Math.round(k / 6));
      for (let i = 0; i < chunks; i++) {
        t = ctx.call(t + r.range(80, 400), {
          method: 'POST',
          route: route(d, 'inventory', '/batch'),
          status: 202,
          latency: 400,
          bytesIn: r.lognormal(60_000, 0.5),
          bytesOut: r.int(200, 800),
          action: { name: 'inventory.batch_update', sensitivity: 'medium', requiredScope: scope(d, 'inventory', 'write') },
        });
      }
    } else {
      const it = route(d, 'inventory', '/{sku}');
      for (let i = 0; i < k; i++) {
        t = ctx.call(t + r.range(60, 400), {
          method: 'PUT',
          route: it,
          path: fill(it, r.pick(p.skus)),
          status: r.chance(0.01) ? 404 : 200,
          latency: 45,
          bytesIn: r.int(80, 300),
          bytesOut: r.int(150, 500),
          action: { name: 'inventory.update', sensitivity: 'medium', requiredScope: scope(d, 'inventory', 'write') },
        });
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------

interface CodingParams {
  developer: string;
  files: string[];
  thinkS: number;
  lengthMean: number;
}

const DIRS = ['src', 'src/api', 'src/lib', 'src/components', 'test', 'pkg/server', 'internal/db', 'app/models', 'scripts', 'docs'];
const EXTS = ['ts', 'tsx', 'py', 'go', 'md', 'json', 'yaml', 'rs'];

const coding = defineProfile<CodingParams>({
  name: 'coding-assistant',
  auth: [
    ['oauth2', 5],
    ['http_signature', 2],
    ['mtls', 1],
  ],
  net: [
    ['cloud', 3],
    ['residential', 2],
  ],
  diurnal: 'business',
  schedule: { kind: 'poisson', perDay: [4, 12] },
  userAgents: ['claude-code/{v}', 'mcp-client/{v} (vscode)', 'Cursor-MCP/{v}', 'codex-cli/{v}', 'continue-dev/{v}'],
  scopes: (d) => ({
    base: [scope(d, 'repo', 'read'), scope(d, 'repo', 'write'), scope(d, 'ci', 'run'), scope(d, 'web', 'fetch')],
    extra: [scope(d, 'config', 'write'), scope(d, 'admin', 'read')],
  }),
  init(ctx) {
    const r = ctx.rng;
    const files = Array.from(
      { length: r.int(30, 200) },
      () =>
        `${r.pick(DIRS)}/${r.pick(['index', 'util', 'handler', 'service', 'store', 'client', 'types', 'config', 'main', 'parser', 'router', 'auth'])}${r.chance(0.5) ? '-' + r.chars(4) : ''}.${r.pick(EXTS)}`,
    );
    return { developer: `dev-${r.chars(6)}`, files, thinkS: r.range(1, 5), lengthMean: r.range(10, 40) };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const u = p.developer;
    let t = ctx.call(t0, {
      method: 'TOOL',
      route: mcp(d, 'fs', 'list_dir'),
      path: r.pick(DIRS),
      latency: 30,
      bytesOut: r.lognormal(2500, 0.4),
      action: { name: 'fs.list', sensitivity: 'low', requiredScope: scope(d, 'repo', 'read') },
      onBehalfOf: u,
    });
    const n = Math.min(120, r.geometric(p.lengthMean));
    for (let i = 0; i < n; i++) {
      t += ctx.think(p.thinkS, 0.9);
      const kind = r.weighted<string>([
        ['read', 10],
        ['search', 3],
        ['write', 3],
        ['test', 1.5],
        ['diff', 1],
        ['commit', 0.3],
        ['web', 0.5],
      ]);
      switch (kind) {
        case 'read':
          t = ctx.call(t, {
            method: 'TOOL',
            route: mcp(d, 'fs', 'read_file'),
            path: r.pick(p.files),
            status: r.chance(0.03) ? 404 : 200,
            latency: 25,
            bytesOut: r.lognormal(9000, 0.8),
            action: { name: 'file.read', sensitivity: 'low', requiredScope: scope(d, 'repo', 'read') },
            onBehalfOf: u,
          });
          break;
        case 'search':
          t = ctx.call(t, {
            method: 'TOOL',
            route: mcp(d, 'code', 'search_code'),
            latency: 300,
            bytesOut: r.lognormal(6000, 0.6),
            action: { name: 'code.search', sensitivity: 'low', requiredScope: scope(d, 'repo', 'read') },
            onBehalfOf: u,
          });
          break;
        case 'write':
          t = ctx.call(t, {
            method: 'TOOL',
            route: mcp(d, 'fs', 'write_file'),
            path: r.pick(p.files),
            latency: 30,
            bytesIn: r.lognormal(5000, 0.8),
            bytesOut: r.int(60, 200),
            action: { name: 'file.write', sensitivity: 'medium', requiredScope: scope(d, 'repo', 'write') },
            onBehalfOf: u,
          });
          break;
        case 'test':
          t = ctx.call(t, {
            method: 'TOOL',
            route: mcp(d, 'ci', 'run_tests'),
            latency: r.range(4000, 90_000),
            bytesOut: r.lognormal(12_000, 0.7),
            action: { name: 'tests.run', sensitivity: 'low', requiredScope: scope(d, 'ci', 'run') },
            onBehalfOf: u,
          });
          break;
        case 'diff':
          t = ctx.call(t, {
            method: 'TOOL',
            route: mcp(d, 'git', 'git_diff'),
            latency: 80,
            bytesOut: r.lognormal(7000, 0.7),
            action: { name: 'git.diff', sensitivity: 'low', requiredScope: scope(d, 'repo', 'read') },
            onBehalfOf: u,
          });
          break;
        case 'commit':
          t = ctx.call(t, {
            method: 'TOOL',
            route: mcp(d, 'git', 'git_commit'),
            latency: 250,
            bytesIn: r.int(200, 900),
            bytesOut: r.int(100, 400),
            action: { name: 'git.commit', sensitivity: 'medium', requiredScope: scope(d, 'repo', 'write') },
            onBehalfOf: u,
          });
          break;
        default:
          t = ctx.call(t, {
            method: 'TOOL',
            route: mcp(d, 'web', 'web_fetch'),
            latency: 700,
            bytesOut: r.lognormal(40_000, 0.7),
            action: { name: 'web.fetch', sensitivity: 'low', requiredScope: scope(d, 'web', 'fetch') },
            onBehalfOf: u,
          });
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------

interface CrawlerParams {
  delayS: number;
  pagesMean: number;
  withAction: boolean;
}

const crawler = defineProfile<CrawlerParams>({
  name: 'search-crawler',
  auth: [['http_signature', 1]],
  net: [['cloud', 1]],
  diurnal: 'flat',
  schedule: { kind: 'poisson', perDay: [4, 10] },
  userAgents: [
    'ExampleSearchBot/{v} (+https://search.example/bot)',
    'Mozilla/5.0 (compatible; IndexerBot/{v}; +https://indexer.example/about)',
    'AcmeCrawler/{v}',
  ],
  scopes: () => ({ base: [], extra: [] }),
  init(ctx) {
    const r = ctx.rng;
    ctx.agent.p429 = r.range(0.003, 0.01);
    return { delayS: r.range(0.6, 2.5), pagesMean: r.range(25, 90), withAction: r.chance(0.5) };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const act = p.withAction ? { action: { name: 'page.read', sensitivity: 'low' as const } } : {};
    let t = ctx.call(t0, { method: 'GET', route: '/robots.txt', path: '/robots.txt', latency: 20, bytesOut: r.int(300, 2000), ...act });
    if (r.chance(0.3))
      t = ctx.call(t + p.delayS * 1000, {
        method: 'GET',
        route: '/sitemap.xml',
        path: '/sitemap.xml',
        latency: 60,
        bytesOut: r.lognormal(200_000, 0.4),
        ...act,
      });
    const n = Math.min(400, r.geometric(p.pagesMean));
    const prod = `/${d.res.products}/{id}`;
    for (let i = 0; i < n; i++) {
      t += Math.max(150, r.normal(p.delayS * 1000, p.delayS * 200));
      const kind = r.weighted<string>([
        ['product', 6],
        ['category', 2],
        ['blog', 1.5],
        ['help', 1],
        ['home', 0.3],
      ]);
      const status = r.weighted<number>([
        [200, 85],
        [304, 8],
        [404, 4],
        [301, 3],
      ]);
      const bytesOut = status === 200 ? r.lognormal(60_000, 0.5) : r.int(150, 600);
      let rt = '/';
      let path = '/';
      if (kind === 'product') {
        rt = prod;
        path = fill(prod, idOf(d, r, 'products'));
      } else if (kind === 'category') {
        rt = `/${d.res.categories}/{slug}`;
        path = fill(rt, r.pick(SLUGS));
      } else if (kind === 'blog') {
        rt = '/blog/{slug}';
        path = `/blog/${r.pick(SLUGS)}-${r.int(2019, 2025)}`;
      } else if (kind === 'help') {
        rt = '/help/{slug}';
        path = fill(rt, r.pick(SLUGS));
      }
      t = ctx.call(t, { method: 'GET', route: rt, path, status, latency: 70, bytesOut, ...act });
    }
  },
});

// ---------------------------------------------------------------------------------------------

interface PersonalParams {
  user: string;
  payments: boolean;
  thinkS: number;
}

const personal = defineProfile<PersonalParams>({
  name: 'personal-assistant',
  auth: [
    ['oauth2', 6],
    ['http_signature', 2],
  ],
  net: [
    ['mobile', 3],
    ['residential', 3],
    ['cloud', 2],
  ],
  diurnal: 'personal',
  schedule: { kind: 'poisson', perDay: [10, 28] },
  userAgents: ['PocketPal/{v} (iOS 17.4)', 'PocketPal/{v} (Android 14)', 'Mira-Assistant/{v}', 'openai-agents-js/{v} (assistant)', 'HomeButler/{v}'],
  scopes: (d) => ({
    base: [
      scope(d, 'mail', 'read'),
      scope(d, 'mail', 'send'),
      scope(d, 'calendar', 'read'),
      scope(d, 'calendar', 'write'),
      scope(d, 'notes', 'read'),
      scope(d, 'notes', 'write'),
    ],
    extra: [scope(d, 'payments', 'write'), scope(d, 'account', 'write'), scope(d, 'catalog', 'read')],
  }),
  init(ctx) {
    const r = ctx.rng;
    return { user: userId(ctx.d, r), payments: ctx.agent.scopes?.includes(scope(ctx.d, 'payments', 'write')) ?? false, thinkS: r.range(3, 10) };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const u = p.user;
    let t = t0;
    if (r.chance(0.04)) t = login(ctx, t, u) + ctx.think(2);
    const tasks = r.int(1, 3);
    for (let k = 0; k < tasks; k++) {
      const task = r.weighted<string>([
        ['mail', 5],
        ['calendar', 4],
        ['notes', 2],
        ['send', 1],
        ['buy', p.payments ? 0.4 : 0],
      ]);
      if (task === 'mail') {
        t = ctx.call(t, {
          method: 'GET',
          route: route(d, 'messages'),
          path: `${route(d, 'messages')}?folder=inbox&limit=20`,
          latency: 180,
          bytesOut: r.lognormal(25_000, 0.5),
          action: { name: 'mail.list', sensitivity: 'medium', requiredScope: scope(d, 'mail', 'read') },
          onBehalfOf: u,
        });
        const n = r.int(0, 4);
        const mt = route(d, 'messages', '/{id}');
        for (let i = 0; i < n; i++)
          t = ctx.call(t + ctx.think(p.thinkS), {
            method: 'GET',
            route: mt,
            path: fill(mt, r.uuid()),
            latency: 90,
            bytesOut: r.lognormal(12_000, 0.8),
            action: { name: 'mail.read', sensitivity: 'medium', requiredScope: scope(d, 'mail', 'read') },
            onBehalfOf: u,
          });
      } else if (task === 'calendar') {
        const day = isoDate(t);
        t = ctx.call(t, {
          method: 'GET',
          route: route(d, 'calendar'),
          path: `${route(d, 'calendar')}?from=${day}&days=${r.int(1, 7)}`,
          latency: 120,
          bytesOut: r.lognormal(6000, 0.5),
          action: { name: 'calendar.list', sensitivity: 'low', requiredScope: scope(d, 'calendar', 'read') },
          onBehalfOf: u,
        });
        if (r.chance(0.2))
          t = ctx.call(t + ctx.think(p.thinkS), {
            method: 'POST',
            route: route(d, 'calendar'),
            status: 201,
            latency: 160,
            bytesIn: r.int(300, 1200),
            bytesOut: r.int(300, 900),
            action: { name: 'calendar.create', sensitivity: 'low', requiredScope: scope(d, 'calendar', 'write') },
            onBehalfOf: u,
          });
      } else if (task === 'notes') {
        const nt = route(d, 'notes', '/{id}');
        const id = r.uuid();
        t = ctx.call(t, {
          method: 'GET',
          route: nt,
          path: fill(nt, id),
          latency: 70,
          bytesOut: r.lognormal(3000, 0.7),
          action: { name: 'note.read', sensitivity: 'low', requiredScope: scope(d, 'notes', 'read') },
          onBehalfOf: u,
        });
        if (r.chance(0.4))
          t = ctx.call(t + ctx.think(p.thinkS), {
            method: 'PUT',
            route: nt,
            path: fill(nt, id),
            latency: 90,
            bytesIn: r.lognormal(2500, 0.7),
            bytesOut: r.int(100, 300),
            action: { name: 'note.update', sensitivity: 'low', requiredScope: scope(d, 'notes', 'write') },
            onBehalfOf: u,
          });
      } else if (task === 'send') {
        t = ctx.call(t, {
          method: 'POST',
          route: route(d, 'messages'),
          status: 202,
          latency: 400,
          bytesIn: r.lognormal(3000, 0.8),
          bytesOut: r.int(200, 500),
          action: { name: 'mail.send', sensitivity: 'medium', requiredScope: scope(d, 'mail', 'send') },
          onBehalfOf: u,
        });
      } else {
        const amount = money(Math.max(4, r.lognormal(45, 0.8)), d.currency);
        t = ctx.call(t, {
          method: 'POST',
          route: route(d, 'payments'),
          status: r.chance(0.03) ? 402 : 201,
          latency: 700,
          bytesIn: r.int(300, 900),
          bytesOut: r.int(400, 1200),
          action: { name: 'payment.create', sensitivity: 'high', amount, currency: d.currency, requiredScope: scope(d, 'payments', 'write') },
          onBehalfOf: u,
        });
      }
      t += ctx.think(p.thinkS * 2);
    }
  },
});

// ---------------------------------------------------------------------------------------------

interface PriceParams {
  watch: string[];
  statusP: number;
}

const priceMonitor = defineProfile<PriceParams>({
  name: 'price-monitor',
  auth: [
    ['none', 3],
    ['api_key', 2],
  ],
  net: [
    ['cloud', 2],
    ['hosting', 2],
    ['residential', 1],
  ],
  diurnal: 'flat',
  schedule: { kind: 'periodic', periodMin: [20, 90], gated: false },
  userAgents: ['PriceHawk/{v}', 'python-requests/2.32.3', 'node-fetch/1.0 (+https://pricewatch.example)', 'curl/8.5.0', 'deal-radar/{v}'],
  scopes: (d) => ({ base: [scope(d, 'catalog', 'read')], extra: [] }),
  init(ctx) {
    const r = ctx.rng;
    const d = ctx.d;
    // A watchlist polled in ascending id order: increasing ids that are not an enumeration.
    const watch = Array.from({ length: r.int(4, 25) }, () => idOf(d, r, 'products'));
    if (d.ids.products === 'num') watch.sort((a, b) => Number(a) - Number(b));
    ctx.agent.traits.push('sorted_watchlist');
    return { watch, statusP: r.range(0, 0.2) };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const pt = route(d, 'products', '/{id}/price');
    let t = t0;
    for (const id of p.watch) {
      t = ctx.call(t + r.range(50, 600), {
        method: 'GET',
        route: pt,
        path: fill(pt, id),
        status: r.chance(0.15) ? 304 : 200,
        latency: 35,
        bytesOut: r.int(250, 1500),
        action: { name: 'price.read', sensitivity: 'low' },
      });
    }
    if (r.chance(p.statusP)) ctx.call(t + 200, { method: 'GET', route: route(d, 'status'), latency: 10, bytesOut: r.int(60, 200) });
  },
});

// ---------------------------------------------------------------------------------------------

interface OpsParams {
  operator: string;
  thinkS: number;
}

const itOps = defineProfile<OpsParams>({
  name: 'it-ops',
  auth: [
    ['mtls', 3],
    ['http_signature', 2],
  ],
  net: [['cloud', 1]],
  diurnal: 'ops',
  schedule: { kind: 'poisson', perDay: [3, 10] },
  userAgents: ['opsbot/{v}', 'terraform-agent/{v}', 'runbook-runner/{v} (python/3.12)', 'platform-automation/{v}'],
  scopes: (d) => ({
    base: [scope(d, 'admin', 'read'), scope(d, 'users', 'admin'), scope(d, 'keys', 'admin'), scope(d, 'config', 'write'), scope(d, 'audit', 'read')],
    extra: [],
  }),
  init(ctx) {
    return { operator: `oncall-${ctx.rng.chars(5)}`, thinkS: ctx.rng.range(2, 8) };
  },
  session(ctx, p, t0) {
    const { d, rng: r } = ctx;
    const u = r.chance(0.5) ? p.operator : undefined;
    const ob = u ? { onBehalfOf: u } : {};
    let t = ctx.call(t0, {
      method: 'GET',
      route: route(d, 'admin', '/users'),
      path: `${route(d, 'admin', '/users')}?status=active&limit=100`,
      latency: 150,
      bytesOut: r.lognormal(30_000, 0.4),
      action: { name: 'user.list', sensitivity: 'medium', requiredScope: scope(d, 'admin', 'read') },
      ...ob,
    });
    const n = r.int(2, 12);
    for (let i = 0; i < n; i++) {
      t += ctx.think(p.thinkS);
      const kind = r.weighted<string>([
        ['audit', 3],
        ['rotate', 2],
        ['role', 1],
        ['config', 2],
        ['disable', 1],
      ]);
      if (kind === 'audit') {
        t = ctx.call(t, {
          method: 'GET',
          route: route(d, 'audit'),
          path: `${route(d, 'audit')}?since=${isoDate(t)}`,
          latency: 300,
          bytesOut: r.lognormal(50_000, 0.5),
          action: { name: 'audit.read', sensitivity: 'high', requiredScope: scope(d, 'audit', 'read') },
          ...ob,
        });
      } else if (kind === 'rotate') {
        const kt = route(d, 'admin', '/api-keys/{id}/rotate');
        t = ctx.call(t, {
          method: 'POST',
          route: kt,
          path: fill(kt, `key_${r.hex(8)}`),
          latency: 250,
          bytesIn: 60,
          bytesOut: r.int(300, 600),
          action: { name: 'api_key.rotate', sensitivity: 'critical', requiredScope: scope(d, 'keys', 'admin') },
          ...ob,
        });
      } else if (kind === 'role') {
        const rt = route(d, 'admin', '/users/{id}/roles');
        t = ctx.call(t, {
          method: 'POST',
          route: rt,
          path: fill(rt, idOf(d, r, 'users')),
          latency: 200,
          bytesIn: r.int(80, 200),
          bytesOut: r.int(200, 500),
          action: { name: 'user.role_grant', sensitivity: 'critical', requiredScope: scope(d, 'users', 'admin') },
          ...ob,
        });
      } else if (kind === 'config') {
        const ct = route(d, 'admin', '/config/{key}');
        t = ctx.call(t, {
          method: 'PUT',
          route: ct,
          path: fill(ct, r.pick(['rate_limits', 'feature_flags', 'cors', 'retention', 'smtp'])),
          latency: 180,
          bytesIn: r.int(200, 2000),
          bytesOut: r.int(100, 400),
          action: { name: 'config.update', sensitivity: 'high', requiredScope: scope(d, 'config', 'write') },
          ...ob,
        });
      } else {
        const dt = route(d, 'admin', '/users/{id}/disable');
        t = ctx.call(t, {
          method: 'POST',
          route: dt,
          path: fill(dt, idOf(d, r, 'users')),
          latency: 200,
          bytesIn: 40,
          bytesOut: r.int(150, 400),
          action: { name: 'user.disable', sensitivity: 'high', requiredScope: scope(d, 'users', 'admin') },
          ...ob,
        });
      }
    }
  },
});

/** Every benign profile by name. */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  shopping,
  'travel-booking': travel,
  'customer-support': support,
  analytics,
  'inventory-sync': inventory,
  'coding-assistant': coding,
  'search-crawler': crawler,
  'personal-assistant': personal,
  'price-monitor': priceMonitor,
  'it-ops': itOps,
};

/** Share of each profile in a benign population. */
export const PROFILE_MIX: readonly (readonly [ProfileName, number])[] = [
  ['shopping', 22],
  ['travel-booking', 9],
  ['customer-support', 11],
  ['analytics', 6],
  ['inventory-sync', 6],
  ['coding-assistant', 12],
  ['search-crawler', 5],
  ['personal-assistant', 17],
  ['price-monitor', 7],
  ['it-ops', 5],
];
