import { Injectable } from '@nestjs/common';
import { PrismaService } from '@benteng/database';

export type TenantStatus = 'active' | 'suspended';
export type UserStatus = 'active' | 'locked';
export type PartnerCredentialKind = 'partner_client' | 'partner_key';

export interface OperatorRow {
  id: string;
  email: string;
  display_name: string;
  roles: string[];
  status: 'active' | 'disabled';
}

export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  created_at: Date;
}

export interface BlockRow {
  tenant_id: string;
  id: string;
  principal: string;
  ip: string | null;
  signal: string;
  observed: number;
  threshold: number;
  window_s: number;
  blocked_at: Date;
  expires_at: Date;
  lifted_at: Date | null;
  lifted_by: string | null;
}

export interface AuditEventRow {
  tenant_id: string;
  seq: bigint;
  occurred_at: Date;
  type: string;
  outcome: string;
  actor: string;
  subject: string | null;
  ip: string | null;
  request_id: string | null;
  data: unknown;
}

export interface CredentialRow {
  kind: 'session' | PartnerCredentialKind;
  tenant_id: string;
  id: string;
  parent_id: string | null;
  label: string | null;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

export interface MetricsCredentialRow {
  id: string;
  name: string;
  prefix: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

export interface MetricsCredentialSecretRow {
  id: string;
  secret_hash: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

export interface BlockFilter {
  active: boolean;
  principal: string | null;
  ip: string | null;
  limit: number;
}

export interface BreachFilter {
  /** `session:<id>` or `partner_key:<id>`: the credential access records name. */
  credential: string | null;
  principals: string[];
  ips: string[];
  from: Date | null;
  to: Date | null;
  limit: number;
}

export interface BreachRow {
  source: 'access' | 'audit';
  tenant_id: string;
  occurred_at: Date;
  principal: string;
  action: 'read' | 'change';
  record_type: string | null;
  record_id: string | null;
  event_type: string | null;
  subjects: string[];
}

export interface AuditFilter {
  tenantId: string | null;
  actor: string | null;
  involving: string | null;
  ip: string | null;
  type: string | null;
  from: Date | null;
  to: Date | null;
  limit: number;
}

/**
 * The platform's cross-tenant SQL, all of it, one method per named SECURITY DEFINER function
 * (prisma/migrations/20261129070000_admin, 20261129080000_incidents, 20261207130000_metrics_scrape_credentials,
 * 20261207156000_retention_and_access_records
 * and the operator lookup; docs/architecture.md, invariant 4). The runtime role sees no other
 * tenant's rows; these functions return exactly what an operator tool needs, and only the internal
 * listener's role benteng_internal may execute them (20261207140000_internal_role), so this class
 * works in the internal listener only. No other platform code writes SQL.
 */
@Injectable()
export class PlatformDatabase {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Key-ring events in a window, oldest first: emergency revocations (`platform.key_revoked`),
   * jobs refused because their envelope key was revoked (`platform.job_refused`) and re-encryption
   * runs (`platform.data_reencrypted`). The runtime role reads platform_audit_events
   * itself (prisma/migrations/20261129060000_internal), so no function is needed.
   */
  keyEvents(from: Date, to: Date, limit: number): Promise<{ occurredAt: Date; type: string; outcome: string; actor: string; subject: string | null; data: unknown }[]> {
    return this.prisma.client.platformAuditEvent.findMany({
      where: { type: { in: ['platform.key_revoked', 'platform.job_refused', 'platform.data_reencrypted'] }, occurredAt: { gte: from, lt: to } },
      orderBy: [{ occurredAt: 'asc' }, { id: 'asc' }],
      take: limit,
      select: { occurredAt: true, type: true, outcome: true, actor: true, subject: true, data: true },
    });
  }

  /** internal_operator_lookup: one operator record (the runtime role has no grant on operators). */
  async findOperator(operatorId: string): Promise<OperatorRow | undefined> {
    const [row] = await this.prisma.client.$queryRaw<OperatorRow[]>`
      SELECT id::text AS id, email, display_name, roles, status::text AS status FROM internal_operator_lookup(${operatorId}::uuid)`;
    return row;
  }

  /** internal_list_tenants: every tenant, its public columns only. */
  listTenants(): Promise<TenantRow[]> {
    return this.prisma.client.$queryRaw<TenantRow[]>`
      SELECT id::text AS id, slug, name, status::text AS status, created_at FROM internal_list_tenants()`;
  }

  /** internal_list_tenants, one id: whether the tenant exists. */
  async tenantExists(tenantId: string): Promise<boolean> {
    const rows = await this.prisma.client.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM internal_list_tenants() WHERE id = ${tenantId}::uuid`;
    return rows[0] !== undefined;
  }

  /** internal_create_tenant: the new tenant, or undefined when the slug is taken. */
  async createTenant(id: string, slug: string, name: string): Promise<TenantRow | undefined> {
    const [row] = await this.prisma.client.$queryRaw<TenantRow[]>`
      SELECT id::text AS id, slug, name, status::text AS status, created_at FROM internal_create_tenant(${id}::uuid, ${slug}, ${name})`;
    return row;
  }

  /** internal_set_tenant_status: the status before, or undefined for an unknown tenant. */
  async setTenantStatus(tenantId: string, status: TenantStatus): Promise<{ previous_status: string } | undefined> {
    const [row] = await this.prisma.client.$queryRaw<{ previous_status: string }[]>`
      SELECT previous_status::text AS previous_status FROM internal_set_tenant_status(${tenantId}::uuid, ${status}::tenant_status)`;
    return row;
  }

  /** internal_set_user_status: the status before and the user's tenants, or undefined for an unknown user. */
  async setUserStatus(userId: string, status: UserStatus): Promise<{ previous_status: string; tenant_ids: string[] } | undefined> {
    const [row] = await this.prisma.client.$queryRaw<{ previous_status: string; tenant_ids: string[] }[]>`
      SELECT previous_status::text AS previous_status, tenant_ids::text[] AS tenant_ids FROM internal_set_user_status(${userId}::uuid, ${status}::user_status)`;
    return row;
  }

  /** internal_revoke_session (reason operator_revoked): whether the session was live, or undefined when the tenant has no such session. */
  async revokeSession(tenantId: string, sessionId: string): Promise<{ was_active: boolean } | undefined> {
    const [row] = await this.prisma.client.$queryRaw<{ was_active: boolean }[]>`
      SELECT was_active FROM internal_revoke_session(${tenantId}::uuid, ${sessionId}::uuid, 'operator_revoked')`;
    return row;
  }

  /** internal_revoke_partner_credential: whether the client or key was live, or undefined when unknown. */
  async revokePartnerCredential(kind: PartnerCredentialKind, tenantId: string, id: string): Promise<{ was_active: boolean } | undefined> {
    const [row] = await this.prisma.client.$queryRaw<{ was_active: boolean }[]>`
      SELECT was_active FROM internal_revoke_partner_credential(${kind}, ${tenantId}::uuid, ${id}::uuid)`;
    return row;
  }

  /** auth_revoke_user_sessions: every live session of the user, in every tenant, revoked now. */
  revokeUserSessions(userId: string, reason: string): Promise<{ tenant_id: string; session_id: string }[]> {
    return this.prisma.client.$queryRaw<{ tenant_id: string; session_id: string }[]>`
      SELECT tenant_id::text AS tenant_id, session_id::text AS session_id FROM auth_revoke_user_sessions(${userId}::uuid, NULL, NULL, ${reason})`;
  }

  /** internal_revoke_tenant_sessions: every live session of the tenant, revoked now. */
  revokeTenantSessions(tenantId: string, reason: string): Promise<{ session_id: string }[]> {
    return this.prisma.client.$queryRaw<{ session_id: string }[]>`
      SELECT session_id::text AS session_id FROM internal_revoke_tenant_sessions(${tenantId}::uuid, ${reason})`;
  }

  /** internal_list_blocks: abuse blocks of every tenant, newest first. */
  listBlocks(filter: BlockFilter): Promise<BlockRow[]> {
    return this.prisma.client.$queryRaw<BlockRow[]>`
      SELECT tenant_id::text AS tenant_id, id::text AS id, principal, ip, signal, observed, threshold, window_s, blocked_at, expires_at, lifted_at, lifted_by
        FROM internal_list_blocks(${filter.active}, ${filter.principal}::text, ${filter.ip}::text, ${filter.limit}::int)`;
  }

  /** internal_search_audit: audit events of every tenant (or one), filtered. */
  searchAudit(filter: AuditFilter): Promise<AuditEventRow[]> {
    return this.prisma.client.$queryRaw<AuditEventRow[]>`
      SELECT tenant_id::text AS tenant_id, seq, occurred_at, type, outcome, actor, subject, ip, request_id, data
        FROM internal_search_audit(${filter.tenantId}::uuid, ${filter.actor}::text, ${filter.involving}::text, ${filter.ip}::text,
                                   ${filter.type}::text, ${filter.from}::timestamptz, ${filter.to}::timestamptz, ${filter.limit}::int)`;
  }

  /** internal_breach_scope: the access records and audit events of a credential, principals or addresses, with the data subjects of each record. */
  breachScope(filter: BreachFilter): Promise<BreachRow[]> {
    return this.prisma.client.$queryRaw<BreachRow[]>`
      SELECT source, tenant_id::text AS tenant_id, occurred_at, principal, action, record_type, record_id, event_type, subjects
        FROM internal_breach_scope(${filter.credential}::text, ${filter.principals}::text[], ${filter.ips}::text[],
                                   ${filter.from}::timestamptz, ${filter.to}::timestamptz, ${filter.limit}::int)`;
  }

  /** internal_principal_credentials: the credentials still usable by `user:<id>` or `partner:<id>`. */
  principalCredentials(kind: string, id: string): Promise<CredentialRow[]> {
    return this.prisma.client.$queryRaw<CredentialRow[]>`
      SELECT kind, tenant_id::text AS tenant_id, id::text AS id, parent_id::text AS parent_id, label, created_at, expires_at, last_used_at
        FROM internal_principal_credentials(${kind}::text, ${id}::uuid)`;
  }

  /** internal_create_metrics_credential: the new scrape credential (its hash is never read back). */
  async createMetricsCredential(id: string, name: string, prefix: string, hash: string, operatorId: string, expiresAt: Date | null): Promise<MetricsCredentialRow> {
    const [row] = await this.prisma.client.$queryRaw<MetricsCredentialRow[]>`
      SELECT id::text AS id, name, prefix, created_by::text AS created_by, created_at, expires_at, revoked_at, last_used_at
        FROM internal_create_metrics_credential(${id}::uuid, ${name}, ${prefix}, ${hash}, ${operatorId}::uuid, ${expiresAt}::timestamptz)`;
    return row!;
  }

  /** internal_list_metrics_credentials: every scrape credential, oldest first, without hashes. */
  listMetricsCredentials(): Promise<MetricsCredentialRow[]> {
    return this.prisma.client.$queryRaw<MetricsCredentialRow[]>`
      SELECT id::text AS id, name, prefix, created_by::text AS created_by, created_at, expires_at, revoked_at, last_used_at
        FROM internal_list_metrics_credentials()`;
  }

  /** internal_revoke_metrics_credential: whether it was active, or undefined for an unknown id. */
  async revokeMetricsCredential(id: string): Promise<{ was_active: boolean } | undefined> {
    const [row] = await this.prisma.client.$queryRaw<{ was_active: boolean }[]>`SELECT was_active FROM internal_revoke_metrics_credential(${id}::uuid)`;
    return row;
  }

  /** metrics_credential_lookup: the credential a presented prefix names, with its hash, for the gate. */
  async findMetricsCredential(prefix: string): Promise<MetricsCredentialSecretRow | undefined> {
    const [row] = await this.prisma.client.$queryRaw<MetricsCredentialSecretRow[]>`
      SELECT id::text AS id, secret_hash, expires_at, revoked_at, last_used_at FROM metrics_credential_lookup(${prefix})`;
    return row;
  }

  /** metrics_credential_used: last_used_at, at most once a minute. */
  async markMetricsCredentialUsed(id: string): Promise<void> {
    await this.prisma.client.$executeRaw`SELECT metrics_credential_used(${id}::uuid)`;
  }
}
