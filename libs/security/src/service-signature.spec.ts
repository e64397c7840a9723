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

  it('sorts the query by key then value whatever the order it came in', () => {
    const pairs = ['b=1', 'a=3', 'a=1', 'c=0', 'a=2', 'b=0'];
    const expected = 'a=1&a=2&a=3&b=0&b=1&c=0';
    // Every rotation and its reverse: a comparator that is wrong for equal keys or for keys in
    // reverse order gives another string for at least one of them.
    for (let i = 0; i < pairs.length; i++) {
      const rotated = [...pairs.slice(i), ...pairs.slice(0, i)];
      expect(canonicalQuery(rotated.join('&'))).toBe(expected);
      expect(canonicalQuery(rotated.reverse().join('&'))).toBe(expected);
    }
    expect(canonicalQuery('a=1?')).toBe('a=1%3F');
  });

  /** The signature an independent HMAC gives for the canonical string of these parts. */
  const expectedSignature = (parts: { method: string; path: string; query: string; body?: string; timestamp: string; nonce: string; operatorId?: string; reason?: string }) =>
    createHmac('sha256', SECRET)
      .update(['BENTENG-HMAC-SHA256', parts.method, parts.path, canonicalQuery(parts.query), sha256Hex(parts.body), parts.timestamp, parts.nonce, 'k1', parts.operatorId ?? '-', parts.reason ?? '-'].join('\n'))
      .digest('base64url');

  it('splits the request target at its first ?, a target without one being all path, and reads only http(s) URLs as absolute', () => {
    const nonce = 'n'.repeat(16);
    const sign = (url: string) => signServiceRequest({ method: 'GET', url, keyId: 'k1', secret: SECRET, now: NOW, nonce })['x-benteng-signature'];
    expect(sign('/internal/v1/things')).toBe(expectedSignature({ method: 'GET', path: '/internal/v1/things', query: '', timestamp: String(NOW), nonce }));
    expect(sign('?a=1')).toBe(expectedSignature({ method: 'GET', path: '', query: 'a=1', timestamp: String(NOW), nonce }));
    expect(sign('/x?next=http://example.com/?y=1')).toBe(expectedSignature({ method: 'GET', path: '/x', query: 'next=http://example.com/?y=1', timestamp: String(NOW), nonce }));
    expect(sign('HTTPS://example.com/x?b=1')).toBe(expectedSignature({ method: 'GET', path: '/x', query: 'b=1', timestamp: String(NOW), nonce }));
  });

  it('without operator or reason: no such headers, and none in the verified result', async () => {
    const headers = signServiceRequest({ method: 'GET', url: '/internal/v1/things', keyId: 'k1', secret: SECRET, now: NOW });
    expect(Object.keys(headers).sort()).toEqual(['x-benteng-key-id', 'x-benteng-nonce', 'x-benteng-signature', 'x-benteng-timestamp']);
    const result = await build().verify({ method: 'GET', url: '/internal/v1/things', headers, rawBody: Buffer.alloc(0) });
    expect(result).toStrictEqual({ ok: true, service: 'ops-cli', keyId: 'k1' });
  });

  it('signs at the current time when no time is given, with a fresh nonce each time', () => {
    const before = Math.floor(Date.now() / 1000);
    const headers = signServiceRequest({ method: 'GET', url: '/x', keyId: 'k1', secret: SECRET });
    const after = Math.floor(Date.now() / 1000);
    expect(Number(headers['x-benteng-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(Number(headers['x-benteng-timestamp'])).toBeLessThanOrEqual(after);
    expect(headers['x-benteng-nonce']).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(signServiceRequest({ method: 'GET', url: '/x', keyId: 'k1', secret: SECRET })['x-benteng-nonce']).not.toBe(headers['x-benteng-nonce']);
  });

  it('refuses a correctly signed request whose operator is not a UUID or whose reason is over 2000 encoded characters', async () => {
    const verify = (overrides: Partial<Parameters<typeof signServiceRequest>[0]>) => {
      const { headers } = signed(overrides);
      return build().verify({ method: 'POST', url: '/internal/v1/things?a=1&b=2', headers, rawBody: Buffer.from('{"x":1}') });
    };
    expect(await verify({ operatorId: 'ops-person' })).toEqual({ ok: false, refusal: 'malformed_headers' });
    expect(await verify({ reason: 'r'.repeat(2001) })).toEqual({ ok: false, refusal: 'malformed_headers' });
    expect(await verify({ reason: 'r'.repeat(2000) })).toMatchObject({ ok: true, reason: 'r'.repeat(2000) });
  });

  it('reads a header sent once as an array, and refuses one sent twice (which of them was signed?)', async () => {
    const { headers } = signed();
    const request = (h: Record<string, string | string[]>) => build().verify({ method: 'POST', url: '/internal/v1/things?a=1&b=2', headers: h, rawBody: Buffer.from('{"x":1}') });
    expect(await request({ ...headers, 'x-benteng-nonce': [headers['x-benteng-nonce']!] })).toMatchObject({ ok: true });
    expect(await request({ ...headers, 'x-benteng-nonce': [headers['x-benteng-nonce']!, headers['x-benteng-nonce']!] })).toEqual({ ok: false, refusal: 'malformed_headers' });
    expect(await request({ ...headers, 'x-benteng-operator': [OPERATOR, OPERATOR] })).toEqual({ ok: false, refusal: 'malformed_headers' });
  });

  it('refuses a correctly signed reason that is not valid percent-encoding', async () => {
    const nonce = 'n'.repeat(16);
    const reason = '%E0%A4%A';
    const headers = {
      'x-benteng-key-id': 'k1',
      'x-benteng-timestamp': String(NOW),
      'x-benteng-nonce': nonce,
      'x-benteng-reason': reason,
      'x-benteng-signature': expectedSignature({ method: 'POST', path: '/internal/v1/things', query: '', timestamp: String(NOW), nonce, reason }),
    };
    expect(await build().verify({ method: 'POST', url: '/internal/v1/things', headers, rawBody: Buffer.alloc(0) })).toEqual({ ok: false, refusal: 'malformed_headers', keyId: 'k1', service: 'ops-cli' });
  });
});
