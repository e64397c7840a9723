import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccessEntry, AccessLog } from '@benteng/audit';
import { Scope } from '@benteng/tenancy';
import { capturingLogger, type LogLine } from '../../../../test/support/capturing-logger.js';
import { AccessRecorder, NOT_PERSONAL, RECORDED_COLLECTIONS, recordTypeOf } from './access-recorder.js';
import { attachAuth, type RequestAuth } from './request-auth.js';

// Unit spec of AccessRecorder on a small Fastify instance (hooked at onResponse as
// apps/api/src/app.factory.ts hooks it): which answered requests are recorded, and the exact entry
// (principal, credential, ip, request id, action, method, route, record type and id, status).
// AccessLog only receives the entry here, so it is a recording fake; what it writes is pinned by
// test/integration/access-recorder.spec.ts (this class with the real AccessLog on PostgreSQL),
// test/integration/hot-path-functions.spec.ts and test/e2e/breach-scope.spec.ts.

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const USER = '0193b7a0-0000-7000-8000-0000000000a1';
const SESSION = '0193b7a0-0000-7000-8000-0000000000b1';
const CLIENT = '0193b7a0-0000-7000-8000-0000000000c1';
const KEY = '0193b7a0-0000-7000-8000-0000000000d1';
const RECORD = '0193B7A0-0000-7000-8000-0000000000EF';
const record = RECORD.toLowerCase();

const userScope = Scope.for(TENANT, { kind: 'user', userId: USER, role: 'member' });
const partnerScope = Scope.for(TENANT, { kind: 'partner', clientId: CLIENT, scopes: [], tier: 'free' });
const AUTH: Record<string, RequestAuth> = {
  user: { kind: 'user', user: { userId: USER, tenantId: TENANT, sessionId: SESSION, role: 'member' }, scope: userScope },
  'partner-key': { kind: 'partner', partner: { tenantId: TENANT, clientId: CLIENT, scopes: [], tier: 'free', via: 'api_key', keyId: KEY }, scope: partnerScope },
  'partner-token': { kind: 'partner', partner: { tenantId: TENANT, clientId: CLIENT, scopes: [], tier: 'free', via: 'access_token' }, scope: partnerScope },
};

class RecordingAccessLog {
  readonly entries: { scope: Scope; entry: AccessEntry }[] = [];
  answer: () => Promise<void> = () => Promise.resolve();
  record(scope: Scope, entry: AccessEntry): Promise<void> {
    this.entries.push({ scope, entry });
    return this.answer();
  }
}

let fastify: FastifyInstance | undefined;
afterEach(async () => {
  await fastify?.close();
  fastify = undefined;
});

interface Probe {
  fastify: FastifyInstance;
  recorder: AccessRecorder;
  log: RecordingAccessLog;
  lines: LogLine[];
  contexts: string[];
  /** What observe() threw inside the hook: nothing, ever (app.factory.ts counts metrics after it). */
  thrown: unknown[];
}

const ROUTES = [
  '/v1/invoices',
  '/v1/invoices/:id',
  '/v1/invoices/:id/issue',
  '/partner/v1/invoices/:id',
  '/v1/me',
  '/partner/v1/me',
  '/v1/members/:memberId/role',
  '/v1/security/blocks',
  '/v2/invoices',
  '/api/v1/invoices',
  '/v1/invoicesx',
];

/**
 * x-auth names the caller (AUTH), x-status the status to answer, x-location a Location header to
 * answer with; x-request-id is the request's id.
 */
async function build(): Promise<Probe> {
  const log = new RecordingAccessLog();
  const { logger, lines, contexts } = capturingLogger();
  const recorder = new AccessRecorder(log as unknown as AccessLog, logger);
  const instance = new FastifyAdapter({ genReqId: (req: IncomingMessage) => String(req.headers['x-request-id'] ?? 'no-id') }).getInstance() as unknown as FastifyInstance;
  fastify = instance;
  const thrown: unknown[] = [];
  instance.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    const auth = AUTH[String(request.headers['x-auth'])];
    if (auth) attachAuth(request, auth);
    done();
  });
  instance.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    try {
      recorder.observe(request, reply);
    } catch (error) {
      thrown.push(error);
    }
    done();
  });
  const answer = (request: FastifyRequest, reply: FastifyReply) => {
    const location = request.headers['x-location'];
    if (typeof location === 'string') void reply.header('location', location);
    return reply.code(Number(request.headers['x-status'] ?? 200)).send({ ok: true });
  };
  for (const url of ROUTES) instance.route({ method: ['GET', 'POST', 'PATCH', 'DELETE'], url, handler: answer });
  await instance.ready();
  return { fastify: instance, recorder, log, lines, contexts, thrown };
}

interface Call {
  method?: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  auth?: keyof typeof AUTH;
  status?: number;
  location?: string;
  requestId?: string;
}

async function call(probe: Probe, { method = 'GET', url, auth = 'user', status, location, requestId = 'req-1' }: Call): Promise<AccessEntry[]> {
  const before = probe.log.entries.length;
  const headers: Record<string, string> = { 'x-request-id': requestId, 'x-auth': auth };
  if (status !== undefined) headers['x-status'] = String(status);
  if (location !== undefined) headers['x-location'] = location;
  const res = await probe.fastify.inject({ method, url, headers, remoteAddress: '::ffff:198.51.100.7' });
  expect(res.statusCode).toBe(status ?? 200);
  await probe.recorder.settled();
  expect(probe.thrown).toEqual([]);
  return probe.log.entries.slice(before).map((e) => e.entry);
}

const entry = (fields: Partial<AccessEntry>): AccessEntry => ({
  principal: `user:${USER}`,
  credential: `session:${SESSION}`,
  ip: '198.51.100.7',
  requestId: 'req-1',
  action: 'read',
  method: 'GET',
  route: '/v1/invoices/:id',
  recordType: 'invoice',
  recordId: record,
  status: 200,
  ...fields,
});

describe('recordTypeOf and the collection lists', () => {
  it('maps each personal-data collection of /v1 and /partner/v1 to its record type', () => {
    expect(RECORDED_COLLECTIONS).toEqual({
      invoices: 'invoice',
      tickets: 'ticket',
      documents: 'document',
      exports: 'export',
      members: 'membership',
      invitations: 'invitation',
      sessions: 'session',
      me: 'user',
      privacy: 'privacy_request',
    });
    expect(NOT_PERSONAL).toEqual(['partner-clients', 'webhook-endpoints', 'security', 'auth', 'docs', 'openapi.json']);
    for (const [collection, type] of Object.entries(RECORDED_COLLECTIONS)) {
      expect(recordTypeOf(`/v1/${collection}`)).toBe(type);
      expect(recordTypeOf(`/v1/${collection}/:id`)).toBe(type);
      expect(recordTypeOf(`/partner/v1/${collection}/:id/sub`)).toBe(type);
    }
  });

  it('answers nothing for another collection, another surface, or no route', () => {
    expect(recordTypeOf(undefined)).toBeUndefined();
    for (const collection of NOT_PERSONAL) expect(recordTypeOf(`/v1/${collection}`)).toBeUndefined();
    expect(recordTypeOf('/v2/invoices')).toBeUndefined();
    expect(recordTypeOf('/api/v1/invoices')).toBeUndefined();
    expect(recordTypeOf('/partner/v2/invoices')).toBeUndefined();
    expect(recordTypeOf('/other/v1/invoices')).toBeUndefined();
    expect(recordTypeOf('/v1/invoicesx')).toBeUndefined();
    // Object.prototype's members are no collection.
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) expect(recordTypeOf(`/v1/${name}/:id`)).toBeUndefined();
    expect(recordTypeOf('/v1/')).toBeUndefined();
    expect(recordTypeOf('/v1')).toBeUndefined();
    expect(recordTypeOf('v1/invoices')).toBeUndefined();
    expect(recordTypeOf('')).toBeUndefined();
  });
});

describe('AccessRecorder', () => {
  it('sets its log context to its class name', async () => {
    const { contexts } = await build();
    expect(contexts).toEqual(['AccessRecorder']);
  });

  it("records a user's read of a record by the route's id, in lower case, with the session as the credential", async () => {
    const probe = await build();
    expect(await call(probe, { url: `/v1/invoices/${RECORD}` })).toEqual([entry({})]);
    expect(probe.log.entries.at(-1)!.scope).toBe(userScope);
    // HEAD is a read too.
    expect(await call(probe, { method: 'HEAD', url: `/v1/invoices/${RECORD}`, requestId: 'req-h' })).toEqual([entry({ method: 'HEAD', requestId: 'req-h' })]);
    expect(probe.lines).toEqual([]);
  });

  it('records every other method as a change, with the status answered', async () => {
    const probe = await build();
    expect(await call(probe, { method: 'PATCH', url: `/v1/invoices/${record}`, status: 204 })).toEqual([entry({ action: 'change', method: 'PATCH', status: 204 })]);
    expect(await call(probe, { method: 'DELETE', url: `/v1/invoices/${record}`, status: 202 })).toEqual([entry({ action: 'change', method: 'DELETE', status: 202 })]);
    expect(await call(probe, { method: 'POST', url: `/v1/invoices/${record}/issue` })).toEqual([entry({ action: 'change', method: 'POST', route: '/v1/invoices/:id/issue' })]);
  });

  it('records up to status 399 and nothing from 400 on', async () => {
    const probe = await build();
    expect(await call(probe, { url: `/v1/invoices/${record}`, status: 399 })).toEqual([entry({ status: 399 })]);
    expect(await call(probe, { url: `/v1/invoices/${record}`, status: 400 })).toEqual([]);
    expect(await call(probe, { url: `/v1/invoices/${record}`, status: 404 })).toEqual([]);
    expect(await call(probe, { method: 'POST', url: '/v1/invoices', status: 500, location: `/v1/invoices/${record}` })).toEqual([]);
  });

  it('records nothing for an anonymous request, a collection without personal data, another surface, or no route', async () => {
    const probe = await build();
    expect(await call(probe, { url: `/v1/invoices/${record}`, auth: 'none' as keyof typeof AUTH })).toEqual([]);
    expect(await call(probe, { url: '/v1/security/blocks' })).toEqual([]);
    expect(await call(probe, { url: '/v2/invoices' })).toEqual([]);
    expect(await call(probe, { url: '/api/v1/invoices' })).toEqual([]);
    expect(await call(probe, { url: '/v1/invoicesx' })).toEqual([]);
    expect(await call(probe, { url: '/v1/nowhere', status: 404 })).toEqual([]);
    expect(probe.log.entries).toEqual([]);
  });

  it('records a list without a record id', async () => {
    const probe = await build();
    expect(await call(probe, { url: '/v1/invoices' })).toEqual([entry({ route: '/v1/invoices', recordId: null })]);
  });

  it('records a create by the id its Location names, in lower case, only on a route without parameters', async () => {
    const probe = await build();
    expect(await call(probe, { method: 'POST', url: '/v1/invoices', status: 201, location: `/v1/invoices/${RECORD}` })).toEqual([
      entry({ action: 'change', method: 'POST', route: '/v1/invoices', status: 201 }),
    ]);
    // A Location that names no UUID: no record id.
    expect(await call(probe, { method: 'POST', url: '/v1/invoices', status: 201, location: '/v1/invoices/latest' })).toEqual([
      entry({ action: 'change', method: 'POST', route: '/v1/invoices', status: 201, recordId: null }),
    ]);
    expect(await call(probe, { method: 'POST', url: '/v1/invoices', status: 201, location: `/v1/invoices/${record}/` })).toEqual([
      entry({ action: 'change', method: 'POST', route: '/v1/invoices', status: 201, recordId: null }),
    ]);
    // On a route with a parameter that is not `id`, a Location does not name the record changed.
    expect(await call(probe, { method: 'POST', url: `/v1/members/${record}/role`, location: `/v1/members/${RECORD}` })).toEqual([
      entry({ action: 'change', method: 'POST', route: '/v1/members/:memberId/role', recordType: 'membership', recordId: null }),
    ]);
    // The route's `id` wins over a Location, and an `id` that is no UUID names nothing.
    expect(await call(probe, { method: 'POST', url: `/v1/invoices/${record}/issue`, location: '/v1/invoices/0193b7a0-0000-7000-8000-000000000999' })).toEqual([
      entry({ action: 'change', method: 'POST', route: '/v1/invoices/:id/issue' }),
    ]);
    expect(await call(probe, { method: 'POST', url: '/v1/invoices/not-a-uuid/issue', location: `/v1/invoices/${record}` })).toEqual([
      entry({ action: 'change', method: 'POST', route: '/v1/invoices/:id/issue', recordId: null }),
    ]);
  });

  it('records the user themself for /v1/me, and nothing for a partner on a `me` route', async () => {
    const probe = await build();
    expect(await call(probe, { url: '/v1/me' })).toEqual([entry({ route: '/v1/me', recordType: 'user', recordId: USER })]);
    expect(await call(probe, { method: 'PATCH', url: '/v1/me', location: `/v1/invoices/${record}` })).toEqual([entry({ action: 'change', method: 'PATCH', route: '/v1/me', recordType: 'user', recordId: USER })]);
    expect(await call(probe, { url: '/partner/v1/me', auth: 'partner-token' })).toEqual([
      entry({ principal: `partner:${CLIENT}`, credential: `partner_client:${CLIENT}`, route: '/partner/v1/me', recordType: 'user', recordId: null }),
    ]);
  });

  it("records a partner's access with the API key as the credential, or the client for a client-credentials token", async () => {
    const probe = await build();
    expect(await call(probe, { url: `/partner/v1/invoices/${record}`, auth: 'partner-key', requestId: 'req-p' })).toEqual([
      entry({ principal: `partner:${CLIENT}`, credential: `partner_key:${KEY}`, route: '/partner/v1/invoices/:id', requestId: 'req-p' }),
    ]);
    expect(probe.log.entries.at(-1)!.scope).toBe(partnerScope);
    expect(await call(probe, { url: `/partner/v1/invoices/${record}`, auth: 'partner-token' })).toEqual([
      entry({ principal: `partner:${CLIENT}`, credential: `partner_client:${CLIENT}`, route: '/partner/v1/invoices/:id' }),
    ]);
  });

  it('logs a record that could not be written with its route and request id, and settled() still resolves', async () => {
    const probe = await build();
    const failure = new Error('database down');
    probe.log.answer = () => Promise.reject(failure);
    expect(await call(probe, { url: `/v1/invoices/${record}`, requestId: 'req-f' })).toEqual([entry({ requestId: 'req-f' })]);
    expect(probe.lines).toEqual([{ level: 'warn', fields: { err: failure, route: '/v1/invoices/:id', requestId: 'req-f' }, message: 'access record could not be written' }]);
  });

  it('settled() waits for every record still being written, and forgets the finished ones', async () => {
    const probe = await build();
    let release!: () => void;
    let written = false;
    probe.log.answer = () => new Promise<void>((resolve) => (release = resolve)).then(() => void (written = true));
    await probe.fastify.inject({ method: 'GET', url: '/v1/invoices', headers: { 'x-auth': 'user' } });
    let settled = false;
    const waiting = probe.recorder.settled().then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    release();
    await waiting;
    expect(written).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect((probe.recorder as unknown as { pending: Set<unknown> }).pending.size).toBe(0);
  });
});
