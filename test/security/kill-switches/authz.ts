import { randomBytes, randomUUID } from 'node:crypto';
import { Controller, Get, Injectable } from '@nestjs/common';

import pg from 'pg';
import { AbilityFactory, defineAbilityFor, type AppAbility, type Principal } from '@benteng/authz';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { InvitationsService } from '@benteng/members';
import { signServiceRequest } from '@benteng/security';
import { InvoiceResponses } from '../../../apps/api/src/public/invoice.response.js';
import { RequestValidationPipe } from '../../../apps/api/src/http/validation.js';
import { DeclaredAccess } from '../../../apps/api/src/http/gate/declared-access.js';

import { buildApi, buildInternalApi, type BuildApiOptions, type TestApi } from '../../support/api.js';
import { createTenant, insertInvoice, type TestTenant } from '../../support/factories.js';
import { bearer, withOwner } from '../support/fixtures.js';
import { createPartnerClient, createPartnerKey, partnerCall } from '../../support/partners.js';
import { PublicClient, setPasswords, testPassword, type ApiResponse } from '../../support/public-api.js';
import { AttachingInvitations, EntityResponses, NoValidationPipe, OpenByDefaultAccess, RoleBlindAbilities, RoleBlindPlatformAbilities, ScopeBlindAbilities, TenantOnlyAbilities, withConditions } from '../../../apps/lab/src/removals.js';
import { exchange, scenario, type KillSwitchScenario } from '../support/kill-switch.js';

/**
 * Kill switches for authorization, tenancy, mass assignment and exposure (issue 8). Every removal
 * replaces one provider of the app under attack (AbilityFactory, RequestValidationPipe,
 * InvoiceResponses) or one configuration variable of that app (DATABASE_APP_URL); production code
 * is never changed at test time.
 */

/** A tenant whose users all have `password`. */
async function tenantWithPasswords(owner: pg.Pool, label: string, password: string): Promise<TestTenant> {
  const tenant = await createTenant(owner, label);
  await setPasswords(owner, Object.values(tenant.users).map((u) => u.id), password);
  return tenant;
}

/** A public API call recorded as the report's exchange. */
async function publicAttack(api: TestApi, as: { email: string; password: string }, method: string, url: string, body?: unknown): Promise<{ res: ApiResponse; exchanges: ReturnType<typeof exchange>[] }> {
  const client = new PublicClient(api);
  const { accessToken } = await client.login(as.email, as.password);
  const res = await client.call(method, url, { token: accessToken, ...(body !== undefined ? { body } : {}) });
  return { res, exchanges: [exchange({ method, url, headers: bearer(accessToken), ...(body !== undefined ? { body } : {}) }, res)] };
}

/**
 * The repository bug TENANT-RLS is the defence against: every CASL rule has lost its tenant
 * condition. Used in both runs of the RLS scenario (the attack assumes it); only RLS differs.
 */
@Injectable()
class TenantBlindAbilities extends AbilityFactory {
  override forTenant(tenantId: string, principal: Principal): AppAbility {
    return withConditions(defineAbilityFor(tenantId, principal), ({ tenantId: _tenant, ...rest }) => rest);
  }
}

const override = (token: unknown, useClass: new (...args: never[]) => unknown): BuildApiOptions => ({ overrides: [{ token, useClass: useClass as never }] });

/** A route whose author forgot to declare who may call it (kill-switch fixture). */
@Controller('v1/reports/payroll')
export class UndeclaredPayrollController {
  @Get()
  payroll(): { employees: { name: string; monthlySalaryMinor: number }[] } {
    return { employees: [{ name: 'Siti Rahma', monthlySalaryMinor: 2_150_000_000 }] };
  }
}

interface OneTenant {
  tenant: TestTenant;
  password: string;
}

export const AUTHZ_SCENARIOS: KillSwitchScenario[] = [
  scenario<TestApi, undefined>({
    control: 'AUTHZ-FUNCTION',
    attack: 'an anonymous client reads a route whose author forgot its access declaration (GET /v1/reports/payroll)',
    removal: 'DeclaredAccess (deny by default) is replaced by the permissive default: a route that declares nothing is public',
    target: (intact) => buildApi({ controllers: [UndeclaredPayrollController], ...(intact ? {} : override(DeclaredAccess, OpenByDefaultAccess)) }),
    async run(api) {
      const url = '/v1/reports/payroll';
      const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url });
      const served = res.statusCode === 200 && res.body.includes('monthlySalaryMinor');
      return {
        succeeded: served,
        observed: `GET ${url} without any credential answered ${res.statusCode}${served ? ' with every salary of the payroll report' : ''}`,
        exchanges: [exchange({ method: 'GET', url }, { status: res.statusCode, headers: res.headers as Record<string, string>, body: res.body })],
      };
    },
  }),

  scenario<TestApi, OneTenant & { viewerMembershipId: string }>({
    control: 'AUTHZ-FUNCTION',
    attack: 'a viewer promotes itself to admin (PATCH /v1/members/:id)',
    removal: 'the ability factory ignores the role (every member of the tenant gets the owner\u2019s permissions)',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        const tenant = await tenantWithPasswords(owner, 'ks-bfla', password);
        const { rows } = await owner.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, tenant.users.viewer.id]);
        return { tenant, password, viewerMembershipId: rows[0]!.id };
      }),
    target: (intact) => buildApi(intact ? {} : override(AbilityFactory, RoleBlindAbilities)),
    async run(api, { tenant, password, viewerMembershipId }) {
      const url = `/v1/members/${viewerMembershipId}`;
      const { res, exchanges } = await publicAttack(api, { email: tenant.users.viewer.email, password }, 'PATCH', url, { role: 'admin' });
      const role = await withOwner(async (owner) => (await owner.query<{ role: string }>('SELECT role FROM memberships WHERE id = $1', [viewerMembershipId])).rows[0]?.role);
      return { succeeded: res.status === 200 && role === 'admin', observed: `PATCH /v1/members/:id answered ${res.status}; the viewer's membership now has role ${role}`, exchanges };
    },
  }),

  scenario<TestApi, OneTenant & { victim: TestTenant }>({
    control: 'MEMBERSHIP-CONSENT',
    attack: 'an owner invites the email of another tenant\u2019s user, who then appears in the owner\u2019s member list without accepting',
    removal: 'the invitations service is replaced (DI) by one that attaches an existing account as soon as it is invited',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        const [tenant, victim] = await Promise.all([tenantWithPasswords(owner, 'ks-consent', password), createTenant(owner, 'ks-consent-victim')]);
        return { tenant, password, victim };
      }),
    target: (intact) => buildApi(intact ? {} : override(InvitationsService, AttachingInvitations)),
    async run(api, { tenant, password, victim }) {
      const client = new PublicClient(api);
      const { accessToken } = await client.login(tenant.users.owner.email, password);
      const url = '/v1/invitations';
      const body = { email: victim.users.admin.email, role: 'member' };
      const invited = await client.call('POST', url, { token: accessToken, body });
      const members = await client.call('GET', '/v1/members?limit=100', { token: accessToken });
      const listed = members.status === 200 && members.text.includes(victim.users.admin.email);
      const attached = await withOwner(async (owner) => (await owner.query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, victim.users.admin.id])).rowCount ?? 0);
      return {
        succeeded: listed && attached === 1,
        observed: `POST /v1/invitations answered ${invited.status}; the other tenant's user ${listed ? 'is' : 'is not'} in GET /v1/members, memberships in the attacker's tenant: ${attached}`,
        exchanges: [
          exchange({ method: 'POST', url, headers: bearer(accessToken), body }, { ...invited, body: { ...(invited.body as object), token: '(the invitation token, shown once)' } }),
          exchange({ method: 'GET', url: '/v1/members?limit=100', headers: bearer(accessToken) }, members),
        ],
      };
    },
  }),

  scenario<TestApi, OneTenant & { ticketId: string }>({
    control: 'AUTHZ-OBJECT',
    attack: 'a member reads a ticket another member opened (same tenant)',
    removal: 'the ability factory keeps only each rule\u2019s tenant condition (the opened-by / assigned-to conditions are gone)',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        const tenant = await tenantWithPasswords(owner, 'ks-bola', password);
        const ticketId = randomUUID();
        const client = await owner.connect();
        try {
          await client.query('BEGIN');
          await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id]);
          // Opened by the admin, assigned to nobody: not the member's.
          await client.query(`INSERT INTO tickets (tenant_id, id, subject, body, opened_by_id) VALUES ($1, $2, 'Payroll dispute', 'confidential', $3)`, [tenant.id, ticketId, tenant.users.admin.id]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
        return { tenant, password, ticketId };
      }),
    target: (intact) => buildApi(intact ? {} : override(AbilityFactory, TenantOnlyAbilities)),
    async run(api, { tenant, password, ticketId }) {
      const url = `/v1/tickets/${ticketId}`;
      const { res, exchanges } = await publicAttack(api, { email: tenant.users.member.email, password }, 'GET', url);
      return { succeeded: res.status === 200 && (res.body as { id?: string } | undefined)?.id === ticketId, observed: `GET /v1/tickets/:id (another member's ticket) answered ${res.status}`, exchanges };
    },
  }),

  scenario<TestApi, OneTenant & { victim: TestTenant; invoiceId: string }>({
    control: 'TENANT-RLS',
    attack: 'with the CASL tenant condition already lost (a repository bug), an owner reads another tenant\u2019s invoice',
    removal: 'the API connects as a role that bypasses row-level security (DATABASE_APP_URL = the owner role)',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        const [tenant, victim] = await Promise.all([tenantWithPasswords(owner, 'ks-rls', password), createTenant(owner, 'ks-rls-victim')]);
        const invoiceId = await insertInvoice(owner, victim.id, { createdById: victim.users.owner.id });
        return { tenant, password, victim, invoiceId };
      }),
    // Both runs carry the CASL bug; the intact one keeps RLS (the runtime role), the other does not.
    target: (intact) =>
      buildApi({ ...override(AbilityFactory, TenantBlindAbilities), ...(intact ? {} : { env: { DATABASE_APP_URL: process.env.DATABASE_URL! } }) }),
    async run(api, { tenant, password, victim, invoiceId }) {
      const url = `/v1/invoices/${invoiceId}`;
      const { res, exchanges } = await publicAttack(api, { email: tenant.users.owner.email, password }, 'GET', url);
      const leaked = res.status === 200 && (res.body as { id?: string } | undefined)?.id === invoiceId;
      return { succeeded: leaked, observed: `GET /v1/invoices/:id (tenant ${victim.slug}'s invoice, asked by another tenant's owner) answered ${res.status}`, exchanges };
    },
  }),

  scenario<TestApi, OneTenant & { victimEmail: string }>({
    control: 'TENANT-RLS',
    attack: 'a tenant admin invites an email and learns from the answer that it belongs to a member of another tenant',
    removal: 'the API connects as a role that bypasses row-level security (DATABASE_APP_URL = the owner role)',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        const [tenant, victim] = await Promise.all([tenantWithPasswords(owner, 'ks-rls-invite', password), createTenant(owner, 'ks-rls-invite-victim')]);
        return { tenant, password, victimEmail: victim.users.member.email };
      }),
    // No CASL bug here: InvitationsRepository.create asks "is this email already a member?" of the
    // memberships table with only RLS for its tenant condition (libs/members/src/invitations.repository.ts).
    target: (intact) => buildApi(intact ? {} : { env: { DATABASE_APP_URL: process.env.DATABASE_URL! } }),
    async run(api, { tenant, password, victimEmail }) {
      const body = { email: victimEmail, role: 'viewer' };
      const { res, exchanges } = await publicAttack(api, { email: tenant.users.admin.email, password }, 'POST', '/v1/invitations', body);
      const code = (res.body as { code?: string } | undefined)?.code;
      return {
        succeeded: res.status === 409 && code === 'invitation.already_member',
        observed: `POST /v1/invitations of another tenant’s member answered ${res.status}${code ? ` (${code})` : ''}`,
        exchanges,
      };
    },
  }),

  scenario<TestApi, { tenant: TestTenant; key: string }>({
    control: 'AUTHZ-PARTNER-SCOPES',
    attack: 'a partner key granted invoices:read only creates an invoice',
    removal: 'the ability factory ignores the partner client\u2019s scopes (every client acts with every scope)',
    fixtures: () =>
      withOwner(async (owner) => {
        const tenant = await createTenant(owner, 'ks-scopes');
        const { clientId } = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'], name: 'read-only ERP' });
        const { key } = await createPartnerKey(owner, tenant.id, clientId, tenant.users.owner.id);
        return { tenant, key };
      }),
    target: (intact) => buildApi(intact ? {} : override(AbilityFactory, ScopeBlindAbilities)),
    async run(api, { tenant, key }) {
      const url = '/partner/v1/invoices';
      const body = { number: `KS-${randomBytes(3).toString('hex')}`, customer: { name: 'PT Scope' }, lines: [{ description: 'Consulting', quantity: 1, unitPriceMinor: 100000 }] };
      const res = await partnerCall(api, 'post', url, { credential: key, body });
      const created = await withOwner(async (owner) => (await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM invoices WHERE tenant_id = $1 AND number = $2', [tenant.id, body.number])).rows[0]!.n);
      return {
        succeeded: res.status === 201 && created === 1,
        observed: `POST /partner/v1/invoices with an invoices:read key answered ${res.status}; invoices created: ${created}`,
        exchanges: [exchange({ method: 'POST', url, headers: bearer(key), body }, res)],
      };
    },
  }),

  scenario<TestApi, { operatorId: string; slug: string }>({
    control: 'AUTHZ-OPERATOR',
    attack: 'an operator whose roles were all withdrawn lists every tenant of the platform',
    removal: 'the platform ability factory ignores the operator\u2019s roles (every active operator gets platform-admin\u2019s rules)',
    fixtures: () =>
      withOwner(async (owner) => {
        const operatorId = randomUUID();
        await owner.query('INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, $3, $4)', [operatorId, `ks-${operatorId}@benteng.example`, 'Former support operator', []]);
        const { slug } = await createTenant(owner, 'ks-operator');
        return { operatorId, slug };
      }),
    target: (intact) => buildInternalApi(intact ? {} : override(AbilityFactory, RoleBlindPlatformAbilities)),
    async run(api, { operatorId, slug }) {
      const url = '/internal/v1/tenants';
      const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
      const headers = signServiceRequest({ method: 'GET', url, keyId: dev.kid, secret: dev.secret, operatorId });
      const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url, headers });
      const listed = res.statusCode === 200 && res.body.includes(slug);
      // The report shows the signature header names, not a replayable signature.
      const shown = { 'x-benteng-operator': operatorId, 'x-benteng-signature': '(valid HMAC of an internal service key)' };
      return {
        succeeded: listed,
        observed: `GET /internal/v1/tenants by an operator with no role answered ${res.statusCode}${listed ? ', listing every tenant' : ''}`,
        exchanges: [{ ...exchange({ method: 'GET', url }, res, { itemsAre: 'every tenant of the platform' }), request: { method: 'GET', url, headers: shown } }],
      };
    },
  }),

  scenario<TestApi, OneTenant & { owner: string }>({
    control: 'INPUT-VALIDATION',
    attack: 'a member stores markup as an invoice number and customer email (stored XSS for every screen and file that shows them), sending server-owned fields beside it',
    removal: 'the global validation pipe (RequestValidationPipe) passes every body through unchecked',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        const tenant = await tenantWithPasswords(owner, 'ks-mass', password);
        return { tenant, password, owner: tenant.users.owner.id };
      }),
    target: (intact) => buildApi(intact ? {} : override(RequestValidationPipe, NoValidationPipe)),
    async run(api, { tenant, password, owner }) {
      const url = '/v1/invoices';
      // Eight hex digits, so the training report masks it even when it happens to be all digits
      // (apps/dev/security-report.mjs masks 6-7 hex characters only when one is a letter).
      const marker = randomBytes(4).toString('hex');
      const body = {
        number: `<img src=x onerror=alert(${marker})>`,
        customer: { name: 'PT Mass', email: `"><script>alert(${marker})</script>` },
        lines: [],
        status: 'paid',
        tenantId: randomUUID(),
        createdById: owner,
      };
      const { res, exchanges } = await publicAttack(api, { email: tenant.users.member.email, password }, 'POST', url, body);
      const stored = await withOwner(async (o) => (await o.query<{ status: string; created_by_id: string; customer_email: string | null }>('SELECT status, created_by_id, customer_email FROM invoices WHERE tenant_id = $1 AND number = $2', [tenant.id, body.number])).rows[0]);
      // The harm is what the database holds, not the status code: the markup stored as data.
      return {
        succeeded: stored !== undefined,
        observed: `POST /v1/invoices answered ${res.status}${stored ? `; the markup is stored as the invoice number and customer email (status ${stored.status}, created by ${stored.created_by_id === owner ? 'the owner' : 'the member'}: server-owned fields are never copied, unchecked values are)` : '; nothing stored'}`,
        exchanges,
      };
    },
  }),

  scenario<TestApi, OneTenant>({
    control: 'INPUT-VALIDATION',
    attack: 'a user changes their password to a single character',
    removal: 'the global validation pipe (RequestValidationPipe) passes every body through unchecked',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        return { tenant: await tenantWithPasswords(owner, 'ks-weak', password), password };
      }),
    target: (intact) => buildApi(intact ? {} : override(RequestValidationPipe, NoValidationPipe)),
    async run(api, { tenant, password }) {
      const url = '/v1/auth/password';
      const body = { currentPassword: password, newPassword: 'a' };
      const { res, exchanges } = await publicAttack(api, { email: tenant.users.member.email, password }, 'POST', url, body);
      const login = await new PublicClient(api).call('POST', '/v1/auth/login', { body: { email: tenant.users.member.email, password: 'a' } });
      exchanges[0]!.request.body = { currentPassword: '(the current password)', newPassword: 'a' };
      return { succeeded: login.status === 200, observed: `POST /v1/auth/password answered ${res.status}; logging in with the password "a" answered ${login.status}`, exchanges };
    },
  }),

  scenario<TestApi, OneTenant & { invoiceId: string }>({
    control: 'OUTPUT-ALLOWLIST',
    attack: 'a viewer reads the customer\u2019s email and the tenant and creator ids of an invoice',
    removal: 'the invoice response shape (InvoiceResponses) is replaced by a plain serialization of the entity',
    fixtures: () =>
      withOwner(async (owner) => {
        const password = testPassword();
        const tenant = await tenantWithPasswords(owner, 'ks-exposure', password);
        const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
        return { tenant, password, invoiceId };
      }),
    target: (intact) => buildApi(intact ? {} : override(InvoiceResponses, EntityResponses)),
    async run(api, { tenant, password, invoiceId }) {
      const url = `/v1/invoices/${invoiceId}`;
      const { res, exchanges } = await publicAttack(api, { email: tenant.users.viewer.email, password }, 'GET', url);
      const leaked = ['billing@contoh.test', tenant.id, tenant.users.owner.id].filter((value) => res.text.includes(value));
      return { succeeded: res.status === 200 && leaked.length > 0, observed: `GET /v1/invoices/:id as a viewer answered ${res.status} with ${leaked.length} of: customer email, tenant id, creator id`, exchanges };
    },
  }),
];
