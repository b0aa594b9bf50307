/**
 * Every Redis key name trustline uses, in one module.
 *
 * Layout (docs/operations.md, "Redis"):
 * - agent states are bucketed: the state of (tenant, agentId) is field `<agentId>` (encoded) of
 *   the hash `<prefix>:{<tenant>::<bucket>}` ({@link stateBucketKey}; two `:` in the tag, which
 *   no agent's tag has, so a bucket is never mistaken for an agent key and
 *   {@link agentKeyPattern} still matches exactly this prefix's keys), bucket = a fixed hash of
 *   the agent id modulo the configured bucket count ({@link stateBucketOf}). Small hashes are kept
 *   by Redis in its compact listpack encoding, which saves the ~100 bytes a top-level key costs
 *   per agent; each bucket key is one hash tag, so one Redis Cluster slot;
 * - any per-agent key outside the buckets is `<prefix>:{<tenant>:<agentId>}<suffix>` (see
 *   {@link agentKey}), so all of an agent's own keys share one hash tag and one slot (the state
 *   itself was such a key, {@link stateKey}, before the buckets);
 * - audit chain heads are `<prefix>:audit:{<topic>:<partition>}` ({@link auditHeadKey}).
 *
 * Guarantees:
 * - **Injective.** Inside the tag, `%`, `{`, `}` and `:` of tenant and agentId are
 *   percent-encoded (`%25`, `%7B`, `%7D`, `%3A`), so two different (tenant, agentId) pairs never
 *   produce the same key, and the `:` between them is always the separator. Unpaired UTF-16
 *   surrogates (which UTF-8 cannot carry and would otherwise collapse into U+FFFD) are
 *   percent-encoded as their 3-byte WTF-8 form. Every other character, unicode included, is kept
 *   as is (UTF-8 on the wire), which keeps keys short.
 * - **Exact hash tag.** The prefix may not contain `{` or `}`, so the first `{` of a key is the
 *   one after `<prefix>:` and the first `}` after it is the key's last byte (for the state key)
 *   or the end of the tag (for suffixed keys): Redis hashes exactly `<tenant>:<agentId>`
 *   (encoded), never something shorter or longer.
 * - **Namespaced.** Every key of a store with prefix `p` starts with `p:{`, and no key of a
 *   store with another prefix does (prefixes cannot contain `{`), so {@link agentKeyPattern}
 *   matches exactly this prefix's agent keys.
 */
import { TrustlineError } from '../shared/errors.ts';
import type { AgentKey } from './store.ts';

/** Characters escaped inside a hash tag part, plus unpaired surrogates. */
const ESCAPE = /[%{}:]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const UNESCAPE = /%(25|7B|7D|3A)|%ED%([89AB][0-9A-F])%([89AB][0-9A-F])/g;
const NEEDS_ESCAPE = /[%{}:\uD800-\uDFFF]/;

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

function escapeChar(c: string): string {
  const u = c.charCodeAt(0);
  if (u >= 0xd800 && u <= 0xdfff) {
    // WTF-8 bytes of the lone surrogate: 1110_1101 10xx_xxxx 10xx_xxxx
    return `%ED%${hex2(0x80 | ((u >> 6) & 0x3f))}%${hex2(0x80 | (u & 0x3f))}`;
  }
  return `%${hex2(u)}`;
}

/** Encodes a tenant or agentId for use inside a hash tag (see module doc). Injective. */
export function encodeKeyPart(part: string): string {
  return NEEDS_ESCAPE.test(part) ? part.replace(ESCAPE, escapeChar) : part;
}

/** Inverse of {@link encodeKeyPart} for strings it produced. */
export function decodeKeyPart(encoded: string): string {
  if (!encoded.includes('%')) return encoded;
  return encoded.replace(UNESCAPE, (_m, single: string | undefined, b2: string | undefined, b3: string | undefined) => {
    if (single !== undefined) return String.fromCharCode(parseInt(single, 16));
    return String.fromCharCode(0xd000 | ((parseInt(b2!, 16) & 0x3f) << 6) | (parseInt(b3!, 16) & 0x3f));
  });
}

/**
 * Checks a key prefix: non-empty, no `{` or `}` (they would move the hash tag). Throws
 * `CONFIG_INVALID` otherwise; returns the prefix.
 */
export function checkKeyPrefix(prefix: string): string {
  if (prefix.length === 0 || /[{}]/.test(prefix)) {
    throw new TrustlineError('CONFIG_INVALID', `redis.keyPrefix must be non-empty and must not contain '{' or '}' (got ${JSON.stringify(prefix)})`);
  }
  return prefix;
}

/** The hash tag content shared by all keys of one agent: `<tenant>:<agentId>`, encoded. */
export function agentTag(key: AgentKey): string {
  return `${encodeKeyPart(key.tenant)}:${encodeKeyPart(key.agentId)}`;
}

/**
 * A per-agent key: `<prefix>:{<tenant>:<agentId>}<suffix>`. The suffix must not contain `{`
 * or `}` and should be short (every byte is paid once per agent).
 */
export function agentKey(prefix: string, key: AgentKey, suffix = ''): string {
  return `${prefix}:{${agentTag(key)}}${suffix}`;
}

/** The per-agent key of an agent's state in the layout before buckets (no suffix); read by nothing now, removed by `clear()`. */
export function stateKey(prefix: string, key: AgentKey): string {
  return agentKey(prefix, key);
}

/** Parses a key built by {@link stateKey} with this prefix; `null` for any other key. */
export function parseStateKey(prefix: string, key: string): AgentKey | null {
  const head = `${prefix}:{`;
  if (!key.startsWith(head) || !key.endsWith('}')) return null;
  const tag = key.slice(head.length, -1);
  if (/[{}]/.test(tag)) return null;
  const sep = tag.indexOf(':');
  if (sep < 0 || tag.indexOf(':', sep + 1) >= 0) return null;
  return { tenant: decodeKeyPart(tag.slice(0, sep)), agentId: decodeKeyPart(tag.slice(sep + 1)) };
}

/** SCAN MATCH pattern for every per-agent key of this prefix (glob characters in the prefix escaped). */
export function agentKeyPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:{*`;
}

// --- Redis Cluster slot (CRC16/XMODEM of the hash tag, mod 16384), as in the cluster spec ---

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** CRC16/XMODEM (poly 0x1021, init 0), the checksum Redis Cluster uses. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

/**
 * The bytes Redis Cluster hashes for `key`: the content of the first `{…}` when it is non-empty,
 * otherwise the whole key.
 */
export function hashTagOf(key: string | Uint8Array): Uint8Array {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return bytes.subarray(open + 1, close);
  }
  return bytes;
}

/** Redis Cluster slot (0..16383) of a key; group keys by this to send one load pipeline and one save call per slot. */
export function keySlot(key: string | Uint8Array): number {
  return crc16(hashTagOf(key)) & 16383;
}

/**
 * Key of the head of one audit hash chain: `<prefix>:audit:{<topic>:<partition>}` (topic
 * encoded like a key part). Outside the `<prefix>:{` agent namespace, so agent scans never see it.
 */
export function auditHeadKey(prefix: string, topic: string, partition: number): string {
  return `${prefix}:audit:{${encodeKeyPart(topic)}:${partition}}`;
}

// --- Bucketed agent states ---

/**
 * Default number of state buckets per tenant: about 25 agents a bucket at 100k agents and 250 at
 * 1M, inside Redis's default `hash-max-listpack-entries` (128 in Redis 7, raise it to 512 for
 * more agents per bucket). Part of the storage layout: changing it moves agents to other
 * buckets, so their stored states are no longer found (baselines restart).
 */
export const DEFAULT_STATE_BUCKETS = 4096;

/** The bucket of an agent id: FNV-1a (32-bit) over its UTF-16 code units, modulo `buckets`. Stable forever: it is part of the layout. */
export function stateBucketOf(agentId: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < agentId.length; i++) {
    h ^= agentId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** Hash key of one state bucket of a tenant: `<prefix>:{<tenant>::<bucket base 36>}` (one hash tag, one cluster slot). */
export function stateBucketKey(prefix: string, tenant: string, bucket: number): string {
  return `${prefix}:{${encodeKeyPart(tenant)}::${bucket.toString(36)}}`;
}

/** Where an agent's state lives: the bucket hash and the field (the agent id, encoded like a key part, so injective). */
export function stateLocation(prefix: string, key: AgentKey, buckets: number): { key: string; field: string } {
  return { key: stateBucketKey(prefix, key.tenant, stateBucketOf(key.agentId, buckets)), field: encodeKeyPart(key.agentId) };
}

/** Parses a key built by {@link stateBucketKey} with this prefix: the tenant and bucket; `null` for any other key. */
export function parseStateBucketKey(prefix: string, key: string): { tenant: string; bucket: number } | null {
  const head = `${prefix}:{`;
  if (!key.startsWith(head) || !key.endsWith('}')) return null;
  const tag = key.slice(head.length, -1);
  const sep = tag.indexOf('::');
  if (sep < 0 || /[{}]/.test(tag) || tag.indexOf(':', sep + 2) >= 0 || tag.slice(0, sep).includes(':')) return null;
  const bucket = tag.slice(sep + 2);
  if (!/^[0-9a-z]+$/.test(bucket)) return null;
  return { tenant: decodeKeyPart(tag.slice(0, sep)), bucket: parseInt(bucket, 36) };
}
