/**
 * Operations endpoint: `GET /healthz` (process alive), `GET /readyz` (consuming, with Redis and
 * the model loaded), `GET /metrics` (Prometheus text format, with `trustline_ready` mirroring
 * /readyz), and `GET /agents/<id>[?tenant=<t>]` (one agent's state as `trustline agent --json`
 * shows it; read-only; loopback clients only unless `http.agents` says otherwise).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import type { AgentView } from '../inspect/agent-view.ts';

export type Readiness = () => { ready: boolean; detail: Record<string, unknown> };

export type AgentsEndpoint = {
  /** The agent's view, `null` when no state is stored for it. */
  lookup: (key: { tenant: string; agentId: string }) => Promise<AgentView | null>;
  /** `loopback` (default): only clients on 127.0.0.0/8 or ::1; `any`; `off`: 404. */
  access?: 'loopback' | 'any' | 'off';
};

/** The client is on this host (IPv4 loopback, IPv6 loopback, or IPv4 loopback mapped into IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body) + '\n');
}

async function agentRoute(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, agents: AgentsEndpoint): Promise<void> {
  if (!isLoopback(req.socket.remoteAddress) && agents.access !== 'any') {
    json(res, 403, { error: 'forbidden', message: 'GET /agents is served to loopback clients only (set http.agents / TRUSTLINE_HTTP_AGENTS=any to change)' });
    return;
  }
  let agentId: string;
  try {
    agentId = decodeURIComponent(path.slice('/agents/'.length));
  } catch {
    json(res, 400, { error: 'bad_request', message: 'agent id is not valid percent-encoding' });
    return;
  }
  if (!agentId || agentId.length > 256) {
    json(res, 400, { error: 'bad_request', message: 'GET /agents/<agentId> (1–256 characters, percent-encoded)' });
    return;
  }
  const tenant = query.get('tenant') ?? 'default';
  const view = await agents.lookup({ tenant, agentId });
  if (!view) json(res, 404, { error: 'not_found', tenant, agentId });
  else json(res, 200, view);
}

export async function startHttp(
  host: string,
  port: number,
  registry: Registry,
  readiness: Readiness,
  agents?: AgentsEndpoint,
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  if (!registry.getSingleMetric('trustline_ready')) {
    new Gauge({
      name: 'trustline_ready',
      help: '1 when GET /readyz answers 200 (joined the consumer group, Redis connected, not shutting down), else 0.',
      registers: [registry],
      collect() {
        this.set(readiness().ready ? 1 : 0);
      },
    });
  }
  const server = createServer((req, res) => {
    const [url = '/', qs = ''] = (req.url ?? '/').split('?');
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
    } else if (url === '/readyz') {
      const r = readiness();
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: r.ready ? 'ready' : 'not_ready', ...r.detail }) + '\n');
    } else if (url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (url.startsWith('/agents/') && agents && agents.access !== 'off') {
      agentRoute(req, res, url, new URLSearchParams(qs), agents).catch((err: Error) => json(res, 503, { error: 'unavailable', message: err.message }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
