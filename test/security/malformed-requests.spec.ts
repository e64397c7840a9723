import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { tag } from './support/controls.js';
import { MALFORMED_REQUESTS, PATH_PARAMETER, sendRaw } from './support/malformed-requests.js';

const PROBLEM = /^application\/problem\+json/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Headers every answer of a listener carries that are not about one particular answer. */
const PER_ANSWER = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'x-request-id', 'cache-control', 'vary', 'www-authenticate', 'ratelimit', 'ratelimit-policy', 'retry-after']);

/**
 * Parser-level errors (issue 14): bytes Node's HTTP parser refuses before any request exists, sent
 * raw to both listeners, for a path of every route the listener serves. Each answer is the same
 * RFC 9457 problem+json as every other error, with every security header a normal answer of the
 * same listener carries (same values), `Cache-Control: no-store` and a request id.
 */
describe.each([
  { listener: 'public', build: () => buildApi(), normal: '/health/live' },
  { listener: 'internal', build: () => buildInternalApi(), normal: '/internal/v1/whoami' },
])('$listener listener', ({ build, normal }) => {
  let api: TestApi;
  let port: number;

  beforeAll(async () => {
    api = await build();
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    port = (api.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(() => api.close());
  /** Each route path of the listener once, parameters filled, with one method it serves. */
  const routePaths = () => [...new Map(listRoutes(api.app).map((r) => [r.path.replace(/:[A-Za-z0-9_]+/g, PATH_PARAMETER), r.method])).entries()];

  it(tag('ERROR-PROBLEM', 'every malformed request the HTTP parser refuses is problem+json with a request id, on every route path'), async () => {
    const paths = routePaths();
    expect(paths.length).toBeGreaterThan(5);
    const failures: string[] = [];
    let probes = 0;
    for (const malformed of MALFORMED_REQUESTS) {
      // Every path for the cheap cases; the oversized ones on a sample (their size is the point, not the path).
      const applicable = paths.filter(([path]) => malformed.appliesTo?.(path) ?? true);
      for (const [path, method] of malformed.status === 431 ? applicable.slice(0, 3) : applicable) {
        const res = await sendRaw(port, malformed.bytes(path, method));
        probes++;
        const problems: string[] = [];
        if (res.status !== malformed.status) problems.push(`status ${res.status}, expected ${malformed.status}`);
        if (!PROBLEM.test(res.headers['content-type'] ?? '')) problems.push(`content-type ${res.headers['content-type'] ?? '(none)'}`);
        if (!UUID.test(res.headers['x-request-id'] ?? '')) problems.push('no request id');
        let body: Record<string, unknown> | undefined;
        try {
          body = JSON.parse(res.body) as Record<string, unknown>;
        } catch {
          problems.push('body is not JSON');
        }
        if (body && (body.status !== res.status || typeof body.code !== 'string' || body.type !== `urn:benteng:problem:${String(body.code)}` || body.requestId !== res.headers['x-request-id'] || typeof body.title !== 'string')) problems.push(`body ${res.body}`);
        if (problems.length > 0) failures.push(`${malformed.name} on ${path}: ${problems.join('; ')}`);
      }
    }
    expect(failures).toEqual([]);
    expect(probes).toBeGreaterThan(MALFORMED_REQUESTS.length * 3);
  });

  it(tag('SECURITY-HEADERS', 'a malformed request is answered with every security header a normal answer carries, and no-store'), async () => {
    const paths = routePaths();
    const fine = await sendRaw(port, `GET ${normal} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const security = Object.entries(fine.headers).filter(([name]) => !PER_ANSWER.has(name));
    // The listener's own security headers: CSP, nosniff, frame denial, HSTS, referrer policy...
    expect(security.map(([name]) => name)).toEqual(expect.arrayContaining(['content-security-policy', 'x-content-type-options', 'x-frame-options', 'strict-transport-security', 'referrer-policy']));
    const expected = Object.fromEntries(security);
    const answers: Record<string, Record<string, string | undefined>> = {};
    for (const malformed of MALFORMED_REQUESTS) {
      const [path, method] = malformed.appliesTo ? (paths.find(([p]) => malformed.appliesTo!(p)) ?? [normal, 'GET']) : [normal, 'GET'];
      const res = await sendRaw(port, malformed.bytes(path, method));
      answers[malformed.name] = { ...Object.fromEntries(security.map(([name]) => [name, res.headers[name]])), 'cache-control': res.headers['cache-control'] };
    }
    expect(answers).toEqual(Object.fromEntries(MALFORMED_REQUESTS.map((m) => [m.name, { ...expected, 'cache-control': 'no-store' }])));
  });
});
