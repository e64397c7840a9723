import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '@benteng/config';
import { LogRedaction, pinoHttpOptions, redactUrl, requestIdFor, type LoggedRequest } from './logging.js';

// Unit spec of what request logs leave out (LOG-REDACTION): the URL redaction, the request id rule,
// and pinoHttpOptions run by a real pino writing to memory. test/security/log-redaction*.spec.ts
// proves the same lines on the running API.

const config = (over: Partial<AppConfig> = {}) => ({ LOG_LEVEL: 'info', LOG_PRETTY: false, ...over }) as AppConfig;

function capture(options = pinoHttpOptions(config())) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const { customLogLevel: _level, ...pinoOptions } = options as Record<string, unknown>;
  const logger = pino({ ...(pinoOptions as pino.LoggerOptions) }, destination);
  return { lines, logger };
}

describe('redactUrl', () => {
  it('replaces the values of credential-like query keys, case-insensitively, and keeps the others', () => {
    expect(redactUrl('/v1/files/1?token=abc&page=2')).toBe('/v1/files/1?token=%5BREDACTED%5D&page=2');
    for (const key of ['token', 'ticket', 'sig', 'X-Signature', 'apiKey', 'client_secret', 'Password', 'code', 'sessionId']) {
      expect(redactUrl(`/p?${key}=v4lue`)).not.toContain('v4lue');
    }
    expect(redactUrl('/p?a=1&b=2')).toBe('/p?a=1&b=2');
    expect(redactUrl('/p?token=1&token=2')).toBe('/p?token=%5BREDACTED%5D');
  });

  it('returns the path alone when there is no query, or an empty one', () => {
    expect(redactUrl('/v1/invoices')).toBe('/v1/invoices');
    expect(redactUrl('/v1/invoices?')).toBe('/v1/invoices');
    expect(redactUrl('')).toBe('');
  });

  it('leaves out whatever follows a second question mark (it is never written, credential or not)', () => {
    expect(redactUrl('/p?x=1?token=2')).toBe('/p?x=1');
  });
});

describe('requestIdFor', () => {
  const req = (id: unknown) => ({ headers: { 'x-request-id': id } }) as unknown as IncomingMessage;

  it('keeps a caller id of 8 to 64 id characters', () => {
    for (const id of ['abcd1234', 'A.b_c-d9', 'x'.repeat(64)]) expect(requestIdFor(req(id))).toBe(id);
  });

  it('replaces anything else with a fresh UUID', () => {
    for (const id of [undefined, ['abcd1234'], 'short', 'x'.repeat(65), 'abcd1234\ninjected', 'abcd 1234', 'abcd1234/', 'ünicode12']) {
      const sut = requestIdFor(req(id));
      expect(sut).not.toBe(id);
      expect(sut).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    expect(requestIdFor(req(undefined))).not.toBe(requestIdFor(req(undefined)));
  });
});

describe('LogRedaction', () => {
  const sut = new LogRedaction();

  it('request: only id, method, redacted URL, user agent and remote address', () => {
    const req: LoggedRequest = {
      id: 'r1',
      method: 'GET',
      url: '/x?token=t0k',
      headers: { authorization: 'Bearer t0k', cookie: 'c', 'user-agent': 'curl/8' },
      remoteAddress: '192.0.2.1',
    };
    expect(sut.request(req)).toEqual({ id: 'r1', method: 'GET', url: '/x?token=%5BREDACTED%5D', userAgent: 'curl/8', remoteAddress: '192.0.2.1' });
  });

  it('paths: the explicit header paths only, no wildcard and no bare field', () => {
    // Built per instance (inside the test, so a change to how it is built fails here).
    expect(new LogRedaction().paths).toEqual([
      'req.headers.authorization',
      'req.headers.cookie',
      'req.headers["x-api-key"]',
      'req.headers["proxy-authorization"]',
      'req.headers["x-benteng-signature"]',
      'res.headers["set-cookie"]',
    ]);
  });

  it('censor: secret fields from the given level on', () => {
    expect(sut.censor({ password: 'p', a: { token: 't' } })).toEqual({ password: '[REDACTED]', a: { token: '[REDACTED]' } });
    const deep = { a: { b: { c: { d: { token: 't' } } } } };
    expect(sut.censor(deep)).toEqual({ a: { b: { c: { d: { token: '[REDACTED]' } } } } });
    expect(sut.censor(deep, 1)).toBe(deep);
  });
});

describe('pinoHttpOptions', () => {
  it('takes the level from the configuration, names the service, pretty-prints only when asked', () => {
    const options = pinoHttpOptions(config({ LOG_LEVEL: 'warn' } as Partial<AppConfig>));
    expect(options.level).toBe('warn');
    expect(options.base).toEqual({ service: 'benteng-api' });
    expect(options).not.toHaveProperty('transport');
    expect(pinoHttpOptions(config({ LOG_PRETTY: true })).transport).toEqual({ target: 'pino-pretty', options: { singleLine: true } });
    expect(options.redact).toEqual({ paths: [...new LogRedaction().paths], censor: '[REDACTED]' });
  });

  it('logs errors and 5xx as error, 4xx as warn, the rest as info', () => {
    const level = pinoHttpOptions(config()).customLogLevel!;
    const res = (statusCode: number) => ({ statusCode }) as ServerResponse;
    const req = {} as IncomingMessage;
    expect(level(req, res(200), undefined)).toBe('info');
    expect(level(req, res(399), undefined)).toBe('info');
    expect(level(req, res(400), undefined)).toBe('warn');
    expect(level(req, res(499), undefined)).toBe('warn');
    expect(level(req, res(500), undefined)).toBe('error');
    expect(level(req, res(200), new Error('x'))).toBe('error');
  });

  it('censors secret fields of a line, and leaves clean lines as they are', () => {
    const { lines, logger } = capture();
    logger.info({ user: { password: 'hunter2' }, token: 't0k', ok: 1 }, 'login');
    logger.child({ tenant: 't1' }).info({ n: 2, apiKey: 'k3y' }, 'child');
    logger.info({ plain: { a: 1 } }, 'clean');
    expect(lines[0]).toMatchObject({ user: { password: '[REDACTED]' }, token: '[REDACTED]', ok: 1, service: 'benteng-api', msg: 'login' });
    expect(lines[1]).toMatchObject({ tenant: 't1', n: 2, apiKey: '[REDACTED]' });
    expect(lines[2]).toMatchObject({ plain: { a: 1 }, msg: 'clean' });
    expect(JSON.stringify(lines)).not.toMatch(/hunter2|t0k|k3y/);
  });

  it('the bindings formatter censors the same way, and returns clean bindings as they were', () => {
    const { bindings } = pinoHttpOptions(config()).formatters!;
    expect(bindings!({ secret: 's3c', tenant: 't1', req: { password: 'kept for its serializer' } })).toEqual({ secret: '[REDACTED]', tenant: 't1', req: { password: 'kept for its serializer' } });
    const clean = { tenant: 't1' };
    expect(bindings!(clean)).toBe(clean);
  });

  it('does not censor the serialized keys in the line formatter: req and res by allowlist, err by its own censor', () => {
    const { lines, logger } = capture();
    const error = Object.assign(new Error('failed'), { accessToken: 'a1', details: { password: 'p1' } });
    logger.error({ err: error, req: { id: 'r', method: 'POST', url: '/login?password=p2', headers: { authorization: 'Bearer x', 'user-agent': 'ua' } }, res: { statusCode: 401, headers: { 'set-cookie': 'c' } } }, 'failed');
    const [line] = lines;
    expect(line!['req']).toEqual({ id: 'r', method: 'POST', url: '/login?password=%5BREDACTED%5D', userAgent: 'ua' });
    expect(line!['res']).toEqual({ statusCode: 401 });
    expect(line!['err']).toMatchObject({ message: 'failed', accessToken: '[REDACTED]', details: { password: '[REDACTED]' } });
    expect(JSON.stringify(lines)).not.toMatch(/a1|p1|p2|Bearer x/);
  });

  it('keeps a non-object err value as the serializer gives it', () => {
    const { lines, logger } = capture();
    logger.error({ err: 'just text' }, 'x');
    logger.error({ err: null }, 'y');
    expect(lines[0]!['err']).toBe('just text');
    expect(lines[1]!['err']).toBeNull();
  });

  it('uses the redaction it is given (the kill-switch suite replaces it)', () => {
    class Keep extends LogRedaction {
      override censor(fields: Record<string, unknown>): Record<string, unknown> {
        return fields;
      }
      override request(req: LoggedRequest): Record<string, unknown> {
        return { url: req.url };
      }
    }
    const { lines, logger } = capture(pinoHttpOptions(config(), new Keep()));
    logger.info({ token: 't0k', req: { id: 'r', method: 'GET', url: '/?token=x', headers: {} } }, 'x');
    expect(lines[0]).toMatchObject({ token: 't0k', req: { url: '/?token=x' } });
  });
});
