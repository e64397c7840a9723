import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, canonicalString, sha256Hex, ServiceSignatureVerifier, signServiceRequest, type NonceStore } from './service-signature.js';

const SECRET = 's'.repeat(40);
const NOW = 1_800_000_000;
const OPERATOR = '0193b7a0-0000-7000-8000-0000000000c1';

class MemoryNonces implements NonceStore {
  readonly seen = new Map<string, number>();
  async remember(key: string, ttlS: number): Promise<boolean> {
    if (this.seen.has(key)) return false;
    this.seen.set(key, ttlS);
    return true;
  }
}

function build(nonces: NonceStore = new MemoryNonces(), keys: Record<string, string> = { k1: SECRET }) {
  return new ServiceSignatureVerifier({ find: (kid) => (keys[kid] ? { service: 'ops-cli', secret: Buffer.from(keys[kid]) } : undefined) }, nonces, 300, () => NOW);
}

function signed(overrides: Partial<Parameters<typeof signServiceRequest>[0]> = {}) {
  const input = { method: 'POST', url: '/internal/v1/things?b=2&a=1', body: '{"x":1}', keyId: 'k1', secret: SECRET, operatorId: OPERATOR, reason: 'ticket 42: fix', now: NOW, ...overrides };
  return { input, headers: signServiceRequest(input) };
}

describe('service signatures', () => {
  it('canonicalizes the query: decoded, RFC 3986 re-encoded, sorted by key then value', () => {
    expect(canonicalQuery('?b=2&a=x+y&a=%41&c=%7e*')).toBe('a=A&a=x%20y&b=2&c=~%2A');
    expect(canonicalQuery('')).toBe('');
  });

  it('builds the documented canonical string', () => {
    const sut = canonicalString({ method: 'get', path: '/internal/v1/tenants', query: 'z=1&a=2', bodySha256: sha256Hex(''), timestamp: '1', nonce: 'n'.repeat(16), keyId: 'k1' });
    expect(sut).toBe(['BENTENG-HMAC-SHA256', 'GET', '/internal/v1/tenants', 'a=2&z=1', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', '1', 'n'.repeat(16), 'k1', '-', '-'].join('\n'));
  });

  it('signs with HMAC-SHA256 over the canonical string, base64url', () => {
    const { input, headers } = signed();
    const canonical = canonicalString({ method: 'POST', path: '/internal/v1/things', query: 'b=2&a=1', bodySha256: sha256Hex(input.body), timestamp: String(NOW), nonce: headers['x-benteng-nonce']!, keyId: 'k1', operatorId: OPERATOR, reason: encodeURIComponent(input.reason) });
    expect(headers['x-benteng-signature']).toBe(createHmac('sha256', SECRET).update(canonical).digest('base64url'));
    expect(headers['x-benteng-nonce']!.length).toBeGreaterThanOrEqual(16);
  });

  it('accepts a valid request and returns service, key, operator and decoded reason', async () => {
    const { headers } = signed();
    await expect(build().verify({ method: 'POST', url: '/internal/v1/things?a=1&b=2', headers, rawBody: Buffer.from('{"x":1}') })).resolves.toEqual({
      ok: true,
      service: 'ops-cli',
      keyId: 'k1',
      operatorId: OPERATOR,
      reason: 'ticket 42: fix',
    });
  });

  it('an absolute URL signs the same as its path', async () => {
    const { headers } = signed({ url: 'http://127.0.0.1:3001/internal/v1/things?b=2&a=1' });
    await expect(build().verify({ method: 'POST', url: '/internal/v1/things?b=2&a=1', headers, rawBody: Buffer.from('{"x":1}') })).resolves.toMatchObject({ ok: true });
  });

  const cases: [string, (h: Record<string, string>) => { url?: string; method?: string; body?: string; headers?: Record<string, string> }, string][] = [
    ['body altered', () => ({ body: '{"x":2}' }), 'signature_mismatch'],
    ['query altered', () => ({ url: '/internal/v1/things?a=1&b=3' }), 'signature_mismatch'],
    ['path altered', () => ({ url: '/internal/v1/other?a=1&b=2' }), 'signature_mismatch'],
    ['method altered', () => ({ method: 'PUT' }), 'signature_mismatch'],
    ['operator swapped', (h) => ({ headers: { ...h, 'x-benteng-operator': '0193b7a0-0000-7000-8000-0000000000c2' } }), 'signature_mismatch'],
    ['operator removed', (h) => ({ headers: Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'x-benteng-operator')) }), 'signature_mismatch'],
    ['reason altered', (h) => ({ headers: { ...h, 'x-benteng-reason': 'other' } }), 'signature_mismatch'],
    ['unknown key id', (h) => ({ headers: { ...h, 'x-benteng-key-id': 'k9' } }), 'unknown_key'],
    ['missing signature', (h) => ({ headers: Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'x-benteng-signature')) }), 'missing_headers'],
    ['short nonce', (h) => ({ headers: { ...h, 'x-benteng-nonce': 'short' } }), 'malformed_headers'],
    ['malformed timestamp', (h) => ({ headers: { ...h, 'x-benteng-timestamp': '1e9' } }), 'malformed_headers'],
  ];
  it.each(cases)('refuses: %s', async (_name, change, refusal) => {
    const { headers } = signed();
    const altered = change(headers);
    const result = await build().verify({ method: altered.method ?? 'POST', url: altered.url ?? '/internal/v1/things?a=1&b=2', headers: altered.headers ?? headers, rawBody: Buffer.from(altered.body ?? '{"x":1}') });
    expect(result).toMatchObject({ ok: false, refusal });
  });

  it('refuses timestamps outside ±tolerance, either way, and accepts the edges', async () => {
    const sut = build();
    const at = (now: number) => sut.verify({ method: 'GET', url: '/x', headers: signServiceRequest({ method: 'GET', url: '/x', keyId: 'k1', secret: SECRET, now }), rawBody: Buffer.alloc(0) });
    expect(await at(NOW - 300)).toMatchObject({ ok: true });
    expect(await at(NOW + 300)).toMatchObject({ ok: true });
    expect(await at(NOW - 301)).toMatchObject({ ok: false, refusal: 'stale_timestamp' });
    expect(await at(NOW + 301)).toMatchObject({ ok: false, refusal: 'future_timestamp' });
  });

  it('refuses a replayed nonce, remembered for twice the tolerance, and only after the signature checked out', async () => {
    const nonces = new MemoryNonces();
    const sut = build(nonces);
    const { headers } = signed();
    const request = { method: 'POST', url: '/internal/v1/things?a=1&b=2', headers, rawBody: Buffer.from('{"x":1}') };
    await sut.verify({ ...request, rawBody: Buffer.from('tampered') });
    expect(nonces.seen.size).toBe(0);
    await expect(sut.verify(request)).resolves.toMatchObject({ ok: true });
    await expect(sut.verify(request)).resolves.toMatchObject({ ok: false, refusal: 'replayed_nonce' });
    expect([...nonces.seen.values()]).toEqual([600]);
  });

  it('fails closed when the nonce store cannot answer', async () => {
    const sut = build({ remember: () => Promise.reject(new Error('redis down')) });
    const { headers } = signed();
    await expect(sut.verify({ method: 'POST', url: '/internal/v1/things?a=1&b=2', headers, rawBody: Buffer.from('{"x":1}') })).resolves.toMatchObject({ ok: false, refusal: 'nonce_store_unavailable' });
  });

  it('a key removed from the configuration (rotated out) no longer verifies, its successor does', async () => {
    const old = signed({ keyId: 'old', secret: 'o'.repeat(40) });
    const overlap = build(new MemoryNonces(), { old: 'o'.repeat(40), new: 'n'.repeat(40) });
    await expect(overlap.verify({ method: 'POST', url: '/internal/v1/things?a=1&b=2', headers: old.headers, rawBody: Buffer.from('{"x":1}') })).resolves.toMatchObject({ ok: true });
    const after = build(new MemoryNonces(), { new: 'n'.repeat(40) });
    await expect(after.verify({ method: 'POST', url: '/internal/v1/things?a=1&b=2', headers: old.headers, rawBody: Buffer.from('{"x":1}') })).resolves.toMatchObject({ ok: false, refusal: 'unknown_key' });
  });
});
