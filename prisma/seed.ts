// `npm run db:seed`: the demo data set. Development and test only; idempotent (run it as often as
// you like: tenants, users and memberships are upserted, invoices created once by number).
//
// Demo password: SEED_DEMO_PASSWORD, or the documented development default below. It is a demo
// credential for a local database, printed by `npm start` and listed in the README; the seed
// refuses to run when NODE_ENV=production, so it never reaches a production database.
import { createHmac, randomUUID } from 'node:crypto';
import pg from 'pg';
import { hashPassword, partnerClientSecretHash, partnerKeyHash } from '@benteng/auth';
import { PARTNER_SCOPES } from '@benteng/authz';
import { SystemClock } from '@benteng/common';
import { type AppConfig, defaultSecretSources, loadConfig, ownerDatabaseUrl, resolveSecret } from '@benteng/config';
import { PrismaService, TenantDatabase, type MembershipRole } from '@benteng/database';
import { InvoicesRepository, InvoicesService } from '@benteng/invoices';
import { Scope } from '@benteng/tenancy';

export const DEFAULT_DEMO_PASSWORD = 'benteng-demo-only';

interface DemoTenant {
  slug: string;
  name: string;
  domain: string;
  invoicePrefix: string;
  customers: string[];
}

export const DEMO_TENANTS: DemoTenant[] = [
  { slug: 'acme-jakarta', name: 'Acme Jakarta', domain: 'acme-jakarta.example', invoicePrefix: 'ACME', customers: ['PT Sinar Jaya', 'CV Maju Bersama', 'PT Kopi Nusantara'] },
  { slug: 'nusantara-logistik', name: 'Nusantara Logistik', domain: 'nusantara-logistik.example', invoicePrefix: 'NL', customers: ['PT Pelabuhan Timur', 'CV Armada Cepat', 'PT Gudang Sentosa'] },
];
export const DEMO_ROLES: MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];
/** A consultant who belongs to both tenants: the tenant-switching demo. */
export const DEMO_CONSULTANT = { email: 'consultant@benteng.example', name: 'Konsultan Bersama', roles: { 'acme-jakarta': 'member', 'nusantara-logistik': 'viewer' } } as const;

export function demoEmail(tenant: DemoTenant, role: MembershipRole): string {
  return `${role}@${tenant.domain}`;
}

/** The demo partner client of the first tenant (an ERP integration on the test environment). */
export const DEMO_PARTNER = { tenant: 'acme-jakarta', name: 'Demo ERP (sandbox)', keyPrefix: 'demoacmeerpa' } as const;

/**
 * The demo partner's API key and client secret, derived from the demo password so that they are
 * the same on every `npm start` and can be printed next to the demo logins. Dev only, like the
 * password they come from (seed refuses production).
 */
export function demoPartnerCredentials(password: string): { key: string; clientSecret: string } {
  const derive = (label: string) => createHmac('sha256', password).update(label).digest('base64url');
  return { key: `bt_test_${DEMO_PARTNER.keyPrefix}_${derive('benteng-demo-partner-key')}`, clientSecret: `bt_cs_${derive('benteng-demo-partner-secret')}` };
}

/**
 * The first demo tenant's merchant account at the simulated payment provider: payment events for
 * it (POST /webhooks/inbound/payments, signed with PAYMENTS_WEBHOOK_SECRET) settle its invoices.
 */
export const DEMO_PAYMENT_ACCOUNT = { tenant: 'acme-jakarta', provider: 'simpay', accountId: 'acct_demo_acme' } as const;

/** The demo operator (internal listener): `npm run internal -- GET /internal/v1/whoami --operator <id>`. */
export const DEMO_OPERATOR = { email: 'ops@benteng.example', name: 'Platform Ops (demo)', roles: ['platform-admin'] } as const;

export interface SeedSummary {
  tenants: { slug: string; id: string }[];
  users: { email: string; memberships: string[] }[];
  /** The demo partner client's id (for client credentials), when AUTH_TOKEN_PEPPER was set. */
  partnerClientId?: string;
  /** The demo operator's id. */
  operatorId?: string;
  invoicesCreated: number;
}

async function upsertUser(client: pg.ClientBase, email: string, displayName: string, passwordHash: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4)
     ON CONFLICT (email) DO UPDATE SET display_name = EXCLUDED.display_name, password_hash = EXCLUDED.password_hash, updated_at = now()
     RETURNING id`,
    [randomUUID(), email, displayName, passwordHash],
  );
  return rows[0]!.id;
}

async function upsertMembership(client: pg.ClientBase, tenantId: string, userId: string, role: MembershipRole): Promise<void> {
  // The owner role is subject to FORCE ROW LEVEL SECURITY too (unless it is a superuser).
  await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
  await client.query(
    `INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
    [tenantId, randomUUID(), userId, role],
  );
}

/** The demo partner client and its API key, kept in step with the demo password and the pepper. */
async function upsertDemoPartner(client: pg.Client, owner: { tenantId: string; userId: string }, pepper: string, password: string): Promise<string> {
  const { key, clientSecret } = demoPartnerCredentials(password);
  // Partner tables force row-level security: write inside the tenant, as the application would.
  await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [owner.tenantId]);
  const existing = await client.query<{ id: string }>('SELECT id FROM partner_clients WHERE tenant_id = $1 AND name = $2', [owner.tenantId, DEMO_PARTNER.name]);
  const clientId = existing.rows[0]?.id ?? randomUUID();
  await client.query(
    `INSERT INTO partner_clients (tenant_id, id, name, environment, scopes, tier, secret_hash, created_by_id)
     VALUES ($1, $2, $3, 'test', $4, 'standard', $5, $6)
     ON CONFLICT (tenant_id, id) DO UPDATE SET scopes = EXCLUDED.scopes, secret_hash = EXCLUDED.secret_hash, revoked_at = NULL, expires_at = NULL, updated_at = now()`,
    [owner.tenantId, clientId, DEMO_PARTNER.name, [...PARTNER_SCOPES], partnerClientSecretHash(pepper, clientSecret), owner.userId],
  );
  await client.query(
    `INSERT INTO partner_api_keys (tenant_id, id, client_id, prefix, key_hash, environment, created_by_id)
     VALUES ($1, $2, $3, $4, $5, 'test', $6)
     ON CONFLICT (prefix) DO UPDATE SET key_hash = EXCLUDED.key_hash, revoked_at = NULL, expires_at = NULL`,
    [owner.tenantId, randomUUID(), clientId, DEMO_PARTNER.keyPrefix, partnerKeyHash(pepper, key), owner.userId],
  );
  return clientId;
}

export async function seed(config: AppConfig, password: string, log: (line: string) => void = () => undefined): Promise<SeedSummary> {
  if (config.NODE_ENV === 'production') throw new Error('db:seed creates demo users with a known password and refuses to run with NODE_ENV=production');
  const passwordHash = await hashPassword(password);
  const summary: SeedSummary = { tenants: [], users: [], invoicesCreated: 0 };
  const owners = new Map<string, { tenantId: string; userId: string }>();

  // Platform rows (tenants, users, memberships) are written through the owner connection: the
  // runtime role cannot create tenants or users, by design.
  const client = new pg.Client({ connectionString: ownerDatabaseUrl(config), application_name: 'benteng-seed' });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const tenant of DEMO_TENANTS) {
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)
         ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, updated_at = now() RETURNING id`,
        [randomUUID(), tenant.slug, tenant.name],
      );
      const tenantId = rows[0]!.id;
      summary.tenants.push({ slug: tenant.slug, id: tenantId });
      for (const role of DEMO_ROLES) {
        const email = demoEmail(tenant, role);
        const userId = await upsertUser(client, email, `${tenant.name} ${role}`, passwordHash);
        await upsertMembership(client, tenantId, userId, role);
        summary.users.push({ email, memberships: [`${tenant.slug}:${role}`] });
        if (role === 'owner') owners.set(tenant.slug, { tenantId, userId });
      }
    }
    const consultantId = await upsertUser(client, DEMO_CONSULTANT.email, DEMO_CONSULTANT.name, passwordHash);
    for (const [slug, role] of Object.entries(DEMO_CONSULTANT.roles)) {
      await upsertMembership(client, summary.tenants.find((t) => t.slug === slug)!.id, consultantId, role);
    }
    summary.users.push({ email: DEMO_CONSULTANT.email, memberships: Object.entries(DEMO_CONSULTANT.roles).map(([s, r]) => `${s}:${r}`) });
    // Operators are platform rows, written by the owner like tenants and users.
    const operator = await client.query<{ id: string }>(
      `INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, $3, $4)
       ON CONFLICT (email) DO UPDATE SET display_name = EXCLUDED.display_name, roles = EXCLUDED.roles, status = 'active' RETURNING id`,
      [randomUUID(), DEMO_OPERATOR.email, DEMO_OPERATOR.name, [...DEMO_OPERATOR.roles]],
    );
    summary.operatorId = operator.rows[0]!.id;
    // payment_accounts forces row-level security too: written inside its tenant. An account id
    // belongs to one tenant for good (unique per provider), so an existing row is left as it is.
    await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [owners.get(DEMO_PAYMENT_ACCOUNT.tenant)!.tenantId]);
    await client.query(
      `INSERT INTO payment_accounts (tenant_id, provider, account_id) VALUES ($1, $2, $3) ON CONFLICT (provider, account_id) DO NOTHING`,
      [owners.get(DEMO_PAYMENT_ACCOUNT.tenant)!.tenantId, DEMO_PAYMENT_ACCOUNT.provider, DEMO_PAYMENT_ACCOUNT.accountId],
    );
    // Partner credentials are stored as HMACs under AUTH_TOKEN_PEPPER; without it (a bare
    // `npm run db:seed`) the API could not verify them, so the demo partner is left out.
    if (config.AUTH_TOKEN_PEPPER) {
      summary.partnerClientId = await upsertDemoPartner(client, owners.get(DEMO_PARTNER.tenant)!, config.AUTH_TOKEN_PEPPER, password);
    } else {
      log('AUTH_TOKEN_PEPPER is not set: the demo partner client is not seeded');
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    await client.end();
  }

  // Tenant data goes through the application's own service, as the tenant's owner, under RLS.
  const prisma = new PrismaService(config);
  try {
    const invoices = new InvoicesService(new InvoicesRepository(new TenantDatabase(prisma)), new SystemClock());
    for (const tenant of DEMO_TENANTS) {
      const owner = owners.get(tenant.slug)!;
      const scope = Scope.for(owner.tenantId, { kind: 'user', userId: owner.userId, role: 'owner' });
      const existing = new Set((await invoices.list(scope, { limit: 100 })).map((i) => i.number));
      for (const [index, customer] of tenant.customers.entries()) {
        const number = `${tenant.invoicePrefix}-2026-${String(index + 1).padStart(4, '0')}`;
        if (existing.has(number)) continue;
        await invoices.create(scope, {
          number,
          customerName: customer,
          customerEmail: `finance@${customer.toLowerCase().replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '')}.example`,
          customerTaxId: `01.234.567.${index}-012.000`,
          dueDate: new Date(Date.UTC(2026, 11, 15 + index)),
          lines: [
            { description: 'Jasa konsultasi (per jam)', quantity: 8 + index, unitPriceMinor: 750_000n },
            { description: 'Biaya perjalanan', quantity: 1, unitPriceMinor: 1_250_000n },
          ],
        });
        summary.invoicesCreated++;
      }
    }
  } finally {
    await prisma.onModuleDestroy();
  }
  log(`seeded ${summary.tenants.length} tenants, ${summary.users.length} users, ${summary.invoicesCreated} new invoices`);
  return summary;
}

/** SEED_DEMO_PASSWORD or SEED_DEMO_PASSWORD_FILE (as every secret, libs/config/src/secret-source.ts), or the default. */
export function demoPassword(env: NodeJS.ProcessEnv = process.env): string {
  return resolveSecret('SEED_DEMO_PASSWORD', defaultSecretSources(env)) ?? DEFAULT_DEMO_PASSWORD;
}

// Run as a script (`npm run db:seed`), not when imported by `npm start` or the tests.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  try {
    await seed(loadConfig(), demoPassword(), (line) => process.stdout.write(`db:seed ${line}\n`));
  } catch (error) {
    process.stderr.write(`db:seed failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
