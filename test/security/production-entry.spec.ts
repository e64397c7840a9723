import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ENTRY, startCompiled, type WorkerProcess } from '../support/worker.js';
import { tag } from './support/controls.js';
import { freePort } from '../support/net.js';

/**
 * The production entry point, not the tests' own builder: the compiled `dist/apps/api/src/main.js`
 * that `npm start`, compose and a deployment run, started as a process and attacked over HTTP. Every
 * other spec builds the app through test/support/api.ts, so a main.ts that forgot a part of the
 * bootstrap (validation, headers, error mapping, limits) would pass all of them; this file would not.
 */
describe(tag('ERROR-PROBLEM', 'the production entry point (compiled main.js) applies the whole HTTP bootstrap'), () => {
  let api: WorkerProcess;
  let base: string;
  let internalBase: string;

  beforeAll(async () => {
    const [port, internalPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${port}`;
    internalBase = `http://127.0.0.1:${internalPort}`;
    api = startCompiled(API_ENTRY, { HOST: '127.0.0.1', PORT: String(port), INTERNAL_HOST: '127.0.0.1', INTERNAL_PORT: String(internalPort), LOG_LEVEL: 'warn' });
    const deadline = Date.now() + 45_000;
    for (;;) {
      const ready = await fetch(`${internalBase}/internal/v1/whoami`).then(() => fetch(`${base}/health/live`)).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline || (await Promise.race([api.exit.then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]))) {
        throw new Error(`the compiled API did not start:\n${api.output()}`);
      }
    }
  }, 60_000);

  afterAll(async () => {
    await api?.stop();
  });

  const expectHardened = (response: Response) => {
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(response.headers.get('x-request-id')).toBeTruthy();
  };
  const login = (body: string) => fetch(`${base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it(tag('SECURITY-HEADERS', 'a successful answer carries the security headers and a request id'), async () => {
    const response = await fetch(`${base}/health/live`);
    expect(response.status).toBe(200);
    expectHardened(response);
  });

  it(tag('SECURITY-HEADERS', 'an unknown route is a 404 problem+json with the security headers, without echoing the path'), async () => {
    const response = await fetch(`${base}/v1/not-a-route-7f3a?x=<script>`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expectHardened(response);
    const text = await response.text();
    expect(text).not.toContain('not-a-route-7f3a');
    expect(JSON.parse(text)).toMatchObject({ status: 404 });
  });

  it(tag('INPUT-VALIDATION', 'an unknown body field is refused with 400, naming the field, before any work'), async () => {
    const response = await login(JSON.stringify({ email: 'nobody@example.com', password: 'x'.repeat(12), isAdmin: true }));
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expectHardened(response);
    expect(JSON.stringify(await response.json())).toContain('isAdmin');
  });

  it(tag('INPUT-VALIDATION', 'a NUL byte in a string field is refused with 400'), async () => {
    const response = await login(JSON.stringify({ email: 'a\u0000b@example.com', password: 'x'.repeat(12) }));
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it(tag('BODY-LIMIT', 'a body over the limit is refused with 413 problem+json'), async () => {
    const response = await login(JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024) }));
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expectHardened(response);
  });

  it(tag('AUTHN-SERVICE-SIGNATURE', 'the internal listener refuses an unsigned request with a hardened 401 problem+json'), async () => {
    const response = await fetch(`${internalBase}/internal/v1/whoami`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('content-security-policy')).toBeTruthy();
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
