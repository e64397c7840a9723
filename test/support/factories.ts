import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { MembershipRole } from '@benteng/database';
import { Scope } from '@benteng/tenancy';

export interface TestUser {
  id: string;
  email: string;
  role: MembershipRole;
}

export interface TestTenant {
  id: string;
  slug: string;
  users: Record<MembershipRole, TestUser>;
  scope(role: MembershipRole): Scope;
}

/** The four roles; createTenant makes one user of each. */
export const ROLES: readonly MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];

/**
 * A fresh tenant with one user per role, arranged through the owner connection (the platform
 * path). Every test file makes its own, so files never see each other's rows.
 */
export async function createTenant(owner: pg.Pool, label = 'test'): Promise<TestTenant> {
  const suffix = randomBytes(5).toString('hex');
  const id = randomUUID();
  const slug = `${label}-${suffix}`.toLowerCase();
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)', [id, slug, `Tenant ${slug}`]);
    await client.query("SELECT set_config('app.tenant_id', $1, true)", [id]);
    const users = {} as Record<MembershipRole, TestUser>;
    for (const role of ROLES) {
      const user: TestUser = { id: randomUUID(), email: `${role}.${slug}@example.test`, role };
      await client.query('INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)', [user.id, user.email, `${role} ${slug}`]);
      await client.query('INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, $4)', [id, randomUUID(), user.id, role]);
      users[role] = user;
    }
    await client.query('COMMIT');
    return {
      id,
      slug,
      users,
      scope: (role) => Scope.for(id, { kind: 'user', userId: users[role].id, role }),
    };
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

export interface InvoiceSeed {
  number?: string;
  createdById: string;
  status?: 'draft' | 'issued' | 'paid' | 'void';
  lines?: number;
}

/** Inserts an invoice (with lines) for a tenant through the owner connection. */
export async function insertInvoice(owner: pg.Pool, tenantId: string, seed: InvoiceSeed): Promise<string> {
  const id = randomUUID();
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    const lineCount = seed.lines ?? 1;
    await client.query(
      `INSERT INTO invoices (tenant_id, id, number, status, customer_name, customer_email, total_minor, created_by_id)
       VALUES ($1, $2, $3, $4, 'PT Contoh', 'billing@contoh.test', $5, $6)`,
      [tenantId, id, seed.number ?? `INV-${randomBytes(4).toString('hex')}`, seed.status ?? 'draft', 1000 * lineCount, seed.createdById],
    );
    for (let position = 1; position <= lineCount; position++) {
      await client.query(
        `INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, description, quantity, unit_price_minor, amount_minor)
         VALUES ($1, $2, $3, $4, 'Item', 1, 1000, 1000)`,
        [tenantId, randomUUID(), id, position],
      );
    }
    await client.query('COMMIT');
    return id;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}
