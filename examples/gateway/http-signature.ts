/**
 * A subset of RFC 9421 HTTP Message Signatures, enough for agents that sign their requests:
 * one signature (`sig1` or any label) over `@method`, `@path` and `content-digest` (RFC 9530,
 * `sha-256`), Ed25519 (`alg="ed25519"`), with `created` and `keyid` parameters.
 *
 * Signature base (RFC 9421 §2.5), one line per covered component, then the parameters:
 *
 *   "@method": POST
 *   "@path": /payments
 *   "content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:
 *   "@signature-params": ("@method" "@path" "content-digest");created=1767225600;keyid="agent-7";alg="ed25519"
 *
 * Not covered: other components, multiple signatures, other algorithms, `expires`/`nonce`.
 */
import { createHash, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';

export const COVERED = ['@method', '@path', 'content-digest'] as const;

/** `sha-256=:<base64>:` of a body (RFC 9530). */
export function contentDigest(body: Buffer): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

function signatureBase(method: string, path: string, digest: string, params: string): string {
  return `"@method": ${method.toUpperCase()}\n"@path": ${path}\n"content-digest": ${digest}\n"@signature-params": ${params}`;
}

/** Headers an agent sends to sign a request with its Ed25519 private key. */
export function signRequest(req: {
  method: string;
  path: string;
  body: Buffer;
  keyId: string;
  privateKey: KeyObject | string;
  created?: number;
}): Record<string, string> {
  const digest = contentDigest(req.body);
  const created = req.created ?? Math.floor(Date.now() / 1000);
  const params = `(${COVERED.map((c) => `"${c}"`).join(' ')});created=${created};keyid="${req.keyId}";alg="ed25519"`;
  const sig = edSign(null, Buffer.from(signatureBase(req.method, req.path, digest, params)), req.privateKey);
  return { 'content-digest': digest, 'signature-input': `sig1=${params}`, signature: `sig1=:${sig.toString('base64')}:` };
}

export type SignatureCheck = { present: false } | { present: true; keyId: string; verified: boolean; why?: string };

const INPUT = /^([a-z0-9_-]+)=\(([^)]*)\)((?:;[a-z]+=(?:"[^"]*"|\d+))*)$/i;

/**
 * Verify a request's signature. `publicKeyOf(keyId)` returns the agent's registered public key
 * (PEM) or undefined. `present: false` when the request carries no Signature-Input.
 * `maxAgeS` bounds `created` (replays of old signed requests).
 */
export function verifyRequest(
  req: { method: string; path: string; headers: Record<string, string | string[] | undefined>; body: Buffer },
  publicKeyOf: (keyId: string) => string | undefined,
  opts: { nowS?: number; maxAgeS?: number } = {},
): SignatureCheck {
  const h = (n: string): string | undefined => {
    const v = req.headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const input = h('signature-input');
  if (!input) return { present: false };
  const m = INPUT.exec(input.trim());
  if (!m) return { present: true, keyId: '', verified: false, why: 'malformed Signature-Input' };
  const [, label, components, paramText] = m as unknown as [string, string, string, string];
  const params = new Map<string, string>();
  for (const p of paramText.split(';').slice(1)) {
    const i = p.indexOf('=');
    params.set(p.slice(0, i), p.slice(i + 1).replace(/^"|"$/g, ''));
  }
  const keyId = params.get('keyid') ?? '';
  const fail = (why: string): SignatureCheck => ({ present: true, keyId, verified: false, why });
  if (components.trim().split(/\s+/).join(' ') !== COVERED.map((c) => `"${c}"`).join(' ')) return fail('must cover exactly "@method" "@path" "content-digest"');
  if (params.get('alg') !== undefined && params.get('alg') !== 'ed25519') return fail('only alg="ed25519" is supported');
  const created = Number(params.get('created'));
  const nowS = opts.nowS ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(created) || Math.abs(nowS - created) > (opts.maxAgeS ?? 300)) return fail('created missing or too old');
  const digest = h('content-digest');
  if (!digest || digest !== contentDigest(req.body)) return fail('content-digest does not match the body');
  const pem = publicKeyOf(keyId);
  if (!pem) return fail('unknown keyid');
  const sigHeader = h('signature') ?? '';
  const sm = new RegExp(`^${label}=:([A-Za-z0-9+/=]+):$`).exec(sigHeader.trim());
  if (!sm) return fail('no Signature for the label');
  const params9421 = input.trim().slice(label.length + 1);
  const ok = edVerify(null, Buffer.from(signatureBase(req.method, req.path, digest, params9421)), createPublicKey(pem), Buffer.from(sm[1]!, 'base64'));
  return ok ? { present: true, keyId, verified: true } : fail('signature does not verify');
}
