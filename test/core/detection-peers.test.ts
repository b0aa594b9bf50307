/**
 * Judged against peers, not against itself: an agent that is abnormal from its first request
 * (the real-log case: a brand-new client POSTing to an admin login page 110 times a
 * minute) is flagged within a few events because its baselines are shrunk toward its peer
 * group's; the reasons name the peers and the matched route rule. Real committed model, default
 * policy, the real pipeline (BatchProcessor over the memory store, in chunks, so the peer-group
 * records go through the store between chunks).
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRequestEvent } from '../../src/contract/schemas.ts';
import { DEFAULT_POLICY } from '../../src/core/judge.ts';
import { PEER_TENANT, decodePeerState } from '../../src/core/peers.ts';
import { createSigner } from '../../src/outputs/sign.ts';
import type { BatchOutputs, OutputSink, ScoreRow } from '../../src/outputs/sink.ts';
import { BatchProcessor } from '../../src/pipeline/batch-processor.ts';
import { loadAnomalyScorer, type PipelineScorer } from '../../src/scoring/pipeline-scorer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { T0, ev, int, pick, rng, toRecords } from '../support/events.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
let scorer: PipelineScorer;
beforeAll(async () => {
  scorer = await loadAnomalyScorer(join(ROOT, 'models/trustline-tailsum.json'));
});
afterAll(async () => {
  await scorer?.close();
});

const PAGES = ['/', '/blog/{slug}', '/articles/{slug}', '/search', '/about'];

class Rows implements OutputSink {
  readonly scores: ScoreRow[] = [];
  async write(o: BatchOutputs): Promise<void> {
    this.scores.push(...o.scores);
  }
  async close(): Promise<void> {}
}

async function pipeline(events: readonly AgentRequestEvent[], chunk: number): Promise<{ rows: ScoreRow[]; store: MemoryStateStore }> {
  const store = new MemoryStateStore();
  const sink = new Rows();
  const p = new BatchProcessor({
    store,
    scorer,
    sink,
    signer: createSigner([{ kid: 't', alg: 'HS256', secret: 'test-secret-for-peers-0123456789' }], 't'),
    policy: DEFAULT_POLICY,
    mode: 'enforce',
    ttlMs: 60_000,
  });
  const records = toRecords(events);
  for (let i = 0; i < records.length; i += chunk) await p.process(records.slice(i, i + chunk));
  return { rows: sink.scores, store };
}

/** Anonymous web clients (auth none, no purpose): one peer group. */
function visitors(count: number, perVisitor: number, seed: number): AgentRequestEvent[] {
  const r = rng(seed);
  const out: AgentRequestEvent[] = [];
  for (let v = 0; v < count; v++) {
    let ts = T0 + v * 20_000;
    for (let i = 0; i < perVisitor; i++) {
      ts += int(r, 3_000, 40_000);
      const route = pick(r, PAGES);
      out.push(
        ev({
          eventId: `v${v}-${i}`,
          ts,
          agent: { id: `visitor-${v}`, userAgent: 'Mozilla/5.0 Firefox/120.0', auth: { method: 'none', verified: false } },
          request: {
            method: 'GET',
            route,
            path: route.replace('{slug}', `post-${int(r, 1, 300)}`),
            status: r() < 0.03 ? 404 : 200,
            bytesOut: int(r, 5_000, 40_000),
            ip: `203.0.113.${v % 250}`,
          },
        }),
      );
    }
  }
  return out;
}

/** A new client POSTing to an admin login page about twice a second from its first request. */
function adminBruteForce(start: number, n: number): AgentRequestEvent[] {
  return Array.from({ length: n }, (_, i) =>
    ev({
      eventId: `bf-${i}`,
      ts: start + i * 550,
      agent: { id: 'brute', userAgent: 'python-requests/2.31', auth: { method: 'none', verified: false } },
      request: { method: 'POST', route: '/wp-admin/login.php', path: '/wp-admin/login.php', status: 200, bytesOut: 3_000, ip: '198.51.100.7' },
    }),
  );
}

describe('an agent abnormal from its first request is judged against its peers', () => {
  it('is restricted or cut off within 5 events, with reasons naming the peers and the admin rule; its peers are not', async () => {
    const crowd = visitors(40, 30, 3);
    const start = T0 + 3_600_000; // the group has an hour of history
    const events = [...crowd, ...adminBruteForce(start, 40)].sort((a, b) => a.ts - b.ts);
    const { rows, store } = await pipeline(events, 250);
    const brute = rows.filter((r) => r.agentId === 'brute');
    const firstFlag = brute.findIndex((r) => r.band === 'restrict' || r.band === 'block' || r.circuit === 'open');
    expect(firstFlag).toBeGreaterThanOrEqual(0);
    expect(firstFlag + 1).toBeLessThanOrEqual(5);
    const reasons = brute.slice(0, firstFlag + 1).flatMap((r) => r.reasons);
    expect(reasons.some((x) => x.basis === 'peers' || (x.basis === 'rule' && x.rule === 'admin'))).toBe(true);
    // It does not become its own normal: still flagged after 40 requests.
    expect(['restrict', 'block']).toContain(brute.at(-1)!.band);
    // The ordinary visitors of the same group are never flagged.
    const visitorsFlagged = new Set(
      rows.filter((r) => r.agentId !== 'brute' && (r.band === 'restrict' || r.band === 'block' || r.circuit === 'open')).map((r) => r.agentId),
    );
    expect([...visitorsFlagged]).toEqual([]);
    // One peer-group record (partition 0, the visitors' group), in the store, not counted as an agent.
    const peerRecords = store.entries().filter(([k]) => k.startsWith(`${PEER_TENANT}\u0000`));
    expect(peerRecords.length).toBe(1);
    expect(decodePeerState(peerRecords[0]![1])!.reports).toBeGreaterThan(40);
    expect(store.size).toBe(41);
  }, 60_000);

  it('the peer records make the outputs independent of how the stream is chunked (saved and loaded between chunks)', async () => {
    const events = [...visitors(12, 20, 9), ...adminBruteForce(T0 + 600_000, 15)].sort((a, b) => a.ts - b.ts);
    const whole = await pipeline(events, 10_000);
    const small = await pipeline(events, 7);
    expect(JSON.stringify(small.rows)).toBe(JSON.stringify(whole.rows));
    expect(small.store.entries()).toEqual(whole.store.entries());
  }, 60_000);
});
