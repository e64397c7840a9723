import type { LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, LookupFunction, Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { EgressError, SafeHttpClient } from './safe-http-client.js';
import { selfSignedCertificate } from '../../../test/support/certificates.js';

/**
 * SafeHttpClient's request path (`post`, `addressOf`, `send`) against local servers on 127.0.0.1
 * (port 0), for what test/integration/egress.spec.ts leaves open: a literal address is never
 * resolved, the body limit counts every chunk, no timer outlives a request, a failed request's
 * connection is closed, and a request is sent again at most once and only after a stale socket.
 */

const sut = (lookup?: LookupFunction) => new SafeHttpClient(loadConfig({ NODE_ENV: 'test', EGRESS_ALLOW_PRIVATE: '127.0.0.1/32' }), lookup);

const servers: (http.Server | https.Server)[] = [];

afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

interface Local {
  port: number;
  bodies: string[];
  connections: number;
  /** Resolves when the server side of a connection has closed, with the count of those closed so far. */
  closed: () => number;
}

/** A server on 127.0.0.1 whose answer gets the connection's number and the request's number on it (both from 1). */
async function local(answer: (response: http.ServerResponse, connection: number, request: number) => void): Promise<Local> {
  const perSocket = new WeakMap<object, { connection: number; requests: number }>();
  let connections = 0;
  let closed = 0;
  const bodies: string[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      const seen = perSocket.get(request.socket)!;
      seen.requests += 1;
      answer(response, seen.connection, seen.requests);
    });
  });
  server.on('connection', (socket: Socket) => {
    perSocket.set(socket, { connection: (connections += 1), requests: 0 });
    socket.on('error', () => undefined);
    socket.on('close', () => (closed += 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return {
    port: (server.address() as AddressInfo).port,
    bodies,
    get connections() {
      return connections;
    },
    closed: () => closed,
  };
}

/** A lookup that answers every name with 127.0.0.1 and counts its calls. */
function countingLookup(): LookupFunction & { calls: number } {
  const lookup: LookupFunction = (_hostname, options, callback) => {
    counted.calls += 1;
    const answer: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];
    return options.all ? callback(null, answer) : callback(null, '127.0.0.1', 4);
  };
  const counted = Object.assign(lookup, { calls: 0 });
  return counted;
}

async function rejectionOf(promise: Promise<unknown>): Promise<EgressError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a refusal, got ${JSON.stringify(value)}`);
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(EgressError);
  return error as EgressError;
}

/** Timers that keep this process alive (a leaked request timer is one of them until its deadline). */
const liveTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

describe('SafeHttpClient.post: addresses', () => {
  it('connects to a literal address as it is, without asking the resolver', async () => {
    const server = await local((response) => response.end('ok'));
    const lookup = countingLookup();
    expect(await sut(lookup).post(`http://127.0.0.1:${server.port}/`, 'literal', {})).toMatchObject({ status: 200, body: 'ok' });
    expect(lookup.calls).toBe(0);
    // A name is resolved, once per request.
    expect(await sut(lookup).post(`http://hook.test:${server.port}/`, 'named', {})).toMatchObject({ status: 200 });
    expect(lookup.calls).toBe(1);
    expect(server.bodies).toEqual(['literal', 'named']);
  });
});

describe('SafeHttpClient.post: the body limit', () => {
  it('counts every chunk against maxBytes: a body that arrives in pieces is cut at the limit in total', async () => {
    const server = await local((response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('abcdef');
      setTimeout(() => response.write('ghijkl'), 40);
      setTimeout(() => response.end('mnopqr'), 80);
    });
    const response = await sut().post(`http://127.0.0.1:${server.port}/`, '', {}, { maxBytes: 10, timeoutMs: 3000 });
    expect(response).toMatchObject({ status: 200, truncated: true, body: 'abcdefghij' });
  });
});

describe('SafeHttpClient.post: timers and connections', () => {
  it('leaves no timer behind once the answer is in (neither the lookup deadline nor the request deadline)', async () => {
    const server = await local((response) => response.end('ok'));
    const client = sut(countingLookup());
    // A first request, so that the keep-alive pool's own bookkeeping exists before counting.
    await client.post(`http://hook.test:${server.port}/`, 'warm', {}, { timeoutMs: 20_000 });
    const before = liveTimers();
    expect(await client.post(`http://hook.test:${server.port}/`, 'counted', {}, { timeoutMs: 20_000 })).toMatchObject({ status: 200 });
    expect(liveTimers(), 'a 20 s timer left running would hold the process').toBe(before);
  });

  it('closes the connection of a request that timed out, instead of leaving it open to the receiver', async () => {
    const server = await local(() => undefined);
    expect((await rejectionOf(sut().post(`http://127.0.0.1:${server.port}/`, 'x', {}, { timeoutMs: 200 }))).reason).toBe('timeout');
    expect(await until(() => server.closed() === 1, 1000), 'the client closes its side at the deadline').toBe(true);
  });
});

describe('SafeHttpClient.post: sending again', () => {
  it('does not send again after a failure that is not a closed socket, even on a kept-alive connection (oversized headers)', async () => {
    const server = await local((response, connection, request) => {
      if (connection === 1 && request === 2) response.writeHead(200, { 'x-bloat': 'z'.repeat(20_000) }).end();
      else response.end('ok');
    });
    const client = sut();
    expect(await client.post(`http://127.0.0.1:${server.port}/`, 'one', {})).toMatchObject({ status: 200 });
    expect((await rejectionOf(client.post(`http://127.0.0.1:${server.port}/`, 'two', {}))).reason).toBe('too_large');
    expect(server.bodies).toEqual(['one', 'two']);
  });

  it('sends a request again at most once, even when the pool holds a second dead socket', async () => {
    // Two kept-alive connections; the receiver then drops any further request on either unanswered.
    const server = await local((response, connection, request) => (connection <= 2 && request >= 2 ? response.socket!.destroy() : response.end('ok')));
    const client = sut();
    const url = `http://127.0.0.1:${server.port}/`;
    expect(await Promise.all([client.post(url, 'a', {}), client.post(url, 'b', {})])).toMatchObject([{ status: 200 }, { status: 200 }]);
    expect(server.connections).toBe(2);
    expect((await rejectionOf(client.post(url, 'again', {}))).reason).toBe('connect_failed');
    expect(server.bodies.filter((body) => body === 'again'), 'the first try and one more, never a third').toHaveLength(2);
  });
});

const certificate = selfSignedCertificate('hook.test');

describe('SafeHttpClient.post over https: the server name (SNI)', () => {
  /** An https server that records the server name each handshake asks for ('' when none); its certificate is refused, so nothing is ever sent. */
  async function sniRecorder(): Promise<{ port: number; names: string[] }> {
    const names: string[] = [];
    const server = https.createServer({
      ...certificate!,
      SNICallback: (name, callback) => {
        names.push(name);
        callback(null);
      },
    });
    server.on('secureConnection', () => undefined);
    server.on('tlsClientError', () => undefined);
    server.on('connection', (socket: Socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return { port: (server.address() as AddressInfo).port, names };
  }

  it.skipIf(certificate === undefined)('asks for the URL\'s host name, not the address it connects to', async () => {
    const server = await sniRecorder();
    expect((await rejectionOf(sut(countingLookup()).post(`https://hook.test:${server.port}/`, 'x', {}))).reason).toBe('tls');
    expect(server.names).toEqual(['hook.test']);
  });

  it.skipIf(certificate === undefined)('sends no server name for a literal address (RFC 6066 allows host names only)', async () => {
    const server = await sniRecorder();
    expect((await rejectionOf(sut().post(`https://127.0.0.1:${server.port}/`, 'x', {}))).reason).toBe('tls');
    expect(server.names).toEqual([]);
  });
});
