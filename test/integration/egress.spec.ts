import type { LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, LookupFunction, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestFilteringHttpAgent } from 'request-filtering-agent';
import { AppConfig, loadConfig } from '@benteng/config';
import { EgressError, SafeHttpClient } from '@benteng/security';
import { egressAgentOptions, egressAllowList, guardedLookup } from '../../libs/security/src/safe-http-client.js';
import { tag } from '../security/support/controls.js';
import { selfSignedCertificate } from '../support/certificates.js';

/**
 * SafeHttpClient against real local HTTP servers. Every refusal also checks that the server saw no
 * request (and for the strict cases no connection at all): an error alone could come from anywhere
 * after the request had already gone out.
 */

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  readonly port: number;
  readonly requests: Received[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  close(): Promise<void>;
}

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

const servers: (http.Server | https.Server)[] = [];

/** An HTTP server on `host` (default: every loopback address, IPv4 and IPv6) that records what it receives. */
async function receiver(handler: Handler = (_q, s) => s.end('ok'), host = '::', port = 0): Promise<Receiver> {
  const requests: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      handler(request, response);
    });
  });
  const state: Receiver = {
    port: 0,
    requests,
    connections: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  server.on('connection', (socket: Socket) => {
    state.connections += 1;
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  servers.push(server);
  return Object.assign(state, { port: (server.address() as AddressInfo).port });
}

/** A dual-stack receiver where the machine has IPv6; an IPv4-only one elsewhere. */
async function loopbackReceiver(handler?: Handler): Promise<Receiver> {
  try {
    return await receiver(handler, '::');
  } catch {
    return await receiver(handler, '0.0.0.0');
  }
}

const config = (EGRESS_ALLOW_PRIVATE = '') => loadConfig({ ...process.env, EGRESS_ALLOW_PRIVATE });
/** No private address allowed: what production enforces (plus http, which production refuses). */
const strict = new SafeHttpClient(config());
/** 127.0.0.1 allowed, as a developer with a local receiver configures it. */
const allowLocal = new SafeHttpClient(config('127.0.0.1/32'));

/** A lookup that answers `rebind.test` from a script, one answer per call, then the last one forever. */
function scriptedLookup(...answers: string[][]): LookupFunction & { calls: number } {
  const lookup: LookupFunction = (hostname, options, callback) => {
    const answer = answers[Math.min(scripted.calls, answers.length - 1)]!;
    scripted.calls += 1;
    if (hostname !== 'rebind.test') return callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), '');
    const addresses: LookupAddress[] = answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    return options.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const scripted = Object.assign(lookup, { calls: 0 });
  return scripted;
}

async function rejectionOf(promise: Promise<unknown>): Promise<EgressError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  expect(outcome.ok, `expected a refusal, got ${JSON.stringify(outcome)}`).toBe(false);
  expect((outcome as { error: unknown }).error).toBeInstanceOf(EgressError);
  return (outcome as { error: EgressError }).error;
}

/** Lets any connection that slipped through reach the server before we count. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

let target: Receiver;

beforeAll(async () => {
  target = await loopbackReceiver();
});

afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe(tag('SSRF-EGRESS', 'SafeHttpClient refuses internal destinations'), () => {
  it.each([
    ['IPv4 loopback', (port: number) => `http://127.0.0.1:${port}/hook`],
    ['IPv4-mapped IPv6 loopback', (port: number) => `http://[::ffff:127.0.0.1]:${port}/hook`],
    ['IPv6 loopback', (port: number) => `http://[::1]:${port}/hook`],
    ['the unspecified address (reaches this machine)', (port: number) => `http://0.0.0.0:${port}/hook`],
    ['localhost, resolved by the real resolver at connect time', (port: number) => `http://localhost:${port}/hook`],
  ])('%s: blocked_address, and the local server sees no connection', async (_label, url) => {
    const before = { requests: target.requests.length, connections: target.connections };
    const error = await rejectionOf(strict.post(url(target.port), '{"secret":1}', { 'content-type': 'application/json' }, { timeoutMs: 2000 }));
    expect(error.reason).toBe('blocked_address');
    expect(error.message, 'no address in the message').not.toMatch(/127\.0\.0\.1|::1|localhost|0\.0\.0\.0/);
    await settle();
    expect(target.requests.length, 'the server must not receive the request').toBe(before.requests);
    expect(target.connections, 'no connection must even be opened').toBe(before.connections);
  });

  // Nothing listens on these here, so a request that went out would end in timeout or
  // connect_failed; only the address check answers blocked_address.
  it.each(['http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/', 'http://100.64.0.1/', 'http://[fd00::1]/', 'http://[64:ff9b::a9fe:a9fe]/'])(
    '%s: blocked_address',
    async (url) => {
      expect((await rejectionOf(strict.post(url, '{}', {}, { timeoutMs: 1000 }))).reason).toBe('blocked_address');
    },
  );

  it('checks the address the socket connects to, not an earlier answer (DNS rebinding)', async () => {
    // 127.0.0.2 stands in for a public address (allowed here), 127.0.0.1 for the internal one.
    // Both listen on the same port, so only the address decides who would receive the request.
    const internal = await receiver(undefined, '127.0.0.1');
    const outside = await receiver(undefined, '127.0.0.2', internal.port);
    const lookup = scriptedLookup(['127.0.0.2'], ['127.0.0.1']);
    const sut = new SafeHttpClient(config('127.0.0.2/32'), lookup);
    const url = `http://rebind.test:${internal.port}/hook`;

    // The tenant saves the endpoint: the name is not resolved, and it is deliverable.
    expect(() => sut.assertDeliverableUrl(url)).not.toThrow();
    // First delivery: the name answers the "public" address, the request goes there.
    expect((await sut.post(url, 'first', {})).status).toBe(200);
    expect(outside.requests.map((request) => request.body)).toEqual(['first']);
    // The owner of the name now answers 127.0.0.1: the next connection's own lookup is checked.
    const error = await rejectionOf(sut.post(url, 'second', {}));
    expect(error.reason).toBe('blocked_address');
    expect(lookup.calls, 'each delivery resolves the name afresh, at connect time').toBe(2);
    await settle();
    expect(internal.connections, 'the internal server must see no connection').toBe(0);
    expect(outside.requests, 'and nothing else went out').toHaveLength(1);
  });

  it('keeps a connection alive only to the address a fresh lookup just checked (keep-alive does not skip the check)', async () => {
    const internal = await receiver(undefined, '127.0.0.1');
    const outside = await receiver(undefined, '127.0.0.2', internal.port);
    const lookup = scriptedLookup(['127.0.0.2'], ['127.0.0.2'], ['127.0.0.2'], ['127.0.0.1']);
    const sut = new SafeHttpClient(config('127.0.0.2/32'), lookup);
    const url = `http://rebind.test:${internal.port}/hook`;
    for (const body of ['one', 'two', 'three']) expect((await sut.post(url, body, {})).status).toBe(200);
    // Three requests, three lookups, one connection: the socket is pooled by the checked address.
    expect(outside.requests.map((request) => request.body)).toEqual(['one', 'two', 'three']);
    expect(outside.requests.every((request) => request.headers.host === `rebind.test:${internal.port}`)).toBe(true);
    expect(outside.connections).toBe(1);
    expect(lookup.calls).toBe(3);
    // The name now answers the internal address: refused by the fresh lookup, although a socket to
    // the earlier address is still open in the pool.
    expect((await rejectionOf(sut.post(url, 'four', {}))).reason).toBe('blocked_address');
    await settle();
    expect(internal.connections).toBe(0);
    expect(outside.requests).toHaveLength(3);
  });

  it('refuses a name when any of its addresses is internal (no happy-eyeballs fallback)', async () => {
    const internal = await receiver(undefined, '127.0.0.1');
    const outside = await receiver(undefined, '127.0.0.2', internal.port);
    const sut = new SafeHttpClient(config('127.0.0.2/32'), scriptedLookup(['127.0.0.2', '127.0.0.1']));
    expect((await rejectionOf(sut.post(`http://rebind.test:${internal.port}/`, 'x', {}))).reason).toBe('blocked_address');
    await settle();
    expect(internal.connections + outside.connections).toBe(0);
  });

  it('refuses plain http in production before any connection', async () => {
    const production = new SafeHttpClient(Object.freeze(Object.assign(new AppConfig(), { NODE_ENV: 'production' as const })));
    const error = await rejectionOf(production.post('http://example.com/hook', '{}', {}));
    expect(error.reason).toBe('https_required');
  });
});

describe(tag('SSRF-EGRESS', 'each connect-time layer on its own'), () => {
  const policy = { allow: egressAllowList(config()) };
  const pointToLoopback: LookupFunction = (_hostname, options, callback) =>
    options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);

  function send(agent: http.Agent, host: string, port: number): Promise<{ status?: number; error?: Error }> {
    return new Promise((resolve) => {
      const request = http.request({ host, port, method: 'POST', path: '/layer', agent }, (response) => {
        response.resume();
        resolve({ status: response.statusCode });
      });
      request.on('error', (error) => resolve({ error }));
      request.end('x');
    });
  }

  it('the control: without either layer the request reaches the server', async () => {
    const before = target.requests.length;
    expect(await send(new http.Agent({ lookup: pointToLoopback }), 'rebind.test', target.port)).toEqual({ status: 200 });
    expect(target.requests.length).toBe(before + 1);
  });

  it('request-filtering-agent, as configured, refuses a resolved loopback address without our lookup guard', async () => {
    const before = target.connections;
    const agent = new RequestFilteringHttpAgent({ ...egressAgentOptions(policy, pointToLoopback), lookup: pointToLoopback });
    expect((await send(agent, 'rebind.test', target.port)).error?.message).toMatch(/is not allowed/);
    expect((await send(agent, '127.0.0.1', target.port)).error?.message, 'and a literal one, for which no lookup happens').toMatch(/is not allowed/);
    await settle();
    expect(target.connections).toBe(before);
  });

  it('our lookup guard refuses a resolved loopback address on a plain http.Agent', async () => {
    const before = target.connections;
    const agent = new http.Agent({ lookup: guardedLookup(pointToLoopback, policy) });
    expect((await send(agent, 'rebind.test', target.port)).error).toMatchObject({ name: 'EgressError', reason: 'blocked_address' });
    await settle();
    expect(target.connections).toBe(before);
  });
});

describe(tag('SSRF-EGRESS', 'SafeHttpClient never follows redirects'), () => {
  it('returns a 302 to the metadata service as the response, and contacts nothing else', async () => {
    const redirector = await receiver((_q, response) => response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end(), '127.0.0.1');
    const response = await allowLocal.post(`http://127.0.0.1:${redirector.port}/hook`, '{}', {}, { timeoutMs: 2000 });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('http://169.254.169.254/latest/meta-data');
    expect(redirector.connections).toBe(1);
  });

  it.each([301, 302, 303, 307, 308])('does not follow a %i even to an allowed address', async (status) => {
    const destination = await receiver(undefined, '127.0.0.1');
    const redirector = await receiver((_q, response) => response.writeHead(status, { location: `http://127.0.0.1:${destination.port}/moved` }).end(), '127.0.0.1');
    const response = await allowLocal.post(`http://127.0.0.1:${redirector.port}/hook`, 'payload', {});
    expect(response.status).toBe(status);
    await settle();
    expect(destination.connections, 'the redirect target must not be contacted').toBe(0);
    expect(redirector.requests).toHaveLength(1);
  });
});

describe('SafeHttpClient delivers to allowed addresses', () => {
  it('POSTs the body and headers with EGRESS_ALLOW_PRIVATE=127.0.0.1/32, and returns the answer', async () => {
    const receiving = await receiver((_q, response) => response.writeHead(202, { 'x-receiver': 'yes', 'set-cookie': ['a=1', 'b=2'] }).end('accepted ✓'), '127.0.0.1');
    const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_1', note: 'ünïcode' } });
    const response = await allowLocal.post(`http://127.0.0.1:${receiving.port}/hooks/in?source=benteng`, body, {
      'Content-Type': 'application/json',
      'webhook-id': 'msg_1',
      'webhook-signature': 'v1,abc',
      'Content-Length': '1',
      Host: 'evil.example',
      // Set by the client itself: a caller's value would contradict the body or the keep-alive pool.
      'Transfer-Encoding': 'chunked',
      Connection: 'close',
      'Keep-Alive': 'timeout=600',
    });
    expect(response).toMatchObject({ status: 202, body: 'accepted ✓', truncated: false });
    expect(response.headers['x-receiver']).toBe('yes');
    expect(response.headers['set-cookie']).toBe('a=1, b=2');
    expect(response.latencyMs).toBeGreaterThanOrEqual(0);
    const [received] = receiving.requests;
    expect(received).toMatchObject({ method: 'POST', url: '/hooks/in?source=benteng', body });
    expect(received!.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': 'msg_1',
      'webhook-signature': 'v1,abc',
      'content-length': String(Buffer.byteLength(body)),
      host: `127.0.0.1:${receiving.port}`,
      connection: 'keep-alive',
    });
    expect(received!.headers['transfer-encoding']).toBeUndefined();
    expect(received!.headers['keep-alive']).toBeUndefined();
  });

  it('measures the latency from the start of post to the end of the body', async () => {
    const slow = await receiver((_q, response) => setTimeout(() => response.end('late'), 150), '127.0.0.1');
    const started = performance.now();
    const response = await allowLocal.post(`http://127.0.0.1:${slow.port}/`, '{}', {});
    const elapsed = performance.now() - started;
    expect(response.body).toBe('late');
    expect(response.latencyMs).toBeGreaterThanOrEqual(140);
    expect(response.latencyMs).toBeLessThanOrEqual(Math.ceil(elapsed) + 1);
  });

  it('returns an error status as a response, not a rejection', async () => {
    const failing = await receiver((_q, response) => response.writeHead(500).end('boom'), '127.0.0.1');
    expect(await allowLocal.post(`http://127.0.0.1:${failing.port}/`, '{}', {})).toMatchObject({ status: 500, body: 'boom' });
  });

  it('still refuses what the allow list does not name', async () => {
    const error = await rejectionOf(allowLocal.post(`http://[::1]:${target.port}/`, '{}', {}));
    expect(error.reason).toBe('blocked_address');
  });
});

describe('SafeHttpClient limits', () => {
  it('gives up on a receiver that does not answer in time: timeout', async () => {
    const silent = await receiver(() => undefined, '127.0.0.1');
    const started = Date.now();
    const error = await rejectionOf(allowLocal.post(`http://127.0.0.1:${silent.port}/`, '{}', {}, { timeoutMs: 300 }));
    expect(error.reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('counts the whole response against the deadline: a trickling body times out too', async () => {
    let timer: NodeJS.Timeout | undefined;
    const trickle = await receiver((_q, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      timer = setInterval(() => response.write('.'), 50);
      response.on('close', () => clearInterval(timer));
    }, '127.0.0.1');
    const started = Date.now();
    const error = await rejectionOf(allowLocal.post(`http://127.0.0.1:${trickle.port}/`, '{}', {}, { timeoutMs: 400 }));
    expect(error.reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('uses WEBHOOK_TIMEOUT_MS by default', async () => {
    const silent = await receiver(() => undefined, '127.0.0.1');
    const sut = new SafeHttpClient(loadConfig({ ...process.env, EGRESS_ALLOW_PRIVATE: '127.0.0.1/32', WEBHOOK_TIMEOUT_MS: '200' }));
    expect((await rejectionOf(sut.post(`http://127.0.0.1:${silent.port}/`, '{}', {}))).reason).toBe('timeout');
  });

  it('reads at most maxBytes of a huge response, marks it truncated and closes the connection', async () => {
    let closed: Promise<void> | undefined;
    const huge = await receiver((_q, response) => {
      response.writeHead(200);
      closed = new Promise((resolve) => response.on('close', () => resolve()));
      // An endless body: only the client closing the connection ends it.
      const pump = () => {
        while (!response.destroyed && response.write(Buffer.alloc(16 * 1024, 'a')));
      };
      response.on('drain', pump);
      pump();
    }, '127.0.0.1');
    const response = await allowLocal.post(`http://127.0.0.1:${huge.port}/`, '{}', {}, { maxBytes: 1000, timeoutMs: 5000 });
    expect(response).toMatchObject({ status: 200, truncated: true });
    expect(response.body).toBe('a'.repeat(1000));
    const gaveUp = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 2000));
    expect(await Promise.race([closed!.then(() => 'closed'), gaveUp]), 'the client must close the connection instead of reading on').toBe('closed');
  });

  it('uses WEBHOOK_RESPONSE_MAX_BYTES by default, and a body of exactly that size is not truncated', async () => {
    const sized = await receiver((request, response) => response.end('b'.repeat(Number(request.url!.slice(1)))), '127.0.0.1');
    const sut = new SafeHttpClient(loadConfig({ ...process.env, EGRESS_ALLOW_PRIVATE: '127.0.0.1/32', WEBHOOK_RESPONSE_MAX_BYTES: '300' }));
    expect(await sut.post(`http://127.0.0.1:${sized.port}/300`, '', {})).toMatchObject({ truncated: false, body: 'b'.repeat(300) });
    expect(await sut.post(`http://127.0.0.1:${sized.port}/301`, '', {})).toMatchObject({ truncated: true, body: 'b'.repeat(300) });
  });

  it('does not end a truncated body with half a character', async () => {
    const utf8 = await receiver((_q, response) => response.end('é'.repeat(100)), '127.0.0.1');
    const response = await allowLocal.post(`http://127.0.0.1:${utf8.port}/`, '', {}, { maxBytes: 11 });
    expect(response).toMatchObject({ truncated: true, body: 'é'.repeat(5) });
  });

  it('refuses oversized response headers: too_large', async () => {
    const bloated = await receiver((_q, response) => response.writeHead(200, { 'x-bloat': 'z'.repeat(20_000) }).end(), '127.0.0.1');
    expect((await rejectionOf(allowLocal.post(`http://127.0.0.1:${bloated.port}/`, '', {}))).reason).toBe('too_large');
  });

  it('counts the name lookup against the deadline: a resolver that never answers is a timeout', async () => {
    const silent: LookupFunction = () => undefined;
    const sut = new SafeHttpClient(config(), silent);
    const started = Date.now();
    const error = await rejectionOf(sut.post('http://hook.test/', '{}', {}, { timeoutMs: 200 }));
    expect(error).toMatchObject({ reason: 'timeout', message: 'No complete response in time.' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('waits for a slow resolver within the deadline', async () => {
    const receiving = await receiver(undefined, '127.0.0.1');
    const scripted = scriptedLookup(['127.0.0.1']);
    const slow: LookupFunction = (hostname, options, callback) => void setTimeout(() => scripted(hostname, options, callback), 100);
    const sut = new SafeHttpClient(config('127.0.0.1/32'), slow);
    expect(await sut.post(`http://rebind.test:${receiving.port}/`, '{}', {}, { timeoutMs: 3000 })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('names the deadline in the message of a timeout', async () => {
    const silent = await receiver(() => undefined, '127.0.0.1');
    expect(await rejectionOf(allowLocal.post(`http://127.0.0.1:${silent.port}/`, '{}', {}, { timeoutMs: 250 }))).toMatchObject({
      reason: 'timeout',
      message: 'No complete response within 250 ms.',
    });
  });

  it('reports a refused connection as connect_failed and an unknown name as dns', async () => {
    const closed = await receiver(undefined, '127.0.0.1');
    await closed.close();
    expect((await rejectionOf(allowLocal.post(`http://127.0.0.1:${closed.port}/`, '', {}))).reason).toBe('connect_failed');
    const sut = new SafeHttpClient(config(), scriptedLookup(['8.8.8.8']));
    expect((await rejectionOf(sut.post('http://unknown.test/', '', {}))).reason).toBe('dns');
  });
});

describe('SafeHttpClient and kept-alive connections', () => {
  /** A receiver that answers with `answer(n, m)`: n counts its connections, m the requests on this one (both from 1). */
  async function byConnection(answer: (connection: number, request: number, response: http.ServerResponse) => void): Promise<Receiver> {
    const perSocket = new WeakMap<object, { connection: number; requests: number }>();
    let connections = 0;
    return receiver((request, response) => {
      let seen = perSocket.get(request.socket);
      if (!seen) perSocket.set(request.socket, (seen = { connection: (connections += 1), requests: 0 }));
      seen.requests += 1;
      answer(seen.connection, seen.requests, response);
    }, '127.0.0.1');
  }

  it('sends a request once more on a fresh connection when the kept-alive one turns out closed', async () => {
    // The receiver drops a connection's second request without an answer, as a receiver does whose
    // idle timeout ended just as the socket was reused.
    const flaky = await byConnection((_connection, request, response) => (request === 1 ? response.end('ok') : response.socket!.destroy()));
    const sut = new SafeHttpClient(config('127.0.0.1/32'));
    expect(await sut.post(`http://127.0.0.1:${flaky.port}/`, 'one', {})).toMatchObject({ status: 200 });
    expect(await sut.post(`http://127.0.0.1:${flaky.port}/`, 'two', {})).toMatchObject({ status: 200 });
    expect(flaky.requests.map((request) => request.body)).toEqual(['one', 'two', 'two']);
    expect(flaky.connections).toBe(2);
  });

  it('does not send again what a fresh connection lost: the receiver may have it', async () => {
    const flaky = await byConnection((connection, _request, response) => (connection === 1 ? response.socket!.destroy() : response.end('ok')));
    const sut = new SafeHttpClient(config('127.0.0.1/32'));
    expect((await rejectionOf(sut.post(`http://127.0.0.1:${flaky.port}/`, 'one', {}))).reason).toBe('connect_failed');
    await settle();
    expect(flaky.requests.map((request) => request.body)).toEqual(['one']);
  });

  it('does not send again once the answer has begun, even on a kept-alive connection', async () => {
    const flaky = await byConnection((connection, request, response) => {
      if (connection === 1 && request === 2) {
        response.writeHead(200, { 'content-length': '100' });
        response.write('partial', () => response.socket!.destroy());
      } else response.end('ok');
    });
    const sut = new SafeHttpClient(config('127.0.0.1/32'));
    expect(await sut.post(`http://127.0.0.1:${flaky.port}/`, 'one', {})).toMatchObject({ status: 200 });
    expect((await rejectionOf(sut.post(`http://127.0.0.1:${flaky.port}/`, 'two', {}))).reason).toBe('connect_failed');
    await settle();
    expect(flaky.requests.map((request) => request.body)).toEqual(['one', 'two']);
  });
});

const certificate = selfSignedCertificate('127.0.0.1', ['subjectAltName=IP:127.0.0.1']);

describe(tag('SSRF-EGRESS', 'SafeHttpClient over https'), () => {
  it.skipIf(certificate === undefined)('verifies the receiver\'s certificate: a self-signed one is refused as tls', async () => {
    let requests = 0;
    const server = https.createServer(certificate!, (_q, response) => {
      requests += 1;
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const { port } = server.address() as AddressInfo;
    expect((await rejectionOf(allowLocal.post(`https://127.0.0.1:${port}/`, 'secret payload', {}))).reason).toBe('tls');
    expect(requests, 'nothing is sent over an unverified connection').toBe(0);
  });

  it('refuses internal addresses over https as over http', async () => {
    const before = target.connections;
    expect((await rejectionOf(strict.post(`https://localhost:${target.port}/`, '{}', {}))).reason).toBe('blocked_address');
    await settle();
    expect(target.connections).toBe(before);
  });
});
