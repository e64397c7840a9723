import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditLog, PlatformAuditLog, type AuditDataValue, type PlatformAuditEventType } from '@benteng/audit';
import { RevocationStore, type Revocation } from '@benteng/auth';
import { principalId, type Action, type SubjectName } from '@benteng/authz';
import { DomainError } from '@benteng/common';
import { PrismaService } from '@benteng/database';
import type { OperatorContext } from './internal-auth.js';

export enum AdminErrorCode {
  Forbidden = 'operator.forbidden',
  NotFound = 'operator.not_found',
  SlugTaken = 'operator.slug_taken',
}

const ADMIN_MESSAGES: Record<AdminErrorCode, string> = {
  [AdminErrorCode.Forbidden]: 'The operator may not perform this action.',
  [AdminErrorCode.NotFound]: 'No such record.',
  [AdminErrorCode.SlugTaken]: 'A tenant with this slug already exists.',
};

export class AdminError extends DomainError<AdminErrorCode> {
  readonly kind;

  constructor(code: AdminErrorCode) {
    super(code, ADMIN_MESSAGES[code]);
    this.kind = code === AdminErrorCode.Forbidden ? ('forbidden' as const) : code === AdminErrorCode.NotFound ? ('not_found' as const) : ('conflict' as const);
  }
}

/** Who acts, why, and from where: every admin action is audited with all of it. */
export interface AdminCall {
  readonly operator: OperatorContext;
  readonly ip: string;
  readonly requestId: string;
}

export const REVOCATION_KINDS = ['session', 'user', 'tenant', 'partner_client', 'partner_key'] as const;
export type AdminRevocationKind = (typeof REVOCATION_KINDS)[number];

export interface TenantView {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended';
  createdAt: string;
}

/** The field each revocation kind changes, as the operator's ability must allow it. */
const REVOCATION_PERMISSION: Record<AdminRevocationKind, [Action, SubjectName, string]> = {
  session: ['update', 'Session', 'revokedAt'],
  user: ['update', 'Session', 'revokedAt'],
  tenant: ['update', 'Session', 'revokedAt'],
  partner_client: ['update', 'PartnerClient', 'revokedAt'],
  partner_key: ['update', 'PartnerApiKey', 'revokedAt'],
};

/**
 * Operator admin actions (issue #7): create, suspend and reactivate tenants; lock and unlock users;
 * revoke sessions and partner credentials. Each change goes through one named SECURITY DEFINER
 * function (prisma/migrations/20261129070000_admin), then the revocation markers every public
 * request checks (RevocationStore), then the audit: the platform audit log and the audit log of
 * every tenant concerned, both with the operator as actor and their reason.
 *
 * Where suspension reaches: user requests (tenant marker, and Postgres's tenants.status on the
 * fallback path), partner requests (partner_key_lookup / partner_client_lookup read the tenant's
 * status on every request), queued jobs (JobActors re-reads the tenant before running one).
 *
 * The ability is checked here as well as at the route, so a caller that forgets the route
 * declaration still fails closed.
 */
@Injectable()
export class InternalAdmin {
  constructor(
    private readonly prisma: PrismaService,
    private readonly revocations: RevocationStore,
    private readonly audit: AuditLog,
    private readonly platformAudit: PlatformAuditLog,
  ) {}

  async createTenant(call: AdminCall, input: { slug: string; name: string }): Promise<TenantView> {
    this.require(call, 'create', 'Tenant');
    const rows = await this.prisma.client.$queryRaw<{ id: string; slug: string; name: string; status: 'active' | 'suspended'; created_at: Date }[]>`
      SELECT id::text AS id, slug, name, status::text AS status, created_at FROM internal_create_tenant(${uuidv7()}::uuid, ${input.slug}, ${input.name})`;
    const row = rows[0];
    if (!row) throw new AdminError(AdminErrorCode.SlugTaken);
    await this.record(call, 'operator.tenant_created', `tenant:${row.id}`, [row.id], { slug: row.slug });
    return { id: row.id, slug: row.slug, name: row.name, status: row.status, createdAt: row.created_at.toISOString() };
  }

  /** Suspend ('suspended') or reactivate ('active') a tenant. */
  async setTenantStatus(call: AdminCall, tenantId: string, status: 'active' | 'suspended'): Promise<{ id: string; status: string; previousStatus: string }> {
    this.require(call, 'update', 'Tenant', 'status');
    const rows = await this.prisma.client.$queryRaw<{ previous_status: string }[]>`
      SELECT previous_status::text AS previous_status FROM internal_set_tenant_status(${tenantId}::uuid, ${status}::tenant_status)`;
    const row = rows[0];
    if (!row) throw new AdminError(AdminErrorCode.NotFound);
    // Postgres already says so; the markers make every API instance agree on the next request.
    if (status === 'suspended') await this.revocations.publish([{ kind: 'tenant', id: tenantId }]);
    else await this.revocations.lift({ kind: 'tenant', id: tenantId });
    await this.record(call, status === 'suspended' ? 'operator.tenant_suspended' : 'operator.tenant_reactivated', `tenant:${tenantId}`, [tenantId], { previousStatus: row.previous_status });
    return { id: tenantId, status, previousStatus: row.previous_status };
  }

  /**
   * Lock ('locked') or unlock ('active') a user. Locking also revokes every session of the user, so
   * unlocking restores access through a new login only.
   */
  async setUserStatus(call: AdminCall, userId: string, status: 'active' | 'locked'): Promise<{ id: string; status: string; previousStatus: string; sessionsRevoked: number }> {
    this.require(call, 'update', 'User', 'status');
    const rows = await this.prisma.client.$queryRaw<{ previous_status: string; tenant_ids: string[] }[]>`
      SELECT previous_status::text AS previous_status, tenant_ids::text[] AS tenant_ids FROM internal_set_user_status(${userId}::uuid, ${status}::user_status)`;
    const row = rows[0];
    if (!row) throw new AdminError(AdminErrorCode.NotFound);
    let sessionsRevoked = 0;
    if (status === 'locked') {
      const sessions = await this.revokeUserSessions(userId, 'operator_lock');
      sessionsRevoked = sessions.length;
      await this.revocations.publish([{ kind: 'user', id: userId }, ...sessions]);
    } else {
      await this.revocations.lift({ kind: 'user', id: userId });
    }
    await this.record(call, status === 'locked' ? 'operator.user_locked' : 'operator.user_unlocked', `user:${userId}`, row.tenant_ids, { previousStatus: row.previous_status, sessionsRevoked });
    return { id: userId, status, previousStatus: row.previous_status, sessionsRevoked };
  }

  /**
   * Revoke one credential now. session / partner_client / partner_key: one record of `tenantId`.
   * user: every live session of the user, in every tenant. tenant: every live session of the tenant.
   * Revoking what is already revoked changes nothing and answers `revoked: false`.
   */
  async revoke(call: AdminCall, input: { kind: AdminRevocationKind; id: string; tenantId?: string | undefined }): Promise<{ kind: string; id: string; revoked: boolean; sessionsRevoked?: number }> {
    const [action, subject, field] = REVOCATION_PERMISSION[input.kind];
    this.require(call, action, subject, field);
    const subjectRef = `${input.kind}:${input.id}`;
    switch (input.kind) {
      case 'session': {
        const tenantId = input.tenantId!;
        const rows = await this.prisma.client.$queryRaw<{ was_active: boolean }[]>`
          SELECT was_active FROM internal_revoke_session(${tenantId}::uuid, ${input.id}::uuid, 'operator_revoked')`;
        if (!rows[0]) throw new AdminError(AdminErrorCode.NotFound);
        await this.revocations.publish([{ kind: 'session', id: input.id }]);
        await this.record(call, 'operator.credential_revoked', subjectRef, [tenantId], { kind: input.kind, wasActive: rows[0].was_active });
        return { kind: input.kind, id: input.id, revoked: rows[0].was_active };
      }
      case 'partner_client':
      case 'partner_key': {
        const tenantId = input.tenantId!;
        const rows = await this.prisma.client.$queryRaw<{ was_active: boolean }[]>`
          SELECT was_active FROM internal_revoke_partner_credential(${input.kind}, ${tenantId}::uuid, ${input.id}::uuid)`;
        if (!rows[0]) throw new AdminError(AdminErrorCode.NotFound);
        await this.record(call, 'operator.credential_revoked', subjectRef, [tenantId], { kind: input.kind, wasActive: rows[0].was_active });
        return { kind: input.kind, id: input.id, revoked: rows[0].was_active };
      }
      case 'user': {
        const sessions = await this.revokeUserSessions(input.id, 'operator_revoked');
        await this.revocations.publish(sessions);
        const tenants = [...new Set(sessions.map((s) => s.tenantId))];
        await this.record(call, 'operator.credential_revoked', subjectRef, tenants, { kind: input.kind, sessionsRevoked: sessions.length });
        return { kind: input.kind, id: input.id, revoked: sessions.length > 0, sessionsRevoked: sessions.length };
      }
      case 'tenant': {
        const known = await this.prisma.client.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM internal_list_tenants() WHERE id = ${input.id}::uuid`;
        if (!known[0]) throw new AdminError(AdminErrorCode.NotFound);
        const rows = await this.prisma.client.$queryRaw<{ session_id: string }[]>`
          SELECT session_id::text AS session_id FROM internal_revoke_tenant_sessions(${input.id}::uuid, 'operator_revoked')`;
        await this.revocations.publish(rows.map((r) => ({ kind: 'session', id: r.session_id })));
        await this.record(call, 'operator.credential_revoked', subjectRef, [input.id], { kind: input.kind, sessionsRevoked: rows.length });
        return { kind: input.kind, id: input.id, revoked: rows.length > 0, sessionsRevoked: rows.length };
      }
    }
  }

  private require(call: AdminCall, action: Action, subject: SubjectName, field?: string): void {
    if (!call.operator.ability.can(action, subject, field)) throw new AdminError(AdminErrorCode.Forbidden);
  }

  private async revokeUserSessions(userId: string, reason: string): Promise<(Revocation & { tenantId: string })[]> {
    const rows = await this.prisma.client.$queryRaw<{ tenant_id: string; session_id: string }[]>`
      SELECT tenant_id::text AS tenant_id, session_id::text AS session_id FROM auth_revoke_user_sessions(${userId}::uuid, NULL, NULL, ${reason})`;
    return rows.map((r) => ({ kind: 'session' as const, id: r.session_id, tenantId: r.tenant_id }));
  }

  /** The platform audit log, then each tenant concerned: actor operator:<id>, the reason in both. */
  private async record(call: AdminCall, type: PlatformAuditEventType & `operator.${string}`, subject: string, tenantIds: readonly string[], data: Record<string, AuditDataValue>): Promise<void> {
    const actor = principalId(call.operator.principal);
    const reason = call.operator.reason;
    const service = call.operator.principal.service;
    await this.platformAudit.record({
      type,
      outcome: 'success',
      actor,
      subject,
      reason,
      ip: call.ip,
      requestId: call.requestId,
      data: { ...data, service, tenants: tenantIds.length },
    });
    for (const tenantId of tenantIds) {
      await this.audit.recordFor(tenantId, {
        type: type as Exclude<typeof type, 'operator.ping'>,
        outcome: 'success',
        actor,
        subject,
        ip: call.ip,
        requestId: call.requestId,
        data: { ...data, reason: reason ?? null, service },
      });
    }
  }
}

/** A UUIDv7 (RFC 9562), as the schema's ids are: 48 bits of Unix milliseconds, then random bits. */
function uuidv7(ms = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
