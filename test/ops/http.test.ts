/**
 * The operations endpoint without services: `/agents/<id>` answers from the lookup it is given
 * (200, 404, 400 on a bad id, absent when `off`), `/readyz` and `trustline_ready` agree, and
 * only loopback addresses count as loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentView } from '../../src/inspect/agent-view.ts';
import { isLoopback, startHttp } from '../../src/ops/http.ts';
import { createMetrics } from '../../src/ops/metrics.ts';

const view = { agentId: 'a/1', tenant: 't', trust: 0.5 } as unknown as AgentView;

describe('ops http', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it('serves GET /agents/<id> from the lookup, read-only', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const asked: unknown[] = [];
    let ready = false;
    const http = await startHttp('127.0.0.1', 0, m.registry, () => ({ ready, detail: {} }), {
      lookup: async (key) => {
        asked.push(key);
        return key.agentId === 'a/1' ? view : null;
      },
    });
    closers.push(http.close);
    const base = `http://127.0.0.1:${http.port}`;
    const res = await fetch(`${base}/agents/${encodeURIComponent('a/1')}?tenant=t`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(view);
    expect((await fetch(`${base}/agents/b`)).status).toBe(404);
    expect((await fetch(`${base}/agents/%E0%A4%A`)).status).toBe(400);
    expect((await fetch(`${base}/agents/a`, { method: 'DELETE' })).status).toBe(405);
    expect(asked).toEqual([
      { tenant: 't', agentId: 'a/1' },
      { tenant: 'default', agentId: 'b' },
    ]);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^trustline_ready 0$/m);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^trustline_ready 1$/m);
  });

  it('has no /agents route when turned off', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const http = await startHttp('127.0.0.1', 0, m.registry, () => ({ ready: true, detail: {} }), { lookup: async () => view, access: 'off' });
    closers.push(http.close);
    expect((await fetch(`http://127.0.0.1:${http.port}/agents/a`)).status).toBe(404);
  });

  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.127', 'fe80::1', '', undefined]) expect(isLoopback(a)).toBe(false);
  });
});
