import { Controller, Get, Req } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyRequest } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { clientIp } from '@benteng/security';
import { createFastifyAdapter } from '../../apps/api/src/app.factory.js';
import { Anonymous } from '../../apps/api/src/http/access.decorator.js';
import { tag } from '../security/support/controls.js';

@Controller('probe')
@Anonymous('test probe')
class ClientIpProbeController {
  @Get('ip')
  ip(@Req() req: FastifyRequest): { ip: string } {
    return { ip: clientIp(req) };
  }
}

const SPOOFED = '203.0.113.9';

/**
 * A Nest application on the API's own Fastify adapter (createFastifyAdapter, where trustProxy is
 * set) with the given TRUSTED_PROXIES. Only the probe is mounted: what decides request.ip is the
 * adapter, and the rest of the API module is not needed to observe it.
 */
function apiTrusting(trustedProxies: string) {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    const config = loadConfig({ ...process.env, TRUSTED_PROXIES: trustedProxies });
    const moduleRef = await Test.createTestingModule({ controllers: [ClientIpProbeController] }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());
  return {
    /** Over TCP from this process: the socket peer is the loopback address. */
    viaSocket: async (forwardedFor?: string) => {
      const req = request(app.getHttpServer()).get('/probe/ip');
      const res = forwardedFor === undefined ? await req : await req.set('x-forwarded-for', forwardedFor);
      expect(res.status).toBe(200);
      return (res.body as { ip: string }).ip;
    },
    /** Through Fastify's inject, which lets the test choose the socket peer's address. */
    viaPeer: async (remoteAddress: string, forwardedFor: string) => {
      const res = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/probe/ip', remoteAddress, headers: { 'x-forwarded-for': forwardedFor } });
      expect(res.statusCode).toBe(200);
      return (res.json() as { ip: string }).ip;
    },
  };
}

describe(tag('CLIENT-IP-TRUST', 'client IP behind proxies'), () => {
  describe('without TRUSTED_PROXIES', () => {
    const api = apiTrusting('');

    it('reports the socket peer', async () => {
      expect(await api.viaSocket()).toBe('127.0.0.1');
    });

    it('ignores X-Forwarded-For, so a client cannot choose its own address', async () => {
      expect(await api.viaSocket(SPOOFED)).toBe('127.0.0.1');
    });
  });

  describe('with TRUSTED_PROXIES=127.0.0.1 (the peer is a trusted proxy)', () => {
    const api = apiTrusting('127.0.0.1');

    it('honours X-Forwarded-For', async () => {
      expect(await api.viaSocket(SPOOFED)).toBe(SPOOFED);
    });

    it('takes the nearest untrusted hop, so addresses a client prepends are not believed', async () => {
      expect(await api.viaSocket(`198.51.100.66, ${SPOOFED}`)).toBe(SPOOFED);
    });

    it('reports the peer when no header is sent', async () => {
      expect(await api.viaSocket()).toBe('127.0.0.1');
    });
  });

  describe('with TRUSTED_PROXIES=10.0.0.0/8 (the peer is not in it)', () => {
    const api = apiTrusting('10.0.0.0/8');

    it('ignores X-Forwarded-For from an untrusted peer', async () => {
      expect(await api.viaSocket(SPOOFED)).toBe('127.0.0.1');
    });

    it('honours it from a peer inside the range', async () => {
      expect(await api.viaPeer('10.1.2.3', SPOOFED)).toBe(SPOOFED);
      expect(await api.viaPeer('192.0.2.50', SPOOFED)).toBe('192.0.2.50');
    });
  });
});
