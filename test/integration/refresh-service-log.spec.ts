import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_LOG_CONTEXT } from '../../libs/auth/src/auth-entry.js';
import { AuthError, AuthErrorCode } from '../../libs/auth/src/auth.errors.js';
import { RefreshService } from '../../libs/auth/src/refresh.service.js';
import { authGraph, capturingLogger, SettableClock } from '../support/auth-services.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { deleteKeys, ready, testRedis } from '../support/redis.js';

/**
 * What RefreshService logs, through a logger of its own: test/support/auth-services.ts shares one
 * capturing logger between every service, where LoginService's context would hide a missing one.
 * On the real PostgreSQL and Redis, as test/integration/refresh-rotation.spec.ts.
 */
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('refresh-service-log-spec');
const markers: string[] = [];
let tenant: TestTenant;

beforeAll(async () => {
  await ready(redis);
  tenant = await createTenant(owner, 'refresh-log');
});
afterAll(async () => {
  await deleteKeys(redis, markers);
  redis.disconnect();
});

describe('RefreshService logging', () => {
  it('logs under the auth context: a reused refresh token is one warning there, naming the session, never the token', async () => {
    const g = await authGraph({ clock: new SettableClock(), redis, db: database });
    const { logger, lines, contexts } = capturingLogger();
    const sut = new RefreshService(g.sessionsRepository, g.refreshTokens, g.revocations, g.throttle, g.issuer, logger);
    expect(contexts).toEqual([AUTH_LOG_CONTEXT]);

    const meta = { ip: `10.${[...randomBytes(3)].join('.')}`, userAgent: 'spec-agent', requestId: 'req-log-1' };
    const pair = await g.issuer.start(tenant.id, tenant.users.member.id, 'member', meta, 'auth.login');
    const { sid } = await g.accessTokens.verify(pair.accessToken);
    markers.push(`benteng:rev:session:${sid}`);
    await sut.refresh(pair.refreshToken, meta);
    expect(lines).toEqual([]);
    const replay = { ip: meta.ip, requestId: 'req-log-2' };
    const error = await sut.refresh(pair.refreshToken, replay).catch((e: unknown) => e);
    expect((error as AuthError).code).toBe(AuthErrorCode.InvalidRefreshToken);
    expect(lines).toEqual([{ level: 'warn', fields: { event: 'auth.refresh_reuse', tenantId: tenant.id, sessionId: sid, ip: meta.ip, requestId: 'req-log-2' }, message: 'refresh token reuse: session revoked' }]);
    expect(JSON.stringify(lines)).not.toContain(pair.refreshToken);
  });
});
