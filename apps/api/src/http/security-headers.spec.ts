import 'reflect-metadata';
import { Controller, Get, Header, Module, type INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVICE_SIGNATURE_HEADERS } from '@benteng/security';
import { containsNul, HELMET_OPTIONS, SecurityHeaders } from './security-headers.js';

// Unit spec of the listener's security headers (SECURITY-HEADERS) on a small Nest/Fastify
// application: helmet with HELMET_OPTIONS, and no-store on answers to credentialed requests.
// test/security/security-headers.spec.ts proves the same on the running API.

@Controller()
class ProbeController {
  @Get('plain')
  plain() {
    return { ok: true };
  }

  @Get('cached')
  @Header('cache-control', 'public, max-age=60')
  cached() {
    return { ok: true };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(): Promise<NestFastifyApplication> {
  const module = await Test.createTestingModule({ imports: [ProbeModule] }).compile();
  const created = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  app = created;
  await new SecurityHeaders().register(created);
  await created.init();
  await created.getHttpAdapter().getInstance().ready();
  return created;
}

describe('HELMET_OPTIONS', () => {
  it('forbid framing, scripts, embedding and cross-site reads', () => {
    expect(HELMET_OPTIONS).toEqual({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
      },
      frameguard: { action: 'deny' },
      crossOriginResourcePolicy: { policy: 'same-site' },
    });
  });
});

describe('SecurityHeaders', () => {
  it('sets helmet\'s headers with HELMET_OPTIONS on every answer', async () => {
    const sut = await build();
    const res = await sut.inject({ method: 'GET', url: '/plain' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-site');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const missing = await sut.inject({ method: 'GET', url: '/nowhere' });
    expect(missing.headers['x-frame-options']).toBe('DENY');
  });

  it.each([
    ['authorization', 'Bearer x'],
    ['cookie', 'a=b'],
    ['x-api-key', 'k'],
    [SERVICE_SIGNATURE_HEADERS.signature, 's'],
  ])('answers a request carrying %s with Cache-Control: no-store', async (name, value) => {
    const sut = await build();
    const res = await sut.inject({ method: 'GET', url: '/plain', headers: { [name]: value } });
    expect(res.headers['cache-control']).toBe('no-store');
    const error = await sut.inject({ method: 'GET', url: '/nowhere', headers: { [name]: value } });
    expect(error.headers['cache-control']).toBe('no-store');
  });

  it('leaves an anonymous answer, and a route\'s own caching, as they are', async () => {
    const sut = await build();
    const anonymous = await sut.inject({ method: 'GET', url: '/plain', headers: { 'x-other': 'v' } });
    expect(anonymous.headers['cache-control']).toBeUndefined();
    expect(anonymous.json()).toEqual({ ok: true });
    const own = await sut.inject({ method: 'GET', url: '/cached', headers: { authorization: 'Bearer x' } });
    expect(own.headers['cache-control']).toBe('public, max-age=60');
    expect(own.json()).toEqual({ ok: true });
  });
});

describe('containsNul', () => {
  it('finds U+0000 in any string value or key, at any depth up to 64', () => {
    expect(containsNul('a\u0000b')).toBe(true);
    expect(containsNul('ab')).toBe(false);
    expect(containsNul({ a: ['x', { b: '\u0000' }] })).toBe(true);
    expect(containsNul({ ['k\u0000']: 1 })).toBe(true);
    expect(containsNul({ a: 1, b: null, c: true, d: ['x'] })).toBe(false);
    expect(containsNul(null)).toBe(false);
    expect(containsNul(undefined)).toBe(false);
    expect(containsNul(7)).toBe(false);
    const nest = (levels: number): unknown => (levels === 0 ? '\u0000' : { n: nest(levels - 1) });
    // The string at nesting 65 is read at depth 65: checked. One deeper is not (JSON this deep is refused elsewhere).
    expect(containsNul(nest(65))).toBe(true);
    expect(containsNul(nest(66))).toBe(false);
    const keyAt = (levels: number): unknown => (levels === 0 ? { ['k\u0000']: 1 } : { n: keyAt(levels - 1) });
    expect(containsNul(keyAt(64))).toBe(true);
    expect(containsNul(keyAt(65))).toBe(false);
  });
});
