import { createHash, randomBytes } from 'node:crypto';
import { HttpCode, HttpStatus, type CallHandler, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { defer, lastValueFrom } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { canonicalize } from '@benteng/common';
import { IdempotencyRepository } from '@benteng/idempotency';
import type { Scope } from '@benteng/tenancy';
import { TicketsRepository } from '@benteng/tickets';
import { answerInTransaction, IdempotencyInterceptor } from '../../apps/api/src/http/idempotency.js';
import { ProblemException } from '../../apps/api/src/http/problem.js';
import { attachAuth } from '../../apps/api/src/http/request-auth.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';

/**
 * IdempotencyInterceptor (apps/api/src/http/idempotency.ts) in-process, on the real
 * `idempotency_keys` table through the application's TenantDatabase: what a first request stores,
 * what a retry is answered, which requests are the same one (tenant, principal, route, params and
 * body), the 409 of a request still running, the release of a failed or abandoned one, and the
 * key format. The request and reply are small stand-ins for Fastify's (only what the interceptor
 * reads and writes); every record is the database's. The whole HTTP path is test/e2e.
 */
describe('IdempotencyInterceptor on the real idempotency_keys table', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const keys = new IdempotencyRepository(db);
  const tickets = new TicketsRepository(db);
  const sut = new IdempotencyInterceptor(keys);
  const newKey = () => `key-${randomBytes(8).toString('hex')}`;

  class Handlers {
    create(): void {}
    @HttpCode(HttpStatus.OK)
    search(): void {}
  }

  interface Call {
    scope?: Scope;
    key?: unknown;
    method?: string;
    url?: string | undefined;
    params?: unknown;
    body?: unknown;
    handler?: () => void;
  }

  /** A request as Fastify hands it to the interceptor, its reply (headers kept in a map) and the execution context. */
  function http(call: Call) {
    const headers: Record<string, unknown> = call.key === undefined ? {} : { 'idempotency-key': call.key };
    const request = {
      method: call.method ?? 'POST',
      headers,
      routeOptions: { url: 'url' in call ? call.url : '/v1/tickets' },
      params: 'params' in call ? call.params : {},
      body: 'body' in call ? call.body : { subject: 'S' },
    } as unknown as FastifyRequest;
    if (call.scope) attachAuth(request, { kind: 'user', user: {} as never, scope: call.scope });
    const replyHeaders = new Map<string, unknown>();
    const state = { status: 0 };
    const reply = {
      request,
      header(name: string, value: unknown) {
        replyHeaders.set(name.toLowerCase(), value);
        return reply;
      },
      getHeader: (name: string) => replyHeaders.get(name),
      removeHeader: (name: string) => void replyHeaders.delete(name),
      status(code: number) {
        state.status = code;
        return reply;
      },
    } as unknown as FastifyReply;
    const handler = call.handler ?? Handlers.prototype.create;
    const context = { switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }), getHandler: () => handler } as unknown as ExecutionContext;
    return { request, reply, replyHeaders, state, context };
  }

  /** The route handler: counts its runs and answers what `work` answers. */
  function handlerOf(work: (reply: FastifyReply) => Promise<unknown> = async () => ({ id: 'created' })) {
    const runs = { count: 0 };
    const next = (reply: FastifyReply): CallHandler => ({
      handle: () =>
        defer(async () => {
          runs.count++;
          return work(reply);
        }),
    });
    return { runs, next };
  }

  /** One request through the interceptor: what the client gets (body, status, reply headers) or the error thrown. */
  async function send(call: Call, work?: (reply: FastifyReply) => Promise<unknown>) {
    const h = http(call);
    const { runs, next } = handlerOf(work);
    try {
      const body = await lastValueFrom(await sut.intercept(h.context, next(h.reply)), { defaultValue: undefined });
      return { body, error: undefined, runs: runs.count, status: h.state.status, headers: Object.fromEntries(h.replyHeaders) };
    } catch (error) {
      return { body: undefined, error, runs: runs.count, status: h.state.status, headers: Object.fromEntries(h.replyHeaders) };
    }
  }

  const route = (method = 'POST', url = '/v1/tickets') => `${method} ${url}`;
  const hashOf = (value: unknown) => createHash('sha256').update(canonicalize(value as never)).digest('hex');
  const rowsOf = async (tenant: TestTenant, key: string) =>
    (
      await ownerInTenant(owner, tenant.id, (c) =>
        c.query<{ principal: string; route: string; request_hash: string; response_status: number; response_body: unknown }>(
          'SELECT principal, route, request_hash, response_status, response_body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 ORDER BY created_at',
          [tenant.id, key],
        ),
      )
    ).rows;

  function problemOf(error: unknown) {
    expect(error).toBeInstanceOf(ProblemException);
    const problem = error as ProblemException;
    return { status: problem.getStatus(), ...problem.extensions };
  }
  const IN_PROGRESS = { status: 409, detail: 'A request with this Idempotency-Key is in progress. Retry shortly.', code: 'idempotency.in_progress' };
  const KEY_REUSED = { status: 422, detail: 'This Idempotency-Key was used with a different request body.', code: 'idempotency.key_reused' };
  const INVALID_KEY = { status: 400, detail: 'Idempotency-Key must be 1-255 visible ASCII characters.', code: 'idempotency.invalid_key' };

  it('passes a request without Idempotency-Key straight to the handler and stores nothing', async () => {
    const tenant = await createTenant(owner, 'idem-none');
    const h = http({ scope: tenant.scope('owner') });
    const { next } = handlerOf();
    const handled = next(h.reply).handle();
    expect(await sut.intercept(h.context, { handle: () => handled })).toBe(handled);
    expect(Number((await owner.query<{ n: string }>('SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = $1', [tenant.id])).rows[0]!.n)).toBe(0);
  });

  it('refuses a key that is empty, longer than 255 characters, not visible ASCII or sent twice, before the handler runs', async () => {
    const tenant = await createTenant(owner, 'idem-format');
    const scope = tenant.scope('owner');
    for (const key of ['', 'x'.repeat(256), 'with space', 'tab\tkey', 'ümlaut', 'del\x7f', ['a', 'b']]) {
      const sent = await send({ scope, key });
      expect({ key, ...problemOf(sent.error) }).toEqual({ key, ...INVALID_KEY });
      expect(sent.runs).toBe(0);
    }
    const longest = `${'~'.repeat(254)}!`;
    const accepted = await send({ scope, key: longest });
    expect(accepted).toMatchObject({ error: undefined, runs: 1, body: { id: 'created' } });
    expect(await rowsOf(tenant, longest)).toHaveLength(1);
  });

  it('stores the first answer under the tenant, the principal, the route and the hash of params and body, and replays it without running the handler', async () => {
    const tenant = await createTenant(owner, 'idem-first');
    const scope = tenant.scope('member');
    const key = newKey();
    const answer = { id: 'T-1', subject: 'Printer', tags: ['a', 'b'], nested: { n: 1, empty: null } };
    const first = await send({ scope, key, params: { ticketId: 'A' }, body: { subject: 'Printer', priority: 'high' } }, async (reply) => {
      reply.header('location', '/v1/tickets/T-1').header('etag', 'W/"1"').header('x-other', 'not replayed').header('content-length', 42);
      return answer;
    });
    expect(first).toMatchObject({ error: undefined, runs: 1, body: answer, status: 0 });
    expect(first.headers).not.toHaveProperty('idempotent-replayed');

    const [row] = await rowsOf(tenant, key);
    expect(row).toEqual({
      principal: `user:${tenant.users.member.id}`,
      route: route(),
      request_hash: hashOf({ params: { ticketId: 'A' }, body: { subject: 'Printer', priority: 'high' } }),
      response_status: 201,
      response_body: { body: answer, headers: { location: '/v1/tickets/T-1', etag: 'W/"1"' } },
    });

    // Another key order is the same request.
    const replay = await send({ scope, key, params: { ticketId: 'A' }, body: { priority: 'high', subject: 'Printer' } }, async () => {
      throw new Error('the handler must not run again');
    });
    expect(replay).toMatchObject({ error: undefined, runs: 0, status: 201 });
    // Equal as JSON, not as text: the body is stored as jsonb, which orders an object's keys its own way.
    expect(replay.body).toEqual(answer);
    expect(replay.headers).toEqual({ location: '/v1/tickets/T-1', etag: 'W/"1"', 'idempotent-replayed': 'true' });
    expect(await rowsOf(tenant, key)).toHaveLength(1);
  });

  it('stores the status of the route: 201 for a POST, 200 for another method, and the one @HttpCode declares', async () => {
    const tenant = await createTenant(owner, 'idem-status');
    const scope = tenant.scope('owner');
    const cases = [
      { method: 'POST', handler: Handlers.prototype.create, status: 201 },
      { method: 'PUT', handler: Handlers.prototype.create, status: 200 },
      { method: 'POST', handler: Handlers.prototype.search, status: 200 },
    ];
    for (const { method, handler, status } of cases) {
      const key = newKey();
      expect((await send({ scope, key, method, handler })).error).toBeUndefined();
      expect((await rowsOf(tenant, key))[0]).toMatchObject({ route: route(method), response_status: status });
      expect(await send({ scope, key, method, handler })).toMatchObject({ runs: 0, status, headers: { 'idempotent-replayed': 'true' } });
    }
  });

  it('stores and replays an empty answer as null', async () => {
    const tenant = await createTenant(owner, 'idem-empty');
    const scope = tenant.scope('owner');
    const key = newKey();
    expect(await send({ scope, key }, async () => undefined)).toMatchObject({ error: undefined, runs: 1 });
    expect((await rowsOf(tenant, key))[0]!.response_body).toEqual({ body: null, headers: {} });
    const replay = await send({ scope, key });
    expect(replay).toMatchObject({ runs: 0, status: 201 });
    expect(replay.body).toBeNull();
  });

  it('answers 422 key_reused for the same key with another body or other path parameters, and keeps the first answer', async () => {
    const tenant = await createTenant(owner, 'idem-reuse');
    const scope = tenant.scope('owner');
    const key = newKey();
    expect((await send({ scope, key, params: { ticketId: 'A' }, body: { text: 'one' } })).runs).toBe(1);
    for (const other of [
      { params: { ticketId: 'A' }, body: { text: 'two' } },
      { params: { ticketId: 'B' }, body: { text: 'one' } },
      { params: { ticketId: 'A' }, body: null },
    ]) {
      const sent = await send({ scope, key, ...other });
      expect({ other, ...problemOf(sent.error) }).toEqual({ other, ...KEY_REUSED });
      expect(sent.runs).toBe(0);
    }
    expect(await send({ scope, key, params: { ticketId: 'A' }, body: { text: 'one' } })).toMatchObject({ runs: 0, body: { id: 'created' } });
  });

  it('treats a request without a body as a null body, and absent path parameters as none', async () => {
    const tenant = await createTenant(owner, 'idem-nobody');
    const scope = tenant.scope('owner');
    const key = newKey();
    expect((await send({ scope, key, params: undefined, body: undefined })).runs).toBe(1);
    expect((await rowsOf(tenant, key))[0]!.request_hash).toBe(hashOf({ params: {}, body: null }));
    expect(await send({ scope, key, params: {}, body: null })).toMatchObject({ error: undefined, runs: 0, status: 201 });
  });

  it('keeps keys apart per tenant, per principal and per route: the same key and body there is a new request', async () => {
    const tenant = await createTenant(owner, 'idem-scope-a');
    const other = await createTenant(owner, 'idem-scope-b');
    const key = newKey();
    const body = { subject: 'same' };
    const answers: unknown[] = [];
    for (const call of [
      { scope: tenant.scope('owner') },
      { scope: tenant.scope('admin') },
      { scope: other.scope('owner') },
      { scope: tenant.scope('owner'), url: '/v1/invoices' },
      { scope: tenant.scope('owner'), url: undefined },
    ]) {
      const sent = await send({ key, body, ...call }, async () => ({ n: answers.length }));
      expect({ call, error: sent.error, runs: sent.runs }).toEqual({ call, error: undefined, runs: 1 });
      answers.push(sent.body);
    }
    expect(answers).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    expect((await rowsOf(tenant, key)).map((r) => [r.principal, r.route])).toEqual([
      [`user:${tenant.users.owner.id}`, route()],
      [`user:${tenant.users.admin.id}`, route()],
      [`user:${tenant.users.owner.id}`, route('POST', '/v1/invoices')],
      [`user:${tenant.users.owner.id}`, 'POST '],
    ]);
    expect((await rowsOf(other, key)).map((r) => r.principal)).toEqual([`user:${other.users.owner.id}`]);
    // Each replays its own answer.
    expect((await send({ key, body, scope: other.scope('owner') })).body).toEqual({ n: 2 });
    expect((await send({ key, body, scope: tenant.scope('admin') })).body).toEqual({ n: 1 });
  });

  it('answers 409 in_progress to a retry while the first request still runs, and replays once it has answered', async () => {
    const tenant = await createTenant(owner, 'idem-inflight');
    const scope = tenant.scope('owner');
    const key = newKey();
    let finish!: (value: unknown) => void;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const first = send({ scope, key }, () => {
      started();
      return new Promise((resolve) => (finish = resolve));
    });
    await running;
    const retry = await send({ scope, key });
    expect(problemOf(retry.error)).toEqual(IN_PROGRESS);
    expect(retry.runs).toBe(0);
    finish({ id: 'first' });
    expect((await first).body).toEqual({ id: 'first' });
    expect(await send({ scope, key })).toMatchObject({ runs: 0, body: { id: 'first' }, headers: { 'idempotent-replayed': 'true' } });
  });

  it('answers 409 in_progress when the key is taken but released again before it could be read', async () => {
    const tenant = await createTenant(owner, 'idem-gone');
    const scope = tenant.scope('owner');
    const key = newKey();
    const id = (await keys.reserve(scope, { route: route(), key, requestHash: hashOf({ params: {}, body: { subject: 'S' } }) }))!;
    // The first request fails between this one's reserve and its read, releasing the key.
    const reserve = keys.reserve.bind(keys);
    const spy = vi.spyOn(keys, 'reserve').mockImplementationOnce(async (...args) => {
      const taken = await reserve(...args);
      await keys.release(scope, id);
      return taken;
    });
    try {
      const sent = await send({ scope, key });
      expect(taken(sent)).toEqual(IN_PROGRESS);
    } finally {
      spy.mockRestore();
    }
    function taken(sent: { error: unknown; runs: number }) {
      expect(sent.runs).toBe(0);
      return problemOf(sent.error);
    }
  });

  it('releases a reservation left for more than 60 s by a request that died, and runs the retry', async () => {
    const tenant = await createTenant(owner, 'idem-abandoned');
    const scope = tenant.scope('owner');
    const key = newKey();
    const hash = hashOf({ params: {}, body: { subject: 'S' } });
    await keys.reserve(scope, { route: route(), key, requestHash: hash });
    const age = async (seconds: number) =>
      ownerInTenant(owner, tenant.id, (c) => c.query(`UPDATE idempotency_keys SET created_at = now() - make_interval(secs => $3) WHERE tenant_id = $1 AND key = $2`, [tenant.id, key, seconds]));

    // 50 s old: still its first request's.
    await age(50);
    expect(problemOf((await send({ scope, key })).error)).toEqual(IN_PROGRESS);

    await age(70);
    const retried = await send({ scope, key }, async () => ({ id: 'retried' }));
    expect(retried).toMatchObject({ error: undefined, runs: 1, body: { id: 'retried' } });
    const rows = await rowsOf(tenant, key);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ response_status: 201, response_body: { body: { id: 'retried' }, headers: {} } });
  });

  it('counts a reservation as abandoned only when it is more than 60,000 ms old by the API clock', async () => {
    const tenant = await createTenant(owner, 'idem-edge');
    const scope = tenant.scope('owner');
    const key = newKey();
    const request = { route: route(), key, requestHash: hashOf({ params: {}, body: { subject: 'S' } }) };
    await keys.reserve(scope, request);
    const createdAt = (await keys.find(scope, request))!.createdAt.getTime();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(createdAt + 60_000);
      expect(problemOf((await send({ scope, key })).error)).toEqual(IN_PROGRESS);
      vi.setSystemTime(createdAt + 60_001);
      expect(await send({ scope, key })).toMatchObject({ error: undefined, runs: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('releases an abandoned reservation once per request: a retry that took the key meanwhile keeps it, even with a clock far ahead', async () => {
    const tenant = await createTenant(owner, 'idem-once');
    const scope = tenant.scope('owner');
    const key = newKey();
    const request = { route: route(), key, requestHash: hashOf({ params: {}, body: { subject: 'S' } }) };
    await keys.reserve(scope, request);
    // This API instance's clock is an hour ahead: every reservation looks abandoned to it.
    const skewed = () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 3_600_000);
    };
    // Another retry, on an instance with the right time, reserves the key right after this one
    // released the abandoned reservation.
    const releaseAbandoned = keys.releaseAbandoned.bind(keys);
    const spy = vi.spyOn(keys, 'releaseAbandoned').mockImplementation(async (...args) => {
      await releaseAbandoned(...args);
      if (spy.mock.calls.length > 1) return;
      vi.useRealTimers();
      try {
        await keys.reserve(scope, request);
      } finally {
        skewed();
      }
    });
    skewed();
    try {
      const sent = await send({ scope, key });
      expect(problemOf(sent.error)).toEqual(IN_PROGRESS);
      expect(sent.runs).toBe(0);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(await rowsOf(tenant, key)).toMatchObject([{ response_status: 0 }]);
    } finally {
      vi.useRealTimers();
      spy.mockRestore();
    }
  });

  it('releases the key of a failed request (4xx or 5xx), rethrows its error without Location or ETag, and runs a corrected retry', async () => {
    const tenant = await createTenant(owner, 'idem-failed');
    const scope = tenant.scope('owner');
    for (const failure of [new ProblemException(HttpStatus.BAD_REQUEST, { code: 'x.bad' }), new Error('database went away')]) {
      const key = newKey();
      const sent = await send({ scope, key }, async (reply) => {
        reply.header('location', '/v1/tickets/half').header('etag', 'W/"0"').header('x-request-id', 'r1');
        throw failure;
      });
      expect(sent.error).toBe(failure);
      expect(sent.headers).toEqual({ 'x-request-id': 'r1' });
      expect(await rowsOf(tenant, key)).toEqual([]);
      expect(await send({ scope, key }, async () => ({ id: 'fixed' }))).toMatchObject({ error: undefined, runs: 1, body: { id: 'fixed' } });
    }
  });

  it('stores the answer in the create transaction (answerInTransaction), once, so it exists as soon as the row does', async () => {
    const tenant = await createTenant(owner, 'idem-in-tx');
    const scope = tenant.scope('owner');
    const key = newKey();
    const complete = vi.spyOn(keys, 'complete');
    try {
      const render = (reply: FastifyReply) => (created: { id: string; subject: string }) => {
        reply.header('location', `/v1/tickets/${created.id}`);
        return { id: created.id, subject: created.subject };
      };
      let storedBeforeReturn: unknown;
      const sent = await send({ scope, key }, async (reply) => {
        const also = answerInTransaction(reply, render(reply));
        expect(also).toBeTypeOf('function');
        const ticket = await tickets.create(scope, { subject: 'In tx', body: 'B', priority: 'normal', openedById: tenant.users.owner.id }, new Date(), also);
        storedBeforeReturn = (await rowsOf(tenant, key))[0];
        return render(reply)(ticket);
      });
      const id = (sent.body as { id: string }).id;
      expect(sent).toMatchObject({ error: undefined, runs: 1, body: { id, subject: 'In tx' } });
      const expected = { response_status: 201, response_body: { body: { id, subject: 'In tx' }, headers: { location: `/v1/tickets/${id}` } } };
      expect(storedBeforeReturn).toMatchObject(expected);
      expect((await rowsOf(tenant, key))[0]).toMatchObject(expected);
      // Stored with the create: not written a second time after the handler returned.
      expect(complete).not.toHaveBeenCalled();
      expect(await send({ scope, key })).toMatchObject({ runs: 0, body: { id, subject: 'In tx' }, headers: { location: `/v1/tickets/${id}`, 'idempotent-replayed': 'true' } });
    } finally {
      complete.mockRestore();
    }
  });

  it('stores a null answer when the render gives nothing, and has no step for a request without a key', async () => {
    const tenant = await createTenant(owner, 'idem-in-tx-null');
    const scope = tenant.scope('owner');
    const key = newKey();
    const sent = await send({ scope, key }, async (reply) => {
      const also = answerInTransaction(reply, () => undefined);
      await tickets.create(scope, { subject: 'Null', body: 'B', priority: 'normal', openedById: tenant.users.owner.id }, new Date(), also);
      return undefined;
    });
    expect(sent.error).toBeUndefined();
    expect((await rowsOf(tenant, key))[0]!.response_body).toEqual({ body: null, headers: {} });

    const plain = http({ scope });
    expect(answerInTransaction(plain.reply, () => ({}))).toBeUndefined();
  });

  it('needs the authenticated caller: a key on a route without one is a programming error', async () => {
    const sent = await send({ key: newKey() });
    expect(sent.error).toBeInstanceOf(Error);
    expect((sent.error as Error).message).toBe('no authenticated principal on this route');
    expect(sent.runs).toBe(0);
  });
});
