import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { TrustlineError } from '../../src/shared/errors.ts';
import {
  agentKey,
  agentKeyPattern,
  agentTag,
  checkKeyPrefix,
  crc16,
  decodeKeyPart,
  encodeKeyPart,
  hashTagOf,
  keySlot,
  parseStateKey,
  stateKey,
  stateBucketKey,
  parseStateBucketKey,
  stateBucketOf,
  stateLocation,
} from '../../src/state/keys.ts';
import type { AgentKey } from '../../src/state/store.ts';

/** The slot function of ioredis's Cluster client, as an independent reference. */
const calculateSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string | Buffer) => number;

const TRICKY = [
  '',
  'a',
  ':',
  '::',
  '{',
  '}',
  '{}',
  '}{',
  '%',
  '%25',
  '%3A',
  '%7B',
  '%7D',
  '%ED%A0%80',
  'a:b',
  'a%3Ab',
  'agent-1',
  'ünïcødé',
  '🤖',
  '\uFFFD',
  '\uD800', // unpaired high surrogate
  '\uDC00', // unpaired low surrogate
  '\uDC00\uD800', // reversed pair: two lone surrogates
  'x\u0000y',
  'spiffe://example.org/ns/prod/sa/bot',
];

describe('state keys', () => {
  it('buckets states with a fixed hash (part of the stored layout: these values must never change)', () => {
    expect(stateBucketOf('agent-1', 4096)).toBe(1952);
    expect(stateBucketOf('agent-1', 4096)).toBe(stateBucketOf('agent-1', 4096));
    expect(stateBucketKey('tl', 'default', 1952)).toBe('tl:{default::1i8}');
    expect(stateLocation('tl', { tenant: 'a:b', agentId: 'x{y}' }, 4096)).toEqual({
      key: stateBucketKey('tl', 'a:b', stateBucketOf('x{y}', 4096)),
      field: 'x%7By%7D',
    });
    expect(stateBucketKey('tl', 'a:b', 0)).toBe('tl:{a%3Ab::0}');
    // Two colons in the tag: never parsed as an agent's own key, still inside the prefix's namespace.
    expect(parseStateKey('tl', stateBucketKey('tl', 'default', 7))).toBeNull();
    expect(stateBucketKey('tl', 'default', 7).startsWith('tl:{')).toBe(true);
    expect(parseStateBucketKey('tl', stateBucketKey('tl', 'a:b{}', 4095))).toEqual({ tenant: 'a:b{}', bucket: 4095 });
    expect(parseStateBucketKey('tl', stateKey('tl', { tenant: 'default', agentId: '1a' }))).toBeNull();
    expect(parseStateBucketKey('tl', 'tl:{a::b::c}')).toBeNull();
    expect(parseStateBucketKey('other', stateBucketKey('tl', 'default', 7))).toBeNull();
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[stateBucketOf(`agent-${i.toString(16).padStart(8, '0')}`, 64)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });

  it('builds <prefix>:{<tenant>:<agentId>} and leaves safe ids untouched', () => {
    expect(stateKey('tl', { tenant: 'default', agentId: 'agent-1' })).toBe('tl:{default:agent-1}');
    expect(stateKey('tl', { tenant: 'acme', agentId: 'ünïcødé-🤖' })).toBe('tl:{acme:ünïcødé-🤖}');
    expect(agentKey('tl', { tenant: 'acme', agentId: 'a' }, ':o')).toBe('tl:{acme:a}:o');
  });

  it('percent-encodes %, {, }, : and unpaired surrogates, and nothing else', () => {
    expect(encodeKeyPart('a:b{c}d%e')).toBe('a%3Ab%7Bc%7Dd%25e');
    expect(encodeKeyPart('\uD800')).toBe('%ED%A0%80');
    expect(encodeKeyPart('\uDFFF')).toBe('%ED%BF%BF');
    expect(encodeKeyPart('\uD83E\uDD16')).toBe('\uD83E\uDD16'); // a valid pair (🤖) is kept
    expect(encodeKeyPart('tab\there')).toBe('tab\there');
    for (const s of TRICKY) {
      const e = encodeKeyPart(s);
      expect(e).not.toMatch(/[{}:]/);
      expect(Buffer.from(e, 'utf8').toString('utf8')).toBe(e); // UTF-8 encodable without U+FFFD replacement
      expect(decodeKeyPart(e)).toBe(s);
    }
  });

  it('is injective over (tenant, agentId), including as UTF-8 bytes', () => {
    const seen = new Map<string, AgentKey>();
    for (const tenant of TRICKY) {
      for (const agentId of TRICKY) {
        const key = stateKey('tl', { tenant, agentId });
        const bytes = Buffer.from(key, 'utf8').toString('hex');
        const clash = seen.get(bytes);
        expect(clash, `${JSON.stringify({ tenant, agentId })} collides with ${JSON.stringify(clash)}`).toBeUndefined();
        seen.set(bytes, { tenant, agentId });
        expect(parseStateKey('tl', key)).toEqual({ tenant, agentId });
      }
    }
    expect(seen.size).toBe(TRICKY.length ** 2);
  });

  it('hashes exactly the encoded tenant:agentId, so all keys of one agent share a slot', () => {
    for (const tenant of TRICKY) {
      for (const agentId of TRICKY) {
        const k = { tenant, agentId };
        const main = stateKey('tl', k);
        expect(Buffer.from(hashTagOf(main)).toString('utf8')).toBe(agentTag(k));
        const slot = keySlot(main);
        expect(calculateSlot(main)).toBe(slot);
        expect(keySlot(agentKey('tl', k, ':o'))).toBe(slot);
        expect(keySlot(agentKey('another-prefix', k, ':esc'))).toBe(slot);
      }
    }
  });

  it('computes CRC16/XMODEM and slots like the Redis Cluster spec', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
    // `CLUSTER KEYSLOT` answers of a real Redis 7.0.15 (cluster-enabled).
    const server: Record<string, number> = {
      'foo{}{bar}': 8363, // empty first tag: the whole key is hashed (cluster-key-slot 1.1.1 answers 4015 here)
      'foo{{bar}}zap': 4015,
      'foo{bar}{zap}': 5061,
      '{user1000}.following': 3443,
      'tl:{default:agent-1}': 9501,
      'tl:{a%3Ab:%7B%7D}': 13345,
      ünïcødé: 1067,
      '{': 4092,
      '}': 12090,
      '{}': 15257,
      'x{y': 2740,
      a: 15495,
    };
    for (const [k, slot] of Object.entries(server)) expect(keySlot(k), k).toBe(slot);
    for (const k of ['a', 'tl:{default:agent-1}', 'ünïcødé', '{', '}', '{}', 'x{y']) expect(keySlot(k)).toBe(calculateSlot(k));
  });

  it('rejects prefixes that would move the hash tag', () => {
    for (const bad of ['', 'a{', 'a}', '{b}']) {
      expect(() => checkKeyPrefix(bad)).toThrow(TrustlineError);
    }
    expect(checkKeyPrefix('tl')).toBe('tl');
    expect(checkKeyPrefix('team:a*b')).toBe('team:a*b');
  });

  it('parses only keys of its own prefix and shape', () => {
    expect(parseStateKey('tl', 'tl:{a:b}')).toEqual({ tenant: 'a', agentId: 'b' });
    expect(parseStateKey('tl', 'tlx:{a:b}')).toBeNull();
    expect(parseStateKey('tl', 'tl:{a:b}:o')).toBeNull();
    expect(parseStateKey('tl', 'tl:{ab}')).toBeNull();
    expect(parseStateKey('tl', 'tl:{a:b:c}')).toBeNull();
    expect(parseStateKey('tl:', 'tl:{a:b}')).toBeNull();
  });

  it('escapes glob characters of the prefix in the SCAN pattern', () => {
    expect(agentKeyPattern('tl')).toBe('tl:{*');
    expect(agentKeyPattern('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f:{*');
  });
});
