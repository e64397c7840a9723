import 'reflect-metadata';
import { Body, Controller, Get, Head, Module, Param, Post, Query, type INestApplication } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { IsOptional, IsString } from 'class-validator';
import { afterEach, describe, expect, it } from 'vitest';
import { Anonymous, Authorize, RateLimit } from './access.decorator.js';
import { controllerClasses, listRoutes, surfaceOf } from './route-catalog.js';
import { INFRASTRUCTURE_ROUTES, openApiPath, RouteInventory, RouteInventoryError, type ServedRoute } from './route-inventory.js';

// Unit spec of the route catalog and the API inventory (API-INVENTORY) on a small Nest application
// built here: what listRoutes reads from the router's metadata, and which served routes
// RouteInventory refuses and why. test/e2e/route-catalog.spec.ts and test/security/api-inventory
// specs prove the same on the real applications.

class Filter {
  @IsOptional()
  @IsString()
  status?: string;

  @IsOptional()
  @IsString()
  q?: string;
}
class NoRules {
  status?: string;
}

@Controller('v1/things')
@Authorize('read', 'Invoice')
class ThingsController {
  @Get()
  list(@Query() _query: Filter) {}

  @Get(':id')
  @RateLimit('search')
  one(@Param('id') _id: string) {}

  @Post()
  @Authorize('create', 'Invoice')
  create(@Body() _body: unknown) {}

  @Head('probe')
  head() {}

  @Get('by-key')
  byKey(@Query('key') _key: string) {}

  @Get('untyped')
  untyped(@Query() _query: NoRules) {}

  @Get('twice')
  twice(@Query() _a: Filter, @Query() _b: Filter) {}

  @Get('object')
  object(@Query() _query: object) {}

  notARoute() {}
}

@Controller(['partner/v1/items', 'v1/docs'])
class PartnerController {
  @Get('/')
  @Anonymous('spec')
  list() {}
}

@Controller()
class RootController {
  @Get('internal/x')
  internal() {}

  @Get('webhooks/inbound/pay')
  inbound() {}

  @Get(['health/live', 'health/ready'])
  @Anonymous('probe')
  live() {}
}

@Module({ imports: [DiscoveryModule], controllers: [ThingsController, PartnerController, RootController] })
class SpecModule {}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(): Promise<NestFastifyApplication> {
  const module = await Test.createTestingModule({ imports: [SpecModule] }).compile();
  const created = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  app = created;
  return created;
}

describe('surfaceOf', () => {
  it('reads the trust boundary from the path prefix', () => {
    expect(surfaceOf('/v1')).toBe('public');
    expect(surfaceOf('/v1/x')).toBe('public');
    expect(surfaceOf('/v10/x')).toBe('ops');
    expect(surfaceOf('/v1x')).toBe('ops');
    expect(surfaceOf('/partner/v1/x')).toBe('partner');
    expect(surfaceOf('/partner')).toBe('ops');
    expect(surfaceOf('/internal/metrics')).toBe('internal');
    expect(surfaceOf('/internal')).toBe('ops');
    expect(surfaceOf('/webhooks/inbound/pay')).toBe('inbound');
    expect(surfaceOf('/webhooks/inbound')).toBe('ops');
    expect(surfaceOf('/health/live')).toBe('ops');
  });
});

describe('listRoutes', () => {
  it('lists every route with its method, joined path, surface, access, rate-limit column and query, sorted', async () => {
    const sut = await build();
    await sut.init();
    const routes = listRoutes(sut);
    const byKey = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /health/live',
      'GET /internal/x',
      'GET /partner/v1/items',
      'GET /v1/things',
      'POST /v1/things',
      'GET /v1/things/:id',
      'GET /v1/things/by-key',
      'GET /v1/things/object',
      'HEAD /v1/things/probe',
      'GET /v1/things/twice',
      'GET /v1/things/untyped',
      'GET /webhooks/inbound/pay',
    ]);
    expect(byKey.get('GET /v1/things')).toEqual({
      method: 'GET',
      path: '/v1/things',
      surface: 'public',
      controller: 'ThingsController',
      handler: 'list',
      access: { auth: 'public-jwt', action: 'read', subject: 'Invoice' },
      rateLimit: 'read',
      query: { dto: 'Filter', params: ['q', 'status'] },
    });
    expect(byKey.get('POST /v1/things')).toMatchObject({ access: { auth: 'public-jwt', action: 'create' }, rateLimit: 'write', query: null, handler: 'create' });
    expect(byKey.get('GET /v1/things/:id')).toMatchObject({ rateLimit: 'search', query: null });
    expect(byKey.get('HEAD /v1/things/probe')).toMatchObject({ rateLimit: 'read' });
    expect(byKey.get('GET /v1/things/by-key')!.query).toBe('unvalidated');
    expect(byKey.get('GET /v1/things/untyped')!.query).toBe('unvalidated');
    expect(byKey.get('GET /v1/things/twice')!.query).toBe('unvalidated');
    expect(byKey.get('GET /v1/things/object')!.query).toBe('unvalidated');
    expect(byKey.get('GET /partner/v1/items')).toMatchObject({ surface: 'partner', controller: 'PartnerController', access: { auth: 'none', reason: 'spec' } });
    expect(byKey.get('GET /internal/x')).toMatchObject({ surface: 'internal', access: null });
    expect(byKey.get('GET /webhooks/inbound/pay')!.surface).toBe('inbound');
    expect(byKey.get('GET /health/live')!.surface).toBe('ops');
  });

  it('controllerClasses: each controller class by its name', async () => {
    const sut = await build();
    await sut.init();
    const classes = controllerClasses(sut);
    expect([...classes.keys()].sort()).toEqual(['PartnerController', 'RootController', 'ThingsController']);
    expect(classes.get('ThingsController')).toBe(ThingsController);
  });
});

describe('openApiPath', () => {
  it('turns every :param into {param}', () => {
    expect(openApiPath('/v1/a/:id/b/:other_id2')).toBe('/v1/a/{id}/b/{other_id2}');
    expect(openApiPath('/v1/a')).toBe('/v1/a');
  });
});

describe('INFRASTRUCTURE_ROUTES', () => {
  const matches = (listener: 'public' | 'internal', path: string) => INFRASTRUCTURE_ROUTES[listener].some((p) => p.test(path));
  it('are the probes, key sets, documents, metrics and queue board, anchored', () => {
    for (const path of ['/health/live', '/health/ready', '/.well-known/jwks.json', '/.well-known/security-txt', '/v1/openapi.json', '/partner/v1/docs', '/v1/docs/:asset']) {
      expect(matches('public', path)).toBe(true);
    }
    for (const path of ['/health/lives', '/x/health/live', '/.well-known/JWKS.json', '/v2/openapi.json', '/v1/docs/x', '/internal/metrics']) expect(matches('public', path)).toBe(false);
    for (const path of ['/internal/metrics', '/internal/queues', '/internal/queues/api/x', '/internal/v1/openapi.json']) expect(matches('internal', path)).toBe(true);
    for (const path of ['/internal/metricsx', '/internal/queuesx', '/health/live']) expect(matches('internal', path)).toBe(false);
  });
});

describe('RouteInventory', () => {
  const documents = {
    public: { paths: { '/v1/things': { get: {}, post: {} }, '/v1/things/{id}': { get: {} } } },
    partner: { paths: { '/partner/v1/items': { get: {} } } },
    empty: {},
  };
  const served = (...keys: string[]): ServedRoute[] => keys.map((k) => ({ method: k.split(' ')[0]!, path: k.split(' ')[1]! }));

  it('accepts controller routes its documents describe, HEAD beside a GET, infrastructure and inbound routes', async () => {
    const sut = await build();
    await sut.init();
    const problems = new RouteInventory().check(
      sut,
      'public',
      served('GET /v1/things', 'HEAD /v1/things', 'POST /v1/things', 'GET /v1/things/:id', 'GET /partner/v1/items', 'GET /webhooks/inbound/pay', 'GET /health/live', 'GET /.well-known/jwks.json'),
      documents,
    );
    expect(problems).toEqual([]);
  });

  it('names every route outside the inventory and why', async () => {
    const sut = await build();
    await sut.init();
    const problems = new RouteInventory().check(
      sut,
      'public',
      served('GET /internal/x', 'GET /debug', 'GET /v1/hidden', 'HEAD /v1/things/probe', 'GET /v1/things/by-key', 'GET /health/live', 'DELETE /v1/things'),
      documents,
    );
    expect(problems).toEqual([
      'GET /internal/x belongs to the internal surface, not to this listener',
      'GET /debug has no surface (no /v1, /partner or /internal prefix)',
      'GET /v1/hidden is not a controller route (registered on the HTTP server directly)',
      'HEAD /v1/things/probe is missing from the public OpenAPI document',
      'GET /v1/things/by-key is missing from the public OpenAPI document',
      'DELETE /v1/things is not a controller route (registered on the HTTP server directly)',
    ]);
  });

  it('on the internal listener: only internal routes, its own infrastructure', async () => {
    const sut = await build();
    await sut.init();
    const problems = new RouteInventory().check(sut, 'internal', served('GET /internal/metrics', 'GET /internal/x', 'GET /health/live', 'GET /v1/things'), documents);
    expect(problems).toEqual([
      'GET /internal/x is missing from the internal OpenAPI document',
      'GET /health/live belongs to the ops surface, not to this listener',
      'GET /v1/things belongs to the public surface, not to this listener',
    ]);
  });

  it('skips the routes of probe controllers a test provides, and only theirs', async () => {
    const sut = await build();
    await sut.init();
    const problems = new RouteInventory(['ThingsController']).check(sut, 'public', served('GET /v1/things/by-key', 'GET /partner/v1/items', 'GET /v1/unknown'), { empty: {} });
    expect(problems).toEqual([
      'GET /partner/v1/items is missing from the partner OpenAPI document',
      'GET /v1/unknown is not a controller route (registered on the HTTP server directly)',
    ]);
  });

  it('watch: records every route Fastify registers, any method list, and refuses to become ready with one outside the inventory', async () => {
    const sut = await build();
    const inventory = new RouteInventory();
    inventory.watch(sut, 'public', () => ({ all: { paths: { '/v1/things': { get: {}, post: {} }, '/v1/things/{id}': { get: {} } } } }));
    const fastify = sut.getHttpAdapter().getInstance();
    fastify.route({ method: ['get', 'post'], url: '/v1/extra', handler: async () => ({}) });
    await sut.init();
    const error = await fastify.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RouteInventoryError);
    const refusal = error as RouteInventoryError;
    expect(refusal.name).toBe('RouteInventoryError');
    expect(refusal.listener).toBe('public');
    expect(refusal.problems).toContain('GET /v1/extra is not a controller route (registered on the HTTP server directly)');
    expect(refusal.problems).toContain('POST /v1/extra is not a controller route (registered on the HTTP server directly)');
    expect(refusal.message).toBe(`the public listener serves routes outside its inventory (OWASP API9): ${refusal.problems.join('; ')}`);
    const recorded = inventory.servedRoutes().map((r) => `${r.method} ${r.path}`);
    expect(recorded).toEqual(expect.arrayContaining(['GET /v1/extra', 'POST /v1/extra', 'GET /v1/things', 'HEAD /v1/things', 'POST /v1/things']));
  });

  it('watch: a listener serving only its inventory becomes ready', async () => {
    const sut = await build();
    const inventory = new RouteInventory(['ThingsController', 'PartnerController', 'RootController']);
    inventory.watch(sut, 'public', () => ({}));
    await sut.init();
    await expect(sut.getHttpAdapter().getInstance().ready()).resolves.toBeDefined();
    expect(inventory.servedRoutes().length).toBeGreaterThan(10);
  });
});
