import type pg from 'pg';
import type { MembershipRole } from '@benteng/database';
import { randomPassword, type Caller } from './auth-client.js';
import { createTenant, ROLES, type TestTenant } from './factories.js';
import { setPasswords } from './public-api.js';

/**
 * The tenant fixtures of the e2e and security specs, on top of createTenant (one user per role,
 * arranged through the owner connection): the same tenant whose four users can log in.
 */

/** A fresh tenant whose four users log in with `password`. */
export async function createTenantWithLogins(owner: pg.Pool, label: string, password: string): Promise<TestTenant> {
  const tenant = await createTenant(owner, label);
  await setPasswords(owner, ROLES.map((r) => tenant.users[r].id), password);
  return tenant;
}

/** A tenant and the password its four users log in with. */
export interface TenantLogins {
  tenant: TestTenant;
  password: string;
}

/** A fresh tenant whose four users log in with a password of its own. */
export async function createTenantLogins(owner: pg.Pool, label: string): Promise<TenantLogins> {
  const password = randomPassword();
  return { tenant: await createTenantWithLogins(owner, label, password), password };
}

/** A tenant and an access token for each of its four users. */
export interface LoggedInTenant {
  tenant: TestTenant;
  tokens: Record<MembershipRole, string>;
}

/**
 * A fresh tenant and an access token for each of its four users, each logged in through `caller`
 * (whose SecretLedger gets the password and the tokens).
 */
export async function createLoggedInTenant(owner: pg.Pool, caller: Caller, label: string): Promise<LoggedInTenant> {
  const { tenant, password } = await createTenantLogins(owner, label);
  const tokens = {} as Record<MembershipRole, string>;
  for (const role of ROLES) tokens[role] = (await caller.loginOk(tenant.users[role].email, password)).accessToken;
  return { tenant, tokens };
}
