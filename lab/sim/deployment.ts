/**
 * A deployment is the API surface of one tenant: URL prefix, resource names, id styles,
 * scope naming and purpose names. Routes, actions and scopes are deployment-specific in
 * the contract, so every seed draws its own surface: a detector fitted on one set must not
 * depend on `/api/v1/products` or on `catalog:read` spelled one way.
 */
import type { Rng } from './prng.ts';
import type { ProfileName } from './types.ts';

/** Logical resources of the simulated APIs. */
export type Resource =
  | 'products'
  | 'categories'
  | 'cart'
  | 'checkout'
  | 'payments'
  | 'orders'
  | 'refunds'
  | 'customers'
  | 'tickets'
  | 'reports'
  | 'metrics'
  | 'exports'
  | 'inventory'
  | 'flights'
  | 'hotels'
  | 'bookings'
  | 'calendar'
  | 'messages'
  | 'notes'
  | 'account'
  | 'admin'
  | 'users'
  | 'invoices'
  | 'payouts'
  | 'auth'
  | 'pages'
  | 'status'
  | 'audit';

/** Logical scope domains. */
export type ScopeDomain =
  | 'catalog'
  | 'cart'
  | 'orders'
  | 'payments'
  | 'customers'
  | 'tickets'
  | 'refunds'
  | 'reports'
  | 'metrics'
  | 'inventory'
  | 'travel'
  | 'bookings'
  | 'calendar'
  | 'mail'
  | 'notes'
  | 'repo'
  | 'ci'
  | 'web'
  | 'account'
  | 'admin'
  | 'users'
  | 'payouts'
  | 'invoices'
  | 'exports'
  | 'keys'
  | 'audit'
  | 'config';

export type ScopeVerb = 'read' | 'write' | 'send' | 'run' | 'fetch' | 'admin' | 'export';

const RESOURCE_NAMES: Readonly<Record<Resource, readonly string[]>> = {
  products: ['products', 'items', 'catalog/items', 'catalog/products'],
  categories: ['categories', 'collections', 'catalog/categories'],
  cart: ['cart', 'basket'],
  checkout: ['checkout', 'checkouts'],
  payments: ['payments', 'charges', 'payment-intents'],
  orders: ['orders', 'purchases'],
  refunds: ['refunds', 'returns'],
  customers: ['customers', 'clients', 'crm/customers'],
  tickets: ['tickets', 'cases', 'helpdesk/tickets'],
  reports: ['reports', 'analytics/reports', 'insights'],
  metrics: ['metrics', 'analytics/metrics', 'kpis'],
  exports: ['exports', 'data-exports', 'bulk/exports'],
  inventory: ['inventory', 'stock', 'warehouse/stock'],
  flights: ['flights', 'air/offers'],
  hotels: ['hotels', 'lodging/offers', 'stays'],
  bookings: ['bookings', 'reservations', 'trips'],
  calendar: ['calendar/events', 'events'],
  messages: ['messages', 'mail/messages'],
  notes: ['notes', 'docs'],
  account: ['account', 'me', 'profile'],
  admin: ['admin', 'internal/admin', 'backoffice'],
  users: ['users', 'members'],
  invoices: ['invoices', 'billing/invoices'],
  payouts: ['payouts', 'settlements'],
  auth: ['auth', 'sessions'],
  pages: ['', ''],
  status: ['status', 'health'],
  audit: ['audit-logs', 'audit/events'],
};

/** How ids of a resource look in concrete paths. */
export type IdStyle = 'num' | 'uuid' | 'sku';

/** API surface of one tenant. */
export interface Deployment {
  tenant: string;
  /** URL prefix in front of every API route, e.g. `/api/v1`, `/v2` or `` */
  prefix: string;
  scopeStyle: 'colon' | 'dot' | 'verb-first' | 'url';
  scopeHost: string;
  res: Record<Resource, string>;
  ids: Record<Resource, IdStyle>;
  /** first numeric id and catalogue size for numeric resources */
  idBase: Record<Resource, number>;
  idSpan: Record<Resource, number>;
  purposes: Record<ProfileName, string>;
  currency: string;
  /** MCP tool-name style */
  mcpStyle: 'flat' | 'namespaced';
  /** site host used by public pages */
  site: string;
}

const PURPOSES: Readonly<Record<ProfileName, readonly string[]>> = {
  shopping: ['shopping', 'shopping-assistant', 'commerce'],
  'travel-booking': ['travel', 'travel-booking', 'trip-planner'],
  'customer-support': ['support', 'customer-support', 'helpdesk'],
  analytics: ['analytics', 'reporting', 'bi'],
  'inventory-sync': ['inventory-sync', 'inventory', 'stock-sync'],
  'coding-assistant': ['coding-assistant', 'dev-assistant', 'code'],
  'search-crawler': ['search-crawler', 'crawler', 'indexer'],
  'personal-assistant': ['personal-assistant', 'assistant', 'concierge'],
  'price-monitor': ['price-monitor', 'price-watch', 'monitoring'],
  'it-ops': ['it-automation', 'ops', 'platform-admin'],
};

/** Draw the API surface of a tenant. */
export function makeDeployment(rng: Rng, tenant: string): Deployment {
  const prefix = rng.weighted<string>([
    ['/api/v1', 4],
    ['/v2', 2],
    ['/api', 2],
    ['', 1],
    ['/api/v3', 1],
    ['/rest/v1', 1],
  ]);
  const res = {} as Record<Resource, string>;
  const ids = {} as Record<Resource, IdStyle>;
  const idBase = {} as Record<Resource, number>;
  const idSpan = {} as Record<Resource, number>;
  for (const key of Object.keys(RESOURCE_NAMES) as Resource[]) {
    res[key] = rng.pick(RESOURCE_NAMES[key]);
    ids[key] = 'num';
    const digits = rng.int(3, 6);
    idBase[key] = rng.int(1, 9) * 10 ** digits;
    idSpan[key] = rng.int(2, 9) * 10 ** (digits - 1);
  }
  // Products vary most between shops; orders, customers and tickets stay enumerable numbers
  // in some deployments and opaque in others.
  ids.products = rng.weighted<IdStyle>([
    ['num', 5],
    ['uuid', 2],
    ['sku', 2],
  ]);
  ids.customers = rng.weighted<IdStyle>([
    ['num', 3],
    ['uuid', 2],
  ]);
  ids.bookings = rng.weighted<IdStyle>([
    ['num', 1],
    ['uuid', 2],
  ]);
  ids.messages = 'uuid';
  ids.notes = 'uuid';
  ids.calendar = 'uuid';
  ids.exports = rng.weighted<IdStyle>([
    ['num', 1],
    ['uuid', 1],
  ]);
  ids.orders = 'num';
  ids.invoices = 'num';
  ids.tickets = 'num';
  ids.users = rng.weighted<IdStyle>([
    ['num', 2],
    ['uuid', 1],
  ]);
  const purposes = {} as Record<ProfileName, string>;
  for (const key of Object.keys(PURPOSES) as ProfileName[]) purposes[key] = rng.pick(PURPOSES[key]);
  const siteWord = rng.pick(['shop', 'store', 'market', 'outlet', 'goods', 'mart']);
  return {
    tenant,
    prefix,
    scopeStyle: rng.weighted<Deployment['scopeStyle']>([
      ['colon', 4],
      ['dot', 2],
      ['verb-first', 2],
      ['url', 1],
    ]),
    scopeHost: `https://api.${rng.pick(['example', 'acme', 'contoso', 'initech', 'globex'])}.test`,
    res,
    ids,
    idBase,
    idSpan,
    purposes,
    currency: rng.weighted<string>([
      ['USD', 5],
      ['EUR', 3],
      ['GBP', 1],
      ['JPY', 1],
    ]),
    mcpStyle: rng.pick(['flat', 'namespaced'] as const),
    site: `www.${siteWord}.example`,
  };
}

/** Scope string of a domain and verb, in this deployment's naming style. */
export function scope(d: Deployment, domain: ScopeDomain, verb: ScopeVerb): string {
  switch (d.scopeStyle) {
    case 'colon':
      return `${domain}:${verb}`;
    case 'dot':
      return `${domain}.${verb}`;
    case 'verb-first':
      return `${verb}:${domain}`;
    case 'url':
      return `${d.scopeHost}/${domain}.${verb}`;
  }
}

/** Templated API route of a resource, e.g. `route(d, 'products', '/{id}')` → `/api/v1/items/{id}`. */
export function route(d: Deployment, r: Resource, suffix = ''): string {
  const name = d.res[r];
  const base = name === '' ? '' : `/${name}`;
  const out = `${d.prefix}${base}${suffix}`;
  return out === '' ? '/' : out;
}

/** A concrete id of a resource in this deployment. */
export function idOf(d: Deployment, rng: Rng, r: Resource): string {
  switch (d.ids[r]) {
    case 'num':
      return String(d.idBase[r] + rng.int(0, d.idSpan[r] - 1));
    case 'uuid':
      return rng.uuid();
    case 'sku':
      return `${rng.chars(3, 'ABCDEFGHJKLMNPQRSTUVWXYZ')}-${rng.int(1000, 99999)}`;
  }
}

/** Concrete path: the route with `{id}`-like placeholders replaced in order. */
export function fill(template: string, ...values: string[]): string {
  let i = 0;
  return template.replace(/\{[a-zA-Z]+\}/g, (m) => values[i++] ?? m);
}

/** MCP route of a tool in this deployment's naming style. */
export function mcp(d: Deployment, group: 'fs' | 'code' | 'git' | 'ci' | 'web' | 'shell' | 'db', tool: string): string {
  return d.mcpStyle === 'flat' ? `mcp:${tool}` : `mcp:${group}.${tool}`;
}
