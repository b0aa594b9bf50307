/**
 * Demo tools of the example MCP server: orders, customers, payments, an admin surface and a
 * production deployment — enough to show every kind of verdict. Input schemas are TypeBox
 * (plain JSON Schema on the wire).
 */
import { Type } from '@sinclair/typebox';
import type { GatedTool } from './server.ts';

const text = (value: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value) }] });

export const DEMO_TOOLS: GatedTool[] = [
  {
    name: 'order_get',
    description: 'Read one order by id.',
    inputSchema: Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
    requiredScope: 'orders:read',
    action: () => ({ name: 'orders.read', sensitivity: 'low' }),
    run: (args) => text({ id: args.id, status: 'shipped', total: 42.5 }),
  },
  {
    name: 'customer_lookup',
    description: "Read a customer's record (business hours of the tenant only).",
    inputSchema: Type.Object({ customerId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
    requiredScope: 'customers:read',
    action: () => ({ name: 'customer.read', sensitivity: 'medium' }),
    run: (args) => text({ customerId: args.customerId, name: 'A. Customer', tier: 'gold' }),
  },
  {
    name: 'payment_create',
    description: 'Pay an amount. Large amounts wait for a human.',
    inputSchema: Type.Object(
      { amount: Type.Number({ exclusiveMinimum: 0, maximum: 1e9 }), currency: Type.String({ pattern: '^[A-Z]{3}$' }) },
      { additionalProperties: false },
    ),
    requiredScope: 'payments:write',
    action: (args) => ({ name: 'payment.create', sensitivity: 'high', amount: args.amount as number, currency: args.currency as string }),
    run: (args) => text({ paid: args.amount, currency: args.currency }),
  },
  {
    name: 'admin_list_users',
    description: 'List the users of the account (admin only).',
    inputSchema: Type.Object({}, { additionalProperties: false }),
    requiredScope: 'admin',
    action: () => ({ name: 'admin.users.list', sensitivity: 'high' }),
    run: () => text({ users: ['alice', 'bob'] }),
  },
  {
    name: 'admin_rotate_keys',
    description: 'Rotate the API keys of the account (admin only).',
    inputSchema: Type.Object({}, { additionalProperties: false }),
    requiredScope: 'admin',
    action: () => ({ name: 'admin.keys.rotate', sensitivity: 'critical' }),
    run: () => text({ rotated: true }),
  },
  {
    name: 'deploy_production',
    description: 'Deploy a release to production (release windows, with an elevation grant).',
    inputSchema: Type.Object({ release: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
    requiredScope: 'deploy',
    action: () => ({ name: 'deploy.production', sensitivity: 'high' }),
    run: (args) => text({ deployed: args.release }),
  },
];
