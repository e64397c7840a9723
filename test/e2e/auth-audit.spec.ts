import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditVerifier } from '@benteng/audit';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, randomPassword, SecretLedger, setPassword } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';

const owner = ownerPool();
const secrets = new SecretLedger();

let api: TestApi;

beforeAll(async () => {
  api = secrets.watch(await buildAuthApi());
});
afterAll(() => api?.close());

interface AuditRow {
  seq: string;
  type: string;
  outcome: string;
  actor: string;
  subject: string | null;
  request_id: string | null;
  ip: string | null;
  data: Record<string, unknown>;
  hash: string;
}

describe('audit of authentication events', () => {
  it('records a failed login, a login and a refresh with their outcomes, no secret in any row, and a chain that verifies', async () => {
    const tenant = await createTenant(owner, 'audit');
    const user = tenant.users.member;
    const password = await setPassword(owner, secrets, user.id);
    const wrongPassword = randomPassword();
    const client = new Caller(api, secrets);

    const failed = await client.login(user.email, wrongPassword);
    expect(failed.status).toBe(401);
    const session = await client.loginOk(user.email, password);
    const refreshed = await client.refreshOk(session.refreshToken);

    const { rows } = await owner.query<AuditRow>('SELECT * FROM audit_events WHERE tenant_id = $1 ORDER BY seq', [tenant.id]);
    expect(rows.map((r) => [r.type, r.outcome])).toEqual([
      ['auth.login', 'failure'],
      ['auth.login', 'success'],
      ['auth.refresh', 'success'],
    ]);
    const [failure, login, refresh] = rows;
    expect(failure).toMatchObject({ actor: `user:${user.id}`, ip: client.ip, request_id: failed.headers['x-request-id'], data: { reason: 'wrong_password' } });
    expect(login).toMatchObject({ actor: `user:${user.id}`, subject: `session:${session.sessionId}`, ip: client.ip });
    expect(refresh).toMatchObject({ actor: `user:${user.id}`, subject: `session:${session.sessionId}`, ip: client.ip });

    const stored = JSON.stringify(rows);
    const { rows: hashes } = await owner.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [user.id]);
    const forbidden = [
      password,
      wrongPassword,
      hashes[0]!.password_hash,
      session.accessToken,
      refreshed.accessToken,
      session.refreshToken,
      refreshed.refreshToken,
      session.refreshToken.split('.')[2]!,
      refreshed.refreshToken.split('.')[2]!,
    ];
    for (const secret of forbidden) expect(stored).not.toContain(secret);

    const verification = await api.app.get(AuditVerifier).verify(tenant.id);
    expect(verification).toEqual({ ok: true, count: rows.length, head: { seq: rows.length, hash: rows.at(-1)!.hash } });
  });
});

it('never writes an issued token or a password it was sent to the logs', () => {
  expect(secrets.counts.secrets).toBeGreaterThan(3);
  expect(secrets.counts.logLines).toBeGreaterThan(0);
  expect(secrets.leaks()).toEqual([]);
});
