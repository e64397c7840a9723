import { uuidv7 } from '@benteng/common';
import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditDataValue, type PlatformAuditEventType } from '@benteng/audit';
import { RevocationStore, type Revocation } from '@benteng/auth';
import type { Action, SubjectName } from '@benteng/authz';
import { OperatorAudit } from './operator-audit.js';
import { OperatorError, OperatorErrorCode } from './operator-error.js';
import { PlatformDatabase, type TenantStatus, type UserStatus } from './platform-database.js';
import type { PlatformScope } from './platform-scope.js';
import { tenantView, type PlatformTenantView } from './platform-tenants.js';

export const REVOCATION_KINDS = ['session', 'user', 'tenant', 'partner_client', 'partner_key'] as const;
export type AdminRevocationKind = (typeof REVOCATION_KINDS)[number];

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
 * function (PlatformDatabase; prisma/migrations/20261129070000_admin), then the revocation markers
 * every public request checks (RevocationStore), then the audit: the platform audit log and the
 * audit log of every tenant concerned, both with the operator as actor and their reason.
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
    private readonly db: PlatformDatabase,
    private readonly revocations: RevocationStore,
    private readonly audit: AuditLog,
    private readonly operatorAudit: OperatorAudit,
  ) {}

  async createTenant(scope: PlatformScope, input: { slug: string; name: string }): Promise<PlatformTenantView> {
    this.require(scope, 'create', 'Tenant');
    const row = await this.db.createTenant(uuidv7(), input.slug, input.name);
    if (!row) throw new OperatorError(OperatorErrorCode.SlugTaken);
    await this.record(scope, 'operator.tenant_created', `tenant:${row.id}`, [row.id], { slug: row.slug });
    return tenantView(row);
  }

  /** Suspend ('suspended') or reactivate ('active') a tenant. */
  async setTenantStatus(scope: PlatformScope, tenantId: string, status: TenantStatus): Promise<{ id: string; status: string; previousStatus: string }> {
    this.require(scope, 'update', 'Tenant', 'status');
    const row = await this.db.setTenantStatus(tenantId, status);
    if (!row) throw new OperatorError(OperatorErrorCode.NotFound);
    // Postgres already says so; the markers make every API instance agree on the next request.
    if (status === 'suspended') await this.revocations.publish([{ kind: 'tenant', id: tenantId }]);
    else await this.revocations.lift({ kind: 'tenant', id: tenantId });
    await this.record(scope, status === 'suspended' ? 'operator.tenant_suspended' : 'operator.tenant_reactivated', `tenant:${tenantId}`, [tenantId], { previousStatus: row.previous_status });
    return { id: tenantId, status, previousStatus: row.previous_status };
  }

  /**
   * Lock ('locked') or unlock ('active') a user. Locking also revokes every session of the user, so
   * unlocking restores access through a new login only.
   */
  async setUserStatus(scope: PlatformScope, userId: string, status: UserStatus): Promise<{ id: string; status: string; previousStatus: string; sessionsRevoked: number }> {
    this.require(scope, 'update', 'User', 'status');
    const row = await this.db.setUserStatus(userId, status);
    if (!row) throw new OperatorError(OperatorErrorCode.NotFound);
    let sessionsRevoked = 0;
    if (status === 'locked') {
      const sessions = await this.revokeUserSessions(userId, 'operator_lock');
      sessionsRevoked = sessions.length;
      await this.revocations.publish([{ kind: 'user', id: userId }, ...sessions]);
    } else {
      await this.revocations.lift({ kind: 'user', id: userId });
    }
    await this.record(scope, status === 'locked' ? 'operator.user_locked' : 'operator.user_unlocked', `user:${userId}`, row.tenant_ids, { previousStatus: row.previous_status, sessionsRevoked });
    return { id: userId, status, previousStatus: row.previous_status, sessionsRevoked };
  }

  /**
   * Revoke one credential now. session / partner_client / partner_key: one record of `tenantId`.
   * user: every live session of the user, in every tenant. tenant: every live session of the tenant.
   * Revoking what is already revoked changes nothing and answers `revoked: false`.
   */
  async revoke(scope: PlatformScope, input: { kind: AdminRevocationKind; id: string; tenantId?: string | undefined }): Promise<{ kind: string; id: string; revoked: boolean; sessionsRevoked?: number }> {
    const [action, subject, field] = REVOCATION_PERMISSION[input.kind];
    this.require(scope, action, subject, field);
    const subjectRef = `${input.kind}:${input.id}`;
    switch (input.kind) {
      case 'session': {
        const tenantId = input.tenantId!;
        const row = await this.db.revokeSession(tenantId, input.id);
        if (!row) throw new OperatorError(OperatorErrorCode.NotFound);
        await this.revocations.publish([{ kind: 'session', id: input.id }]);
        await this.record(scope, 'operator.credential_revoked', subjectRef, [tenantId], { kind: input.kind, wasActive: row.was_active });
        return { kind: input.kind, id: input.id, revoked: row.was_active };
      }
      case 'partner_client':
      case 'partner_key': {
        const tenantId = input.tenantId!;
        const row = await this.db.revokePartnerCredential(input.kind, tenantId, input.id);
        if (!row) throw new OperatorError(OperatorErrorCode.NotFound);
        await this.record(scope, 'operator.credential_revoked', subjectRef, [tenantId], { kind: input.kind, wasActive: row.was_active });
        return { kind: input.kind, id: input.id, revoked: row.was_active };
      }
      case 'user': {
        const sessions = await this.revokeUserSessions(input.id, 'operator_revoked');
        await this.revocations.publish(sessions);
        const tenants = [...new Set(sessions.map((s) => s.tenantId))];
        await this.record(scope, 'operator.credential_revoked', subjectRef, tenants, { kind: input.kind, sessionsRevoked: sessions.length });
        return { kind: input.kind, id: input.id, revoked: sessions.length > 0, sessionsRevoked: sessions.length };
      }
      case 'tenant': {
        if (!(await this.db.tenantExists(input.id))) throw new OperatorError(OperatorErrorCode.NotFound);
        const rows = await this.db.revokeTenantSessions(input.id, 'operator_revoked');
        await this.revocations.publish(rows.map((r) => ({ kind: 'session', id: r.session_id })));
        await this.record(scope, 'operator.credential_revoked', subjectRef, [input.id], { kind: input.kind, sessionsRevoked: rows.length });
        return { kind: input.kind, id: input.id, revoked: rows.length > 0, sessionsRevoked: rows.length };
      }
    }
  }

  private require(scope: PlatformScope, action: Action, subject: SubjectName, field?: string): void {
    if (!scope.ability.can(action, subject, field)) throw new OperatorError(OperatorErrorCode.Forbidden);
  }

  private async revokeUserSessions(userId: string, reason: string): Promise<(Revocation & { tenantId: string })[]> {
    const rows = await this.db.revokeUserSessions(userId, reason);
    return rows.map((r) => ({ kind: 'session' as const, id: r.session_id, tenantId: r.tenant_id }));
  }

  /** The platform audit log, then each tenant concerned: actor operator:<id>, the reason in both. */
  private async record(scope: PlatformScope, type: PlatformAuditEventType & `operator.${string}`, subject: string, tenantIds: readonly string[], data: Record<string, AuditDataValue>): Promise<void> {
    const { reason, ip, requestId } = scope.request;
    const service = scope.principal.service;
    await this.operatorAudit.record(scope, type, subject, { ...data, service, tenants: tenantIds.length });
    for (const tenantId of tenantIds) {
      await this.audit.recordFor(tenantId, {
        type: type as Exclude<typeof type, 'operator.ping'>,
        outcome: 'success',
        actor: scope.actor,
        subject,
        ip,
        requestId,
        data: { ...data, reason: reason ?? null, service },
      });
    }
  }
}
