import { randomUUID } from 'node:crypto';
import type { ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { principalBlockKey, RateLimiter, type Guard } from '@benteng/security';
import type { AuthenticateStage } from '../../apps/api/src/http/gate/authenticate.stage.js';
import { GateRoundTrip } from '../../apps/api/src/http/gate/gate-round-trip.js';
import type { RateLimitStage } from '../../apps/api/src/http/gate/rate-limit.stage.js';
import type { RequestAuth } from '../../apps/api/src/http/request-auth.js';
import { deleteKeys, ready, testRedis } from '../support/redis.js';

/**
 * GateRoundTrip.read (apps/api/src/http/gate/gate-round-trip.ts) on the real Redis and the real
 * RateLimiter: what the gate's one round trip hands each stage. The revocation markers come back in
 * the order AuthenticateStage listed them, and only they (the principal block's read is its own);
 * the limiter's answer only when it consumed. AuthenticateStage and RateLimitStage are stand-ins
 * naming the guards and the sensitivity (their own decisions are apps/api/src/http/gate/gate.spec.ts).
 */
describe('GateRoundTrip on the real Redis', () => {
  const redis = testRedis('gate-round-trip-spec');
  const written: string[] = [];
  const limiter = new RateLimiter(redis, loadConfig(process.env));
  const context = {} as ExecutionContext;
  const request = { method: 'POST' } as FastifyRequest;

  beforeAll(() => ready(redis));
  afterAll(async () => {
    await deleteKeys(redis, written);
    await redis.quit();
  });

  function userAuth() {
    const userId = randomUUID();
    const tenantId = randomUUID();
    return { kind: 'user', user: { userId, tenantId, role: 'member', sessionId: randomUUID() }, scope: { tenantId, principal: { kind: 'user', userId, role: 'member' } } } as unknown as RequestAuth;
  }

  function sut(guards: Guard[] | undefined): GateRoundTrip {
    const authenticate = { revocationGuards: () => guards } as unknown as AuthenticateStage;
    const rateLimit = { sensitivity: () => 'write' } as unknown as RateLimitStage;
    return new GateRoundTrip(authenticate, rateLimit, limiter);
  }

  const marker = () => {
    const key = `benteng:test:gate-round-trip:${randomUUID()}`;
    written.push(key);
    return key;
  };

  it('hands back the revocation markers in order, the principal block apart, and the limit when nothing stopped the request', async () => {
    const auth = userAuth();
    const [session, user] = [marker(), marker()];
    const trip = await sut([
      { key: session, stopWhen: 'present' },
      { key: user, stopWhen: 'present' },
    ]).read(context, request, auth);
    expect(trip).toMatchObject({ revocation: [null, null], principalBlock: { value: null, pttlMs: -2 }, limit: { allowed: true } });
    expect(Object.keys(trip!)).toEqual(['revocation', 'principalBlock', 'limit']);
  });

  it('reads a present marker and a block, and hands back no limit when a guard stopped the request before anything was consumed', async () => {
    const auth = userAuth();
    const [session, user] = [marker(), marker()];
    await redis.set(user, 'revoked-at-1', 'PX', 60_000);
    const block = principalBlockKey(`user:${(auth as { user: { userId: string } }).user.userId}`);
    written.push(block);
    await redis.set(block, '{"signal":"test"}', 'PX', 60_000);
    const trip = await sut([
      { key: session, stopWhen: 'present' },
      { key: user, stopWhen: 'present' },
    ]).read(context, request, auth);
    expect(trip!.revocation).toEqual([null, 'revoked-at-1']);
    expect(trip!.principalBlock.value).toBe('{"signal":"test"}');
    expect(trip!.principalBlock.pttlMs).toBeGreaterThan(0);
    expect(trip).not.toHaveProperty('limit');
  });

  it('reads nothing when the markers cannot be trusted yet', async () => {
    expect(await sut(undefined).read(context, request, userAuth())).toBeUndefined();
  });
});
