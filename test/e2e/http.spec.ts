import { Body, Controller, Get, Module, Post, Query } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, MaxLength, Min, ValidateNested } from 'class-validator';
import { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvoiceError, InvoiceErrorCode } from '@benteng/invoices';
import { REDIS } from '@benteng/redis';
import { RequestContext, Scope } from '@benteng/tenancy';
import { Anonymous } from '../../apps/api/src/http/access.decorator.js';
import { buildApi, type TestApi } from '../support/api.js';
import { tag } from '../security/support/controls.js';

class LineDto {
  @IsString() @MaxLength(20) description!: string;
  @IsInt() @Min(1) quantity!: number;
}
class ProbeDto {
  @IsString() @MaxLength(10) name!: string;
  @ValidateNested({ each: true }) @Type(() => LineDto) lines!: LineDto[];
}

/** The probe's query: routes declare their query parameters like their body fields (unknown keys are 400). */
class ProbeLogQuery {
  @IsOptional() @IsString() access_token?: string;
  @IsOptional() @IsString() page?: string;
}

const TENANT = '0193b7a0-0000-7000-8000-000000000001';
const USER = '0193b7a0-0000-7000-8000-000000000002';

/** No access declaration at all: the global guard must refuse it. */
@Controller('probe/undeclared')
class UndeclaredController {
  @Get()
  open(): string {
    return 'should never be served';
  }
}

@Controller('probe')
@Anonymous('test probe')
class ProbeController {
  constructor(
    private readonly logger: PinoLogger,
    private readonly context: RequestContext,
  ) {}

  @Get('boom')
  boom(): never {
    throw new Error('db password=hunter2 at /srv/app/internal.ts');
  }

  @Get('domain')
  domain(): never {
    throw new InvoiceError(InvoiceErrorCode.NotFound);
  }

  @Post('echo')
  echo(@Body() body: ProbeDto): { ok: true; lines: number } {
    return { ok: true, lines: body.lines.length };
  }

  @Post('log')
  log(@Body() body: unknown, @Query() _query: ProbeLogQuery): { ok: true } {
    this.logger.info({ body }, 'probe received');
    return { ok: true };
  }

  @Get('scoped')
  scoped(): { ok: true } {
    this.context.enterScope(Scope.for(TENANT, { kind: 'user', userId: USER, role: 'viewer' }));
    this.logger.info('inside the scope');
    return { ok: true };
  }
}

@Module({ controllers: [UndeclaredController, ProbeController] })
class ProbeModule {}

const PROBLEM = /^application\/problem\+json/;

describe('API cross-cutting behaviour', () => {
  let api: TestApi;
  const server = () => api.app.getHttpServer();

  beforeAll(async () => {
    api = await buildApi({ controllers: [UndeclaredController, ProbeController] });
  });
  afterAll(() => api.close());

  it(tag('AUTHZ-FUNCTION', 'refuses a route that declares no access (deny by default)'), async () => {
    const res = await request(server()).get('/probe/undeclared');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.text).not.toContain('should never be served');
    expect(res.body).toMatchObject({ type: 'urn:benteng:problem:access.undeclared', code: 'access.undeclared', status: 403 });
    expect(api.logs.lines.some((l) => l.msg === 'route declares no access; refused' && l.controller === 'UndeclaredController')).toBe(true);
  });

  it('answers unexpected errors with a generic 500 problem, logging the details server-side only', async () => {
    const res = await request(server()).get('/probe/boom');
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toEqual({
      type: 'urn:benteng:problem:http.internal_error',
      title: 'Internal Server Error',
      status: 500,
      code: 'http.internal_error',
      detail: 'An unexpected error occurred. Quote the request id when reporting it.',
      requestId: res.headers['x-request-id'],
    });
    expect(res.text).not.toMatch(/hunter2|internal\.ts|at \w+ \(/);
    const logged = api.logs.lines.find((l) => l.msg === 'request failed' && (l.req as { id?: string } | undefined)?.id === res.headers['x-request-id']);
    expect((logged?.err as { message?: string } | undefined)?.message).toContain('hunter2');
  });

  it('maps coded domain errors to their status with a fixed message', async () => {
    const res = await request(server()).get('/probe/domain');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ type: 'urn:benteng:problem:invoice.not_found', code: 'invoice.not_found', detail: 'Invoice not found.' });
  });

  it('answers unknown routes with a 404 problem that does not echo the path', async () => {
    const res = await request(server()).get('/no/such/route-%3Cscript%3E');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.text).not.toMatch(/no\/such|script/);
  });

  describe('validation', () => {
    it('lists failing fields as JSON pointers with rule names, never the values', async () => {
      const res = await request(server())
        .post('/probe/echo')
        .send({ name: 'far-too-long-name-SECRETVALUE', lines: [{ description: 'ok', quantity: 0 }, { description: 7, quantity: 'x' }] });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors).toEqual([
        { pointer: '/name', rules: ['maxLength'] },
        { pointer: '/lines/0/quantity', rules: ['min'] },
        { pointer: '/lines/1/description', rules: ['isString', 'maxLength'] },
        { pointer: '/lines/1/quantity', rules: ['isInt', 'min'] },
      ]);
      expect(res.text).not.toContain('SECRETVALUE');
    });

    it('rejects unknown fields', async () => {
      const res = await request(server()).post('/probe/echo').send({ name: 'a', lines: [], isAdmin: true });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ pointer: '/isAdmin', rules: ['whitelistValidation'] }]);
    });

    it('rejects prototype-pollution keys before validation even runs', async () => {
      for (const body of ['{"name":"a","lines":[],"__proto__":{"polluted":1}}', '{"name":"a","lines":[],"constructor":{"prototype":{"polluted":1}}}']) {
        const res = await request(server()).post('/probe/echo').set('content-type', 'application/json').send(body);
        expect(res.status).toBe(400);
        expect(res.headers['content-type']).toMatch(PROBLEM);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('accepts a valid body', async () => {
      const res = await request(server()).post('/probe/echo').send({ name: 'ok', lines: [{ description: 'a', quantity: 2 }] });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ ok: true, lines: 1 });
    });

    it('answers malformed JSON, oversized bodies and wrong media types with problems', async () => {
      const malformed = await request(server()).post('/probe/echo').set('content-type', 'application/json').send('{"name":');
      expect(malformed.status).toBe(400);
      expect(malformed.headers['content-type']).toMatch(PROBLEM);

      const huge = await request(server())
        .post('/probe/echo')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ name: 'x'.repeat(1_100_000), lines: [] }));
      expect(huge.status).toBe(413);
      expect(huge.headers['content-type']).toMatch(PROBLEM);

      const media = await request(server()).post('/probe/echo').set('content-type', 'application/x-unknown').send('abc');
      expect(media.status).toBe(415);
      expect(media.headers['content-type']).toMatch(PROBLEM);
    });
  });

  describe('logging', () => {
    it('redacts credentials in headers, bodies and query strings', async () => {
      await request(server())
        .post('/probe/log?access_token=QUERYTOKEN123&page=2')
        .set('authorization', 'Bearer HEADERTOKEN123')
        .set('cookie', 'sid=COOKIE123')
        .send({ password: 'PASSWORD123', nested: { refreshToken: 'REFRESH123', deeper: { apiKey: 'APIKEY123' } }, note: 'visible' });
      for (const secret of ['QUERYTOKEN123', 'HEADERTOKEN123', 'COOKIE123', 'PASSWORD123', 'REFRESH123', 'APIKEY123']) {
        expect(api.logs.raw).not.toContain(secret);
      }
      const line = api.logs.lines.find((l) => l.msg === 'probe received') as { body: Record<string, unknown> };
      expect(line.body).toMatchObject({ password: '[REDACTED]', note: 'visible' });
      const urls = api.logs.lines
        .filter((l) => l.msg === 'request completed')
        .map((l) => (l.req as { url?: string } | undefined)?.url)
        .filter((u) => u?.startsWith('/probe/log'));
      expect(urls).toEqual(['/probe/log?access_token=%5BREDACTED%5D&page=2']);
    });

    it('names tenant and principal on every log line once a scope is entered', async () => {
      const res = await request(server()).get('/probe/scoped');
      const id = res.headers['x-request-id'];
      const lines = api.logs.lines.filter((l) => (l.req as { id?: string } | undefined)?.id === id);
      expect(lines.map((l) => l.msg)).toEqual(['inside the scope', 'request completed']);
      for (const line of lines) expect(line).toMatchObject({ tenantId: TENANT, principalId: `user:${USER}` });
    });

    it('keeps a well-formed incoming request id and replaces an unsafe one', async () => {
      const kept = await request(server()).get('/health/live').set('x-request-id', 'trace-abc-12345');
      expect(kept.headers['x-request-id']).toBe('trace-abc-12345');
      const replaced = await request(server()).get('/health/live').set('x-request-id', 'evil id {"level":60}');
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  it('sends strict security headers on every response', async () => {
    for (const path of ['/health/live', '/probe/undeclared', '/nowhere']) {
      const res = await request(server()).get(path);
      expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });
});

describe('health', () => {
  it('is live and ready when PostgreSQL and Redis answer', async () => {
    const api = await buildApi();
    try {
      const live = await request(api.app.getHttpServer()).get('/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'ok' });
      const ready = await request(api.app.getHttpServer()).get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'ok', checks: { database: 'up', redis: 'up' } });
    } finally {
      await api.close();
    }
  });

  it('is not ready when Redis is down, and says which dependency without internal details', async () => {
    const deadRedis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    deadRedis.on('error', () => undefined);
    const api = await buildApi({ overrides: [{ token: REDIS, value: deadRedis }] });
    try {
      const res = await request(api.app.getHttpServer()).get('/health/ready');
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ status: 503, title: 'Service Unavailable', checks: { database: 'up', redis: 'down' } });
      expect(res.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|:1\b/);
    } finally {
      await api.close();
    }
  });
});

export { ProbeModule };
