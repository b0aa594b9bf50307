/**
 * The example API behind the gateway: orders, payments and an admin surface, with the
 * trustline meaning of each route (route template, required scope, business action).
 */
import type { Route } from './gateway.ts';

export const DEMO_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    route: '/orders/{id}',
    requiredScope: 'orders:read',
    handler: ({ params }) => ({ status: 200, body: { id: params[0], status: 'shipped' } }),
  },
  {
    method: 'POST',
    route: '/payments',
    requiredScope: 'payments:write',
    action: (body) => {
      const b = (body ?? {}) as { amount?: unknown; currency?: unknown };
      const amount = typeof b.amount === 'number' && b.amount >= 0 ? b.amount : 0;
      return {
        name: 'payment.create',
        sensitivity: amount >= 1000 ? 'critical' : 'high',
        amount,
        currency: typeof b.currency === 'string' && /^[A-Z]{3}$/.test(b.currency) ? b.currency : 'EUR',
      };
    },
    handler: ({ body }) => ({ status: 200, body: { paid: (body as { amount?: number } | null)?.amount ?? 0 } }),
  },
  { method: 'GET', route: '/admin/users', requiredScope: 'admin', handler: () => ({ status: 200, body: [] }) },
  { method: 'GET', route: '/admin/keys', requiredScope: 'admin', handler: () => ({ status: 200, body: [] }) },
  { method: 'GET', route: '/admin/payouts', requiredScope: 'admin', handler: () => ({ status: 200, body: [] }) },
];
