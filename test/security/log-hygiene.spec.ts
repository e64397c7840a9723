import { Controller, Get } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaService } from '@benteng/database';
import { RequestContext, Scope } from '@benteng/tenancy';
import { Anonymous } from '../../apps/api/src/http/access.decorator.js';
import { buildApi, type TestApi } from '../support/api.js';
import { duplicateKeys, inspectLogLine } from '../support/log-hygiene.js';
import { tag } from './support/controls.js';

/** Recognizable values a database error would quote if its message were logged. */
const MARKER = 'LOGMARKER-7f3a9c';
const TENANT = '0193b7a0-0000-7000-8000-00000000abcd';
const USER = '0193b7a0-0000-7000-8000-00000000abce';

@Controller('probe/log-hygiene')
@Anonymous('log hygiene probe: real database errors and log calls that repeat bound keys')
class LogHygieneProbe {
  constructor(
    private readonly prisma: PrismaService,
    private readonly logger: PinoLogger,
    private readonly context: RequestContext,
  ) {}

  /** A Prisma validation error: its message quotes the call's arguments. */
  @Get('prisma-arguments')
  async arguments(): Promise<never> {
    await this.prisma.client.tenant.create({ data: { slug: MARKER.toLowerCase(), name: MARKER, status: 'bogus' as never } });
    throw new Error('unreachable');
  }

  /** A raw query that fails in PostgreSQL: Prisma's message and the driver error quote the value. */
  @Get('prisma-raw')
  async raw(): Promise<never> {
    await this.prisma.client.$queryRawUnsafe(`SELECT '${MARKER}'::int`);
    throw new Error('unreachable');
  }

  /** An error wrapping a Prisma error as its cause. */
  @Get('prisma-cause')
  async cause(): Promise<never> {
    try {
      await this.prisma.client.$queryRawUnsafe(`SELECT '${MARKER}'::int`);
    } catch (error) {
      throw new Error('export step failed', { cause: error });
    }
    throw new Error('unreachable');
  }

  /** Log calls that name keys the request's logger has already bound. */
  @Get('bound-keys')
  bound(): { ok: true } {
    this.context.enterScope(Scope.for(TENANT, { kind: 'user', userId: USER, role: 'viewer' }));
    this.logger.info({ tenantId: TENANT, note: 'same value' }, 'repeats the tenant');
    this.logger.info({ service: 'ops-cli' }, 'names another service');
    return { ok: true };
  }
}

describe('log hygiene', () => {
  let api: TestApi;
  const server = () => api.app.getHttpServer();
  const lineOf = (id: string, msg: string) => api.logs.raw.split('\n').find((l) => l.includes(`"msg":"${msg}"`) && l.includes(id));

  beforeAll(async () => {
    api = await buildApi({ controllers: [LogHygieneProbe] });
  });
  afterAll(() => api.close());

  it(tag('LOG-REDACTION', 'database errors are logged as code, model and operation, never with the query text or its arguments'), async () => {
    const args = await request(server()).get('/probe/log-hygiene/prisma-arguments');
    const raw = await request(server()).get('/probe/log-hygiene/prisma-raw');
    const cause = await request(server()).get('/probe/log-hygiene/prisma-cause');
    for (const res of [args, raw, cause]) expect(res.status).toBe(500);

    const argsLine = lineOf(args.headers['x-request-id'] as string, 'request failed');
    const rawLine = lineOf(raw.headers['x-request-id'] as string, 'request failed');
    const causeLine = lineOf(cause.headers['x-request-id'] as string, 'request failed');
    expect(JSON.parse(argsLine!).err).toMatchObject({ type: 'PrismaClientValidationError', model: 'tenant', operation: 'create' });
    expect(JSON.parse(rawLine!).err).toMatchObject({ type: 'PrismaClientKnownRequestError', code: 'P2010', operation: '$queryRawUnsafe', sqlState: '22P02' });
    expect(JSON.parse(causeLine!).err).toMatchObject({ message: 'export step failed', cause: { type: 'PrismaClientKnownRequestError', code: 'P2010', sqlState: '22P02' } });
    for (const line of [argsLine, rawLine, causeLine]) {
      expect(line).not.toContain(MARKER);
      expect(line).not.toContain(MARKER.toLowerCase());
      expect(line).not.toMatch(/invocation|Raw query failed|SELECT/);
    }
    expect(api.logs.raw).not.toContain(MARKER);
  });

  it(tag('LOG-REDACTION', 'each key is bound once per log line: a repeated binding is dropped, a conflicting one kept under `conflicting`'), async () => {
    const res = await request(server()).get('/probe/log-hygiene/bound-keys');
    expect(res.status).toBe(200);
    const id = res.headers['x-request-id'] as string;
    const same = lineOf(id, 'repeats the tenant')!;
    const other = lineOf(id, 'names another service')!;
    expect(duplicateKeys(same)).toEqual([]);
    expect(duplicateKeys(other)).toEqual([]);
    expect(JSON.parse(same)).toMatchObject({ tenantId: TENANT, note: 'same value', service: 'benteng-api' });
    expect(JSON.parse(other)).toMatchObject({ service: 'benteng-api', conflicting: { service: 'ops-cli' } });
    // The whole-run check reports a conflicting binding as a call-site defect: this one was provoked.
    expect(inspectLogLine(other)).toEqual([{ kind: 'conflicting binding', what: 'service', msg: 'names another service' }]);
    api.logs.raw = api.logs.raw.replace(other, '');
  });

  it(tag('LOG-REDACTION', 'the whole-run check finds duplicate keys at any depth and Prisma query text'), () => {
    expect(duplicateKeys('{"service":"benteng-api","a":{"b":1,"b":2},"c":[{"d":1},{"d":2}],"service":"ops-cli"}')).toEqual(['b', 'service']);
    expect(duplicateKeys('{"k":"a\\"k\\":1","k2":"{\\"k\\":2}"}')).toEqual([]);
    expect(inspectLogLine('{"msg":"x","err":{"message":"Invalid `prisma.invoice.create()` invocation:"}}').map((p) => p.kind)).toEqual(['prisma query text']);
    expect(inspectLogLine('{"msg":"x","err":{"type":"PrismaClientKnownRequestError","code":"P2002"}}')).toEqual([]);
  });
});
