import pg from 'pg';
import { createTenant, type TestTenant } from '../../support/factories.js';
import { setPasswords, testPassword } from '../../support/public-api.js';

/**
 * Fixture helpers shared by the kill-switch scenarios. A scenario's fixtures run inside a beforeAll
 * (test/security/support/kill-switch.ts), where no hook may be registered: these open and end their
 * own owner pool instead of using ownerPool()'s afterAll.
 */

/** The migration owner (a superuser on test machines, so it bypasses RLS), ended after `work`. */
export async function withOwner<T>(work: (owner: pg.Pool) => Promise<T>): Promise<T> {
  const owner = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  try {
    return await work(owner);
  } finally {
    await owner.end();
  }
}

/** A fresh tenant whose users (one per role) all have the same new password. */
export function tenantWithPassword(label: string): Promise<{ tenant: TestTenant; password: string }> {
  return withOwner(async (owner) => {
    const tenant = await createTenant(owner, label);
    const password = testPassword();
    await setPasswords(owner, Object.values(tenant.users).map((u) => u.id), password);
    return { tenant, password };
  });
}

/** The Authorization header of a bearer token. */
export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });
