import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { AbuseDetector, AbuseObservation, PlacedBlock, SecurityBlocksService } from '@benteng/security';
import { Scope } from '@benteng/tenancy';
import { capturingLogger, type LogLine } from '../../../../test/support/capturing-logger.js';
import { processMetrics } from '../metrics/metrics.js';
import { AbuseObserver } from './abuse-observer.js';
import { REFUSED_AS_BLOCKED } from './gate/block-refusal.js';
import { attachAuth } from './request-auth.js';

// Unit spec of AbuseObserver on a small Fastify instance (the one FastifyAdapter makes, hooked at
// onResponse as apps/api/src/app.factory.ts hooks it): which answered requests reach the detector,
// with exactly which observation (ip, method, status, principal, tenant, objectRoute, objectId),
// and what happens to the blocks it places. The detector and SecurityBlocksService only receive
// calls here, so they are recording fakes: the real ones (test/integration/abuse-detector.spec.ts,
// test/integration/security-blocks.spec.ts) would hide what was passed to them.

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const USER = '0193b7a0-0000-7000-8000-0000000000a1';
const CLIENT = '0193b7a0-0000-7000-8000-0000000000c1';
const OBJECT = '0193b7a0-0000-7000-8000-0000000000f1';

class RecordingDetector {
  readonly observed: AbuseObservation[] = [];
  /** What the next observe() answers (or throws), and when it settles. */
  answer: () => Promise<PlacedBlock[]> = () => Promise.resolve([]);
  observe(observation: AbuseObservation): Promise<PlacedBlock[]> {
    this.observed.push(observation);
    return this.answer();
  }
}

class RecordingBlocks {
  readonly placedCalls: { block: PlacedBlock; requestId: string | undefined }[] = [];
  failure: unknown;
  placed(block: PlacedBlock, requestId?: string): Promise<void> {
    this.placedCalls.push({ block, requestId });
    return this.failure === undefined ? Promise.resolve() : Promise.reject(this.failure);
  }
}

let fastify: FastifyInstance | undefined;
afterEach(async () => {
  await fastify?.close();
  fastify = undefined;
});

interface Probe {
  fastify: FastifyInstance;
  observer: AbuseObserver;
  detector: RecordingDetector;
  blocks: RecordingBlocks;
  lines: LogLine[];
  contexts: string[];
}

/**
 * Routes of every shape; the test headers say who the caller is (x-auth), whether the gate refused
 * the request as blocked (x-blocked) and which status to answer (x-status); x-request-id is the id.
 */
async function build(): Promise<Probe> {
  const detector = new RecordingDetector();
  const blocks = new RecordingBlocks();
  const { logger, lines, contexts } = capturingLogger();
  const observer = new AbuseObserver(detector as unknown as AbuseDetector, blocks as unknown as SecurityBlocksService, logger);
  const instance = new FastifyAdapter({ genReqId: (req: IncomingMessage) => String(req.headers['x-request-id'] ?? 'no-id') }).getInstance() as unknown as FastifyInstance;
  fastify = instance;
  instance.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    const who = request.headers['x-auth'];
    if (who === 'user') {
      attachAuth(request, { kind: 'user', user: { userId: USER, tenantId: TENANT, sessionId: OBJECT, role: 'member' }, scope: Scope.for(TENANT, { kind: 'user', userId: USER, role: 'member' }) });
    } else if (who === 'partner') {
      attachAuth(request, {
        kind: 'partner',
        partner: { tenantId: TENANT, clientId: CLIENT, scopes: [], tier: 'free', via: 'access_token' },
        scope: Scope.for(TENANT, { kind: 'partner', clientId: CLIENT, scopes: [], tier: 'free' }),
      });
    }
    if (request.headers['x-blocked'] !== undefined) (request as FastifyRequest & Record<symbol, unknown>)[REFUSED_AS_BLOCKED] = request.headers['x-blocked'] === 'true' ? true : 'yes';
    done();
  });
  instance.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    observer.observe(request, reply);
    done();
  });
  const answer = (request: FastifyRequest, reply: FastifyReply) => reply.code(Number(request.headers['x-status'] ?? 200)).send({ ok: true });
  for (const url of ['/v1/items', '/v1/items/:id', '/v1/items/:id/parts/:part', '/v1/groups/:group/parts/:part', '/v1/files/*', '/v1/items::batch', '/v1/items/:id/*']) {
    instance.route({ method: ['GET', 'POST', 'DELETE'], url, handler: answer });
  }
  await instance.ready();
  return { fastify: instance, observer, detector, blocks, lines, contexts };
}

const block = (signal: PlacedBlock['signal'], principal = `user:${USER}`): PlacedBlock => ({
  subject: { kind: 'principal', principal, tenantId: TENANT },
  signal,
  observed: 4,
  threshold: 3,
  windowS: 60,
  blockS: 120,
  ip: '198.51.100.7',
});

async function placedCount(signal: string): Promise<number> {
  const { values } = await processMetrics.blocksPlaced.get();
  return values.find((v) => v.labels.signal === signal)?.value ?? 0;
}

describe('AbuseObserver', () => {
  it('sets its log context to its class name', async () => {
    const { contexts } = await build();
    expect(contexts).toEqual(['AbuseObserver']);
  });

  it("observes an anonymous miss on an object route: the client's address, method, status and the object's id, no principal", async () => {
    const { fastify, observer, detector, blocks, lines } = await build();
    const res = await fastify.inject({ method: 'GET', url: `/v1/items/${OBJECT}`, headers: { 'x-status': '404' }, remoteAddress: '198.51.100.7' });
    expect(res.statusCode).toBe(404);
    await observer.settled();
    expect(detector.observed).toEqual([{ ip: '198.51.100.7', method: 'GET', status: 404, objectRoute: true, objectId: OBJECT }]);
    expect(Object.keys(detector.observed[0]!)).toEqual(['ip', 'method', 'status', 'objectRoute', 'objectId']);
    expect(blocks.placedCalls).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("observes an authenticated user's request with the principal and tenant, and an IPv4 address in mapped form as IPv4", async () => {
    const { fastify, observer, detector } = await build();
    await fastify.inject({ method: 'POST', url: '/v1/items', headers: { 'x-auth': 'user', 'x-status': '201' }, remoteAddress: '::ffff:203.0.113.5' });
    await observer.settled();
    expect(detector.observed).toEqual([{ ip: '203.0.113.5', method: 'POST', status: 201, objectRoute: false, principal: `user:${USER}`, tenantId: TENANT }]);
  });

  it("observes a partner's request as partner:<client id>, and an IPv6 address as it is", async () => {
    const { fastify, observer, detector } = await build();
    await fastify.inject({ method: 'DELETE', url: '/v1/items/abc', headers: { 'x-auth': 'partner', 'x-status': '403' }, remoteAddress: '2001:db8::9' });
    await observer.settled();
    expect(detector.observed).toEqual([{ ip: '2001:db8::9', method: 'DELETE', status: 403, objectRoute: true, principal: `partner:${CLIENT}`, tenantId: TENANT, objectId: 'abc' }]);
  });

  it('names the object by the `id` parameter when the route has one, else by its last parameter', async () => {
    const { fastify, observer, detector } = await build();
    await fastify.inject({ method: 'GET', url: '/v1/items/first/parts/second', remoteAddress: '198.51.100.1' });
    await fastify.inject({ method: 'GET', url: '/v1/groups/first/parts/second', remoteAddress: '198.51.100.1' });
    // A wildcard is a parameter too (named `*`), the last one here.
    await fastify.inject({ method: 'GET', url: '/v1/items/only/x/y', remoteAddress: '198.51.100.1' });
    await observer.settled();
    expect(detector.observed.map((o) => [o.objectRoute, o.objectId])).toEqual([
      [true, 'first'],
      [true, 'second'],
      [true, 'only'],
    ]);
  });

  it('observes requests on routes that name no object without one: a list, a wildcard, a literal colon, no route at all', async () => {
    const { fastify, observer, detector } = await build();
    await fastify.inject({ method: 'GET', url: '/v1/items', remoteAddress: '198.51.100.2' });
    // A parameter, but not one that names an object (no `/:` in the pattern).
    await fastify.inject({ method: 'GET', url: '/v1/files/a/b', remoteAddress: '198.51.100.2' });
    await fastify.inject({ method: 'GET', url: '/v1/items:batch', remoteAddress: '198.51.100.2' });
    // No route matched (Fastify's 404): routeOptions.url is undefined.
    const missing = await fastify.inject({ method: 'GET', url: `/v1/nowhere/${OBJECT}`, headers: { 'x-auth': 'user' }, remoteAddress: '198.51.100.2' });
    expect(missing.statusCode).toBe(404);
    await observer.settled();
    expect(detector.observed).toEqual([
      { ip: '198.51.100.2', method: 'GET', status: 200, objectRoute: false },
      { ip: '198.51.100.2', method: 'GET', status: 200, objectRoute: false },
      { ip: '198.51.100.2', method: 'GET', status: 200, objectRoute: false },
      { ip: '198.51.100.2', method: 'GET', status: 404, objectRoute: false, principal: `user:${USER}`, tenantId: TENANT },
    ]);
  });

  it('does not observe a request the gate refused as blocked (marked exactly true), and observes any other mark', async () => {
    const { fastify, observer, detector } = await build();
    await fastify.inject({ method: 'GET', url: `/v1/items/${OBJECT}`, headers: { 'x-blocked': 'true', 'x-status': '429' }, remoteAddress: '198.51.100.3' });
    await observer.settled();
    expect(detector.observed).toEqual([]);
    await fastify.inject({ method: 'GET', url: `/v1/items/${OBJECT}`, headers: { 'x-blocked': 'other', 'x-status': '429' }, remoteAddress: '198.51.100.3' });
    await observer.settled();
    expect(detector.observed).toEqual([{ ip: '198.51.100.3', method: 'GET', status: 429, objectRoute: true, objectId: OBJECT }]);
  });

  it('hands every block placed to SecurityBlocksService with the request id, in order, and counts each by signal', async () => {
    const { fastify, observer, detector, blocks, lines } = await build();
    const placed = [block('not_found'), block('scraping', `partner:${CLIENT}`)];
    detector.answer = () => Promise.resolve(placed);
    const before = { notFound: await placedCount('not_found'), scraping: await placedCount('scraping'), burst: await placedCount('burst') };
    await fastify.inject({ method: 'GET', url: `/v1/items/${OBJECT}`, headers: { 'x-request-id': 'req-42', 'x-status': '404' }, remoteAddress: '198.51.100.7' });
    await observer.settled();
    expect(blocks.placedCalls).toEqual([
      { block: placed[0], requestId: 'req-42' },
      { block: placed[1], requestId: 'req-42' },
    ]);
    expect(await placedCount('not_found')).toBe(before.notFound + 1);
    expect(await placedCount('scraping')).toBe(before.scraping + 1);
    expect(await placedCount('burst')).toBe(before.burst);
    expect(lines).toEqual([]);
  });

  it('logs a failed observation at warn and answers regardless; settled() still resolves', async () => {
    const { fastify, observer, detector, lines } = await build();
    const failure = new Error('redis down');
    detector.answer = () => Promise.reject(failure);
    const res = await fastify.inject({ method: 'GET', url: '/v1/items', remoteAddress: '198.51.100.8' });
    expect(res.statusCode).toBe(200);
    await observer.settled();
    expect(lines).toEqual([{ level: 'warn', fields: { err: failure }, message: 'abuse observation failed' }]);
  });

  it('logs a block that could not be recorded, after counting it', async () => {
    const { fastify, observer, detector, blocks, lines } = await build();
    const failure = new Error('database down');
    detector.answer = () => Promise.resolve([block('burst'), block('burst')]);
    blocks.failure = failure;
    const before = await placedCount('burst');
    await fastify.inject({ method: 'GET', url: '/v1/items', headers: { 'x-request-id': 'req-7' }, remoteAddress: '198.51.100.8' });
    await observer.settled();
    // The first failure ends the observation: the second block is not handed on.
    expect(blocks.placedCalls).toEqual([{ block: block('burst'), requestId: 'req-7' }]);
    expect(await placedCount('burst')).toBe(before + 1);
    expect(lines).toEqual([{ level: 'warn', fields: { err: failure }, message: 'abuse observation failed' }]);
  });

  it('settled() waits for every observation still being written, and forgets the finished ones', async () => {
    const { fastify, observer, detector, blocks } = await build();
    let release!: (blocks: PlacedBlock[]) => void;
    detector.answer = () => new Promise((resolve) => (release = resolve));
    await fastify.inject({ method: 'GET', url: '/v1/items', headers: { 'x-request-id': 'req-slow' }, remoteAddress: '198.51.100.9' });
    let settled = false;
    const waiting = observer.settled().then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    expect(blocks.placedCalls).toEqual([]);
    release([block('not_found')]);
    await waiting;
    expect(settled).toBe(true);
    expect(blocks.placedCalls).toEqual([{ block: block('not_found'), requestId: 'req-slow' }]);
    await new Promise((resolve) => setImmediate(resolve));
    expect((observer as unknown as { pending: Set<unknown> }).pending.size).toBe(0);
  });
});
