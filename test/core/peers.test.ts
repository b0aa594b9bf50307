import { describe, expect, it } from 'vitest';
import {
  FLEET_PRIOR,
  FLEET_REPORTS,
  PEER_RECORD_BYTES,
  PeerBook,
  Q,
  Q_COUNT,
  betaStrength,
  decodePeerState,
  encodePeerState,
  newPeerState,
  newPrior,
  peerGroupOf,
  peerKeyOf,
  priorOf,
  report,
  reportsAt,
  shareZ,
  shrinkShare,
} from '../../src/core/peers.ts';
import { ev } from '../support/events.ts';

describe('peer groups', () => {
  it('are (tenant, declared purpose, auth method), keyed per source partition under a tenant no event can have', () => {
    const a = ev({ agent: { id: 'a', purpose: 'shopping', auth: { method: 'oauth2', verified: true } } });
    const b = ev({ agent: { id: 'b', purpose: 'shopping', auth: { method: 'oauth2', verified: true } } });
    const c = ev({ agent: { id: 'c', purpose: 'shopping', auth: { method: 'api_key', verified: true } } });
    expect(peerGroupOf(a)).toBe(peerGroupOf(b));
    expect(peerGroupOf(a)).not.toBe(peerGroupOf(c));
    expect(peerKeyOf(a, 3)).not.toEqual(peerKeyOf(a, 4));
    expect(peerKeyOf(a, 3)).toEqual(peerKeyOf(b, 3));
    expect(peerKeyOf(a, 0)).toEqual({ tenant: '#peers', agentId: '0/default/shopping/oauth2' });
    expect(peerKeyOf(ev({ tenant: 'acme', agent: { id: 'x', purpose: 'a/b c', auth: { method: 'none', verified: false } } }), 2).agentId).toBe(
      '2/acme/a%2Fb%20c/none',
    );
    expect(peerKeyOf(a, 0).tenant).not.toMatch(/^[A-Za-z0-9._-]+$/); // the event contract's tenant pattern: no agent has this tenant
    const book = new PeerBook();
    expect(book.get(a)).toBe(book.get(b));
    expect(book.get(a)).not.toBe(book.get(c));
    expect(book.get(a, 1)).not.toBe(book.get(a, 0));
  });

  it('agents report at their 8th, 16th, 32nd … event only (influence grows with the log of their volume)', () => {
    const at = Array.from({ length: 300 }, (_, i) => i + 1).filter(reportsAt);
    expect(at).toEqual([8, 16, 32, 64, 128, 256]);
  });

  it('a record round-trips byte for byte, keeps the watermark at byte 1 for the compare-and-set, and rejects anything else', () => {
    const p = newPeerState();
    p.watermark = 12345;
    for (let i = 0; i < 30; i++) report(p, [0.3 + (i % 3) * 0.1, 0.05, i % 5 === 0 ? 0.5 : 0, 0.1]);
    const bytes = encodePeerState(p);
    expect(bytes.length).toBe(PEER_RECORD_BYTES);
    expect(bytes.readDoubleLE(1)).toBe(12345);
    const q = decodePeerState(bytes)!;
    expect(encodePeerState(q).equals(bytes)).toBe(true);
    expect(q.reports).toBe(30);
    expect(decodePeerState(bytes.subarray(1))).toBeNull();
    const other = Buffer.from(bytes);
    other[0] = 3; // an agent-state layout version
    expect(decodePeerState(other)).toBeNull();
  });
});

describe('empirical Bayes prior', () => {
  it('is the fleet prior for a group nobody reported to, with no confidence to compare agents against', () => {
    const pr = priorOf(null, newPrior());
    expect(pr.confidence).toBe(0);
    for (let i = 0; i < Q_COUNT; i++) {
      expect(pr.mean[i]).toBeCloseTo(FLEET_PRIOR.mean[i]!, 12);
      expect(pr.variance[i]).toBeCloseTo(FLEET_PRIOR.sd[i]! ** 2, 12);
    }
  });

  it('moves from the fleet prior to the group as reports accumulate', () => {
    const p = newPeerState();
    const admin = [0.5, 0.02, 0.8, 0.1];
    report(p, admin);
    const one = priorOf(p, newPrior());
    expect(one.confidence).toBeCloseTo(1 / (1 + FLEET_REPORTS), 12);
    expect(one.mean[Q.privShare]).toBeGreaterThan(FLEET_PRIOR.mean[Q.privShare]!);
    expect(one.mean[Q.privShare]).toBeLessThan(0.8);
    for (let i = 0; i < 40; i++) report(p, admin);
    const many = priorOf(p, newPrior());
    expect(many.confidence).toBeGreaterThan(0.9);
    expect(many.mean[Q.privShare]).toBeGreaterThan(0.7);
  });

  it('the Beta strength follows the method of moments and is clamped', () => {
    expect(betaStrength(0.1, 0.09 / 11)).toBeCloseTo(10, 6); // μ(1−μ)/v − 1
    expect(betaStrength(0.1, 1)).toBe(2);
    expect(betaStrength(0.1, 0)).toBe(200);
  });

  it('shrinks a young agent toward its peers and lets an established one speak for itself', () => {
    expect(shrinkShare(1, 1, 0.02, 10)).toBeCloseTo((1 + 0.2) / 11, 12);
    expect(shrinkShare(1, 1000, 0.02, 10)).toBeGreaterThan(0.98);
    // An agent that only ever hits privileged routes stands out against peers that do not, however long it has done so.
    expect(shareZ(shrinkShare(1, 1000, 0.02, 10), 0.02, 10)).toBeGreaterThan(20);
    expect(shareZ(0.02, 0.02, 10)).toBe(0);
  });
});
