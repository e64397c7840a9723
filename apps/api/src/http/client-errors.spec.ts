import type { Socket } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { clientErrorHandler, requireHostHeader } from './client-errors.js';
import { helmetHeaders } from './security-headers.js';
import { problemBase, PROBLEM_CONTENT_TYPE } from './problem.js';

// Unit spec of the answers written before a request exists (ERROR-PROBLEM, SECURITY-HEADERS): the
// parser-error handler against a stand-in socket, the Host rule on a bare Fastify instance.
// test/security/http-parser.spec.ts and the e2e specs prove the same on the running API.

function fakeSocket(state: { destroyed?: boolean; writable?: boolean } = {}) {
  const written: string[] = [];
  const destroyedWith: unknown[] = [];
  const socket = {
    destroyed: state.destroyed ?? false,
    writable: state.writable ?? true,
    write: (chunk: string) => void written.push(chunk),
    destroy: (error?: unknown) => void destroyedWith.push(error),
  };
  return { written, destroyedWith, socket: socket as unknown as Socket };
}

function parse(raw: string) {
  const [head, body] = raw.split('\r\n\r\n') as [string, string];
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
  return { statusLine, headers, lines, body: JSON.parse(body) as Record<string, unknown>, bodyText: body };
}

describe('helmetHeaders', () => {
  it('are the headers helmet sets with HELMET_OPTIONS, lower-cased, without the ones it removes', () => {
    const headers = helmetHeaders();
    expect(headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['cross-origin-resource-policy']).toBe('same-site');
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(Object.keys(headers).every((name) => name === name.toLowerCase())).toBe(true);
    // helmet removes X-Powered-By: the stand-in deletes it rather than keeping an empty value.
    expect(headers).not.toHaveProperty('x-powered-by');
    expect(Object.values(headers).every((value) => typeof value === 'string' && value.length > 0)).toBe(true);
  });
});

describe('clientErrorHandler', () => {
  const handler = clientErrorHandler();
  const error = (code?: string) => Object.assign(new Error('parse error'), code === undefined ? {} : { code });

  it.each([
    ['HPE_HEADER_OVERFLOW', 431, 'Request Header Fields Too Large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'Request Timeout'],
    ['HPE_INVALID_METHOD', 400, 'Bad Request'],
    [undefined, 400, 'Bad Request'],
  ])('%s: writes a %i problem+json with security headers and a request id, then closes', (code, status, reason) => {
    const { written, destroyedWith, socket } = fakeSocket();
    const cause = error(code);
    handler(cause, socket);
    expect(written).toHaveLength(1);
    const answer = parse(written[0]!);
    expect(answer.statusLine).toBe(`HTTP/1.1 ${status} ${reason}`);
    const requestId = answer.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.body).toEqual({ ...problemBase(status), requestId });
    expect(answer.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
    expect(answer.headers.get('content-length')).toBe(String(Buffer.byteLength(answer.bodyText)));
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('connection')).toBe('close');
    for (const [name, value] of Object.entries(helmetHeaders())) expect(answer.headers.get(name)).toBe(value);
    expect(answer.lines).toHaveLength(5 + Object.keys(helmetHeaders()).length);
    expect(destroyedWith).toEqual([cause]);
  });

  it('gives each answer its own request id', () => {
    const one = fakeSocket();
    const two = fakeSocket();
    handler(error(), one.socket);
    handler(error(), two.socket);
    expect(parse(one.written[0]!).headers.get('x-request-id')).not.toBe(parse(two.written[0]!).headers.get('x-request-id'));
  });

  it('writes nothing to a reset, destroyed or unwritable socket', () => {
    const reset = fakeSocket();
    handler(error('ECONNRESET'), reset.socket);
    expect([reset.written, reset.destroyedWith]).toEqual([[], []]);
    const destroyed = fakeSocket({ destroyed: true });
    handler(error(), destroyed.socket);
    expect([destroyed.written, destroyed.destroyedWith]).toEqual([[], []]);
    const unwritable = fakeSocket({ writable: false });
    const cause = error();
    handler(cause, unwritable.socket);
    expect(unwritable.written).toEqual([]);
    expect(unwritable.destroyedWith).toEqual([cause]);
  });
});

describe('requireHostHeader', () => {
  let app: ReturnType<typeof Fastify> | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function withRule() {
    const sut = Fastify();
    app = sut;
    // light-my-request always speaks HTTP/1.1: a marker header stands in for an HTTP/1.0 request line.
    sut.addHook('onRequest', (request, _reply, done) => {
      if (request.headers['x-http-1-0']) Object.defineProperty(request.raw, 'httpVersion', { value: '1.0' });
      // light-my-request always sends a Host: a marker header stands in for its absence.
      if (request.headers['x-no-host']) delete request.headers.host;
      done();
    });
    requireHostHeader(sut);
    sut.setErrorHandler((error: Error & { status?: number }, _request, reply) => void reply.status(error.status ?? 500).send({ refused: error.constructor.name }));
    sut.get('/', async () => ({ ok: true }));
    await sut.ready();
    return sut;
  }

  it('refuses an HTTP/1.1 request without Host with a 400 and closes the connection', async () => {
    const sut = await withRule();
    const res = await sut.inject({ method: 'GET', url: '/', headers: { 'x-no-host': '1' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ refused: 'BadRequestException' });
    expect(res.headers['connection']).toBe('close');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('passes a request with Host, and an HTTP/1.0 request without it', async () => {
    const sut = await withRule();
    const res = await sut.inject({ method: 'GET', url: '/', headers: { host: 'api.example' } });
    expect([res.statusCode, res.json()]).toEqual([200, { ok: true }]);
    expect(res.headers['cache-control']).toBeUndefined();
    expect(res.headers['connection']).not.toBe('close');
    const old = await sut.inject({ method: 'GET', url: '/', headers: { 'x-no-host': '1', 'x-http-1-0': '1' } });
    expect([old.statusCode, old.json()]).toEqual([200, { ok: true }]);
  });
});
