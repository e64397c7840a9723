import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_LOG_CONTEXT } from '../../libs/auth/src/auth-entry.js';
import { AuthError, AuthErrorCode } from '../../libs/auth/src/auth.errors.js';
import { LoginService } from '../../libs/auth/src/login.service.js';
import { authGraph, capturingLogger, SettableClock } from '../support/auth-services.js';
import { tenantDatabase } from '../support/db.js';
import { ready, testRedis } from '../support/redis.js';

/**
 * What LoginService logs, through a logger of its own: test/support/auth-services.ts shares one
 * capturing logger between every service, so another service's context would hide a missing one
 * (as test/integration/refresh-service-log.spec.ts does for RefreshService). The context is what
 * an operator filters the authentication log lines by.
 */
const database = tenantDatabase();
const redis = testRedis('login-service-log-spec');

beforeAll(() => ready(redis));
afterAll(() => redis.disconnect());

describe('LoginService logging', () => {
  it('logs under the auth context: a failed login with no tenant to audit in is one warning there, the account as a digest', async () => {
    const g = await authGraph({ clock: new SettableClock(), redis, db: database });
    const { logger, lines, contexts } = capturingLogger();
    const sut = new LoginService(g.accounts, g.hasher, g.throttle, g.failureAudit, g.issuer, logger);
    expect(contexts).toEqual([AUTH_LOG_CONTEXT]);

    const email = `nobody.${randomBytes(4).toString('hex')}@example.test`;
    const ip = `10.${[...randomBytes(3)].join('.')}`;
    const error = await sut.login({ email, password: 'not the password' }, { ip, requestId: 'req-login-log' }).catch((e: unknown) => e);
    expect((error as AuthError).code).toBe(AuthErrorCode.InvalidCredentials);
    await g.failureAudit.settled();
    expect(lines).toEqual([
      { level: 'warn', fields: { event: 'auth.login', outcome: 'failure', reason: 'unknown_user', account: expect.stringMatching(/^[0-9a-f]{16,}$/), ip, requestId: 'req-login-log' }, message: 'login failed' },
    ]);
    expect(JSON.stringify(lines)).not.toContain(email);
  });
});
