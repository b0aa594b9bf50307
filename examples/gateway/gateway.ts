/**
 * Example API gateway in front of an agent-facing API (node:http, no framework).
 *
 * Per request: authenticate the agent (an RFC 9421 HTTP message signature — strong identity —
 * or an API key), ask the trustline enforcer SDK for a verdict, answer, and publish one
 * AgentRequestEvent to `agent.requests` keyed by the agent id (every request, refused ones
 * included: trustline decides from what it sees).
 *
 * Verdicts: allow → the route's handler; deny → 403; circuit open / probes exhausted → 429 with
 * Retry-After; challenge → 401 (step-up); hold → 202 with the escalation id, once trustline has
 * opened the escalation (the gateway waits up to `holdWaitMs` for it).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentRequestEvent, Sensitivity } from '../../src/contract/schemas.ts';
import type { Decision, DecisionQuery, EscalationView } from '../../src/enforcer/index.ts';
import { verifyRequest } from './http-signature.ts';

/** A registered agent: its API key and/or its Ed25519 public key (PEM) for HTTP signatures. */
export type AgentRegistration = { id: string; apiKey?: string; publicKeyPem?: string; scopes: string[]; purpose?: string };

/** One API route: a method, a path pattern, and what it is for trustline. */
export type Route = {
  method: string;
  /** Templated route, e.g. `/orders/{id}`; `{x}` matches one path segment. */
  route: string;
  /** Scope the route requires; an agent without it gets 403 (and trustline sees a scope violation). */
  requiredScope?: string;
  /** Business action, from the request body when needed. */
  action?: (body: unknown) => { name: string; sensitivity?: Sensitivity; amount?: number; currency?: string };
  handler: (ctx: { agentId: string; params: string[]; body: unknown }) => { status: number; body: unknown };
};

/** The part of the enforcer the gateway uses (`createEnforcer` from trustline/enforcer). */
export type GatewayEnforcer = {
  decide(q: DecisionQuery): Decision;
  escalation(q: { agentId: string; actionName: string }): EscalationView | null;
};

export type GatewayOptions = {
  agents: readonly AgentRegistration[];
  routes: readonly Route[];
  enforcer: GatewayEnforcer;
  /** Publishes one event keyed by agent id (e.g. a kafkajs producer send to agent.requests). */
  publish: (key: string, event: AgentRequestEvent) => Promise<void>;
  host?: string;
  port?: number;
  /** Retry-After for circuit refusals, seconds (default 30). */
  retryAfterS?: number;
  /** How long a held request waits for trustline's escalation record (default 5000 ms). */
  holdWaitMs?: number;
  /** Header carrying the API key (default `x-api-key`). */
  apiKeyHeader?: string;
  now?: () => number;
};

export type Gateway = { readonly port: number; readonly url: string; close(): Promise<void> };

const CIRCUIT_RULES = new Set(['circuit_open', 'circuit_forced_open', 'probes_exhausted']);

function compile(route: string): RegExp {
  return new RegExp(`^${route.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}/]+\}/g, '([^/]+)')}$`);
}

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new Error('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const now = o.now ?? Date.now;
  const byKey = new Map(o.agents.filter((a) => a.apiKey).map((a) => [a.apiKey!, a]));
  const byId = new Map(o.agents.map((a) => [a.id, a]));
  const routes = o.routes.map((r) => ({ ...r, re: compile(r.route) }));
  const keyHeader = (o.apiKeyHeader ?? 'x-api-key').toLowerCase();
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = now();
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://gateway');
    const method = (req.method ?? 'GET').toUpperCase();
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };

    // 1. Identity: an HTTP message signature (strong), else an API key.
    const sig = verifyRequest({ method, path: url.pathname, headers: req.headers, body }, (keyId) => byId.get(keyId)?.publicKeyPem);
    let agent: AgentRegistration | undefined;
    let auth: AgentRequestEvent['agent']['auth'];
    if (sig.present) {
      agent = byId.get(sig.keyId);
      auth = { method: 'http_signature', verified: sig.verified };
    } else {
      const key = req.headers[keyHeader];
      agent = typeof key === 'string' ? byKey.get(key) : undefined;
      auth = { method: 'api_key', verified: agent !== undefined };
    }
    // Nobody to attribute the request to: refuse without an event.
    if (agent === undefined) return send(401, { error: 'unauthenticated' }, { 'www-authenticate': 'Signature, ApiKey' });
    auth.scopes = agent.scopes;

    // 2. Route and action.
    let params: string[] = [];
    const route = routes.find((r) => {
      if (r.method !== method) return false;
      const m = r.re.exec(url.pathname);
      if (m) params = m.slice(1);
      return m !== null;
    });
    let parsed: unknown = null;
    if (body.length) {
      try {
        parsed = JSON.parse(body.toString('utf8')) as unknown;
      } catch {
        parsed = null;
      }
    }
    const action = route?.action?.(parsed);

    // 3. Verdict, then the answer.
    const eventId = randomUUID();
    let status: number;
    let payload: unknown;
    const headers: Record<string, string> = {};
    if (!auth.verified) {
      status = 401;
      payload = { error: 'credential did not verify', why: sig.present ? sig.why : undefined };
    } else {
      // The amount and currency feed the SDK's context policy (amount thresholds), when one is set.
      const d = o.enforcer.decide({
        agentId: agent.id,
        ...(action
          ? {
              action: {
                name: action.name,
                ...(action.sensitivity ? { sensitivity: action.sensitivity } : {}),
                ...(action.amount !== undefined ? { amount: action.amount } : {}),
                ...(action.currency ? { currency: action.currency } : {}),
              },
            }
          : {}),
      });
      if (d.verdict === 'deny' && CIRCUIT_RULES.has(d.rule)) {
        status = 429;
        headers['retry-after'] = String(o.retryAfterS ?? 30);
        payload = { error: 'circuit open', rule: d.rule, reasons: d.reasons };
      } else if (d.verdict === 'deny') {
        status = 403;
        payload = { error: 'denied', rule: d.rule, ruleId: d.ruleId, band: d.band, reasons: d.reasons };
      } else if (d.verdict === 'challenge') {
        status = 401;
        headers['www-authenticate'] = 'Signature';
        payload = { error: 'step-up authentication required', rule: d.rule, band: d.band };
      } else if (d.verdict === 'hold') {
        status = 202;
        payload = { status: 'held', eventId, escalationId: null as string | null, rule: d.rule };
      } else if (!route) {
        status = 404;
        payload = { error: 'no such route' };
      } else if (route.requiredScope && !agent.scopes.includes(route.requiredScope)) {
        status = 403;
        payload = { error: 'missing scope', scope: route.requiredScope };
      } else {
        const r = route.handler({ agentId: agent.id, params, body: parsed });
        status = r.status;
        payload = r.body;
      }
    }

    // 4. One event per request, keyed by agent id, with the status the agent got.
    const event: AgentRequestEvent = {
      v: 1,
      eventId,
      ts: started,
      agent: {
        id: agent.id,
        ...(agent.purpose ? { purpose: agent.purpose } : {}),
        auth,
        ...(typeof req.headers['user-agent'] === 'string' ? { userAgent: req.headers['user-agent'].slice(0, 512) } : {}),
      },
      request: {
        method,
        route: route?.route ?? 'unmatched',
        path: url.pathname.slice(0, 2048),
        status,
        latencyMs: Math.max(0, now() - started),
        bytesIn: body.length,
        ip: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      },
      ...(action
        ? { action: { ...action, ...(route?.requiredScope ? { requiredScope: route.requiredScope } : {}) } }
        : route?.requiredScope
          ? { action: { requiredScope: route.requiredScope } }
          : {}),
    };
    await o.publish(agent.id, event);

    // 5. A held request: wait for trustline to open the escalation for this very request.
    if (status === 202 && action) {
      const deadline = now() + (o.holdWaitMs ?? 5_000);
      let e = o.enforcer.escalation({ agentId: agent.id, actionName: action.name });
      while ((e === null || e.eventId !== eventId) && now() < deadline) {
        await sleep(25);
        e = o.enforcer.escalation({ agentId: agent.id, actionName: action.name });
      }
      if (e !== null && e.eventId === eventId) (payload as { escalationId: string | null }).escalationId = e.escalationId;
    }
    send(status, payload, headers);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: (err as Error).message }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
