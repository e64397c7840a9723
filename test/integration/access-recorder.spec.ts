import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import 'reflect-metadata';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessLog } from '@benteng/audit';
import { Scope } from '@benteng/tenancy';
import { AccessRecorder } from '../../apps/api/src/http/access-recorder.js';
import { attachAuth } from '../../apps/api/src/http/request-auth.js';
import { capturingLogger, SettableClock } from '../support/auth-services.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';

/**
 * AccessRecorder with the real AccessLog on PostgreSQL (the runtime role): what a recorded request
 * leaves in access_records, and a write PostgreSQL refuses being logged, not thrown.
 * apps/api/src/http/access-recorder.spec.ts pins every entry field with a recording AccessLog.
 */
describe('AccessRecorder on PostgreSQL', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const at = new Date('2026-06-01T10:00:00.000Z');
  const { logger, lines } = capturingLogger();
  const recorder = new AccessRecorder(new AccessLog(db, new SettableClock(at)), logger);
  let tenant: TestTenant;
  let fastify: FastifyInstance;
  const SESSION = randomUUID();

  beforeAll(async () => {
    tenant = await createTenant(owner, 'access-recorder');
    fastify = new FastifyAdapter({ genReqId: (req: IncomingMessage) => String(req.headers['x-request-id']) }).getInstance() as unknown as FastifyInstance;
    fastify.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      // x-tenant: the tenant the caller's scope names (a tenant that does not exist makes the write fail).
      const tenantId = String(request.headers['x-tenant'] ?? tenant.id);
      const userId = tenant.users.admin.id;
      attachAuth(request, { kind: 'user', user: { userId, tenantId, sessionId: SESSION, role: 'admin' }, scope: Scope.for(tenantId, { kind: 'user', userId, role: 'admin' }) });
      done();
    });
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      recorder.observe(request, reply);
      done();
    });
    const answer = (request: FastifyRequest, reply: FastifyReply) => {
      if (request.method === 'POST') void reply.header('location', `/v1/tickets/${String(request.headers['x-created'])}`);
      return reply.code(request.method === 'POST' ? 201 : 200).send({ ok: true });
    };
    fastify.route({ method: ['GET', 'POST'], url: '/v1/tickets', handler: answer });
    fastify.route({ method: ['GET'], url: '/v1/tickets/:id', handler: answer });
    await fastify.ready();
  });
  afterAll(() => fastify.close());

  const recordsOf = async (tenantId: string) =>
    (
      await owner.query(
        'SELECT occurred_at, principal, credential, ip, request_id, action, method, route, record_type, record_id, status FROM access_records WHERE tenant_id = $1 ORDER BY request_id',
        [tenantId],
      )
    ).rows;

  it('writes one access record per recorded request, exactly as observed', async () => {
    const read = randomUUID().toUpperCase();
    const created = randomUUID();
    await fastify.inject({ method: 'GET', url: `/v1/tickets/${read}`, headers: { 'x-request-id': 'req-a' }, remoteAddress: '203.0.113.20' });
    await fastify.inject({ method: 'POST', url: '/v1/tickets', headers: { 'x-request-id': 'req-b', 'x-created': created.toUpperCase() }, remoteAddress: '2001:db8::20' });
    await fastify.inject({ method: 'GET', url: '/v1/tickets', headers: { 'x-request-id': 'req-c' }, remoteAddress: '::ffff:203.0.113.21' });
    await recorder.settled();
    const common = { occurred_at: at, principal: `user:${tenant.users.admin.id}`, credential: `session:${SESSION}`, record_type: 'ticket' };
    expect(await recordsOf(tenant.id)).toEqual([
      { ...common, ip: '203.0.113.20', request_id: 'req-a', action: 'read', method: 'GET', route: '/v1/tickets/:id', record_id: read.toLowerCase(), status: 200 },
      { ...common, ip: '2001:db8::20', request_id: 'req-b', action: 'change', method: 'POST', route: '/v1/tickets', record_id: created, status: 201 },
      { ...common, ip: '203.0.113.21', request_id: 'req-c', action: 'read', method: 'GET', route: '/v1/tickets', record_id: null, status: 200 },
    ]);
    expect(lines).toEqual([]);
  });

  it('logs a write PostgreSQL refuses (a tenant that does not exist) with its route and request id, and writes nothing', async () => {
    const missing = randomUUID();
    const res = await fastify.inject({ method: 'GET', url: '/v1/tickets', headers: { 'x-request-id': 'req-x', 'x-tenant': missing }, remoteAddress: '203.0.113.22' });
    expect(res.statusCode).toBe(200);
    await recorder.settled();
    expect(lines).toEqual([{ level: 'warn', fields: { err: expect.any(Error), route: '/v1/tickets', requestId: 'req-x' }, message: 'access record could not be written' }]);
    expect(await recordsOf(missing)).toEqual([]);
    lines.length = 0;
  });
});
