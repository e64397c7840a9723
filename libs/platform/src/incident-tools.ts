import { Injectable } from '@nestjs/common';
import { AuditLog, AuditVerifier, type AuditDataValue, type ChainVerification, type PlatformAuditEventType } from '@benteng/audit';
import type { Action, SubjectName } from '@benteng/authz';
import { Clock, UUID_SOURCE } from '@benteng/common';
import { TenantDatabase } from '@benteng/database';
import { AbuseDetector } from '@benteng/security';
import { Scope } from '@benteng/tenancy';
import { OperatorAudit } from './operator-audit.js';
import { OperatorError, OperatorErrorCode } from './operator-error.js';
import { PlatformDatabase } from './platform-database.js';
import type { PlatformScope } from './platform-scope.js';

/** `user:<uuid>` or `partner:<uuid>`: the principals abuse blocks and audit actors name. */
export const PRINCIPAL_PATTERN = new RegExp(`^(user|partner):${UUID_SOURCE}$`);

/** Without `from`, the incident view looks back this far. */
const DEFAULT_INCIDENT_WINDOW_MS = 24 * 3600 * 1000;

export interface BlockView {
  tenantId: string;
  id: string;
  principal: string;
  ip: string | null;
  signal: string;
  observed: number;
  threshold: number;
  windowS: number;
  blockedAt: string;
  expiresAt: string;
  liftedAt: string | null;
  liftedBy: string | null;
  active: boolean;
}

export interface AuditEventView {
  tenantId: string;
  seq: number;
  occurredAt: string;
  type: string;
  outcome: string;
  actor: string;
  subject: string | null;
  ip: string | null;
  requestId: string | null;
  data: unknown;
}

export interface AuditSearch {
  tenantId?: string | undefined;
  actor?: string | undefined;
  involving?: string | undefined;
  ip?: string | undefined;
  type?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit?: number | undefined;
}

/** One principal or one address (exactly one), as the block and incident routes take them. */
export interface IncidentTarget {
  principal?: string | undefined;
  ip?: string | undefined;
}

export type RevocationKind = 'session' | 'partner_client' | 'partner_key';

/** A credential still usable, and how to revoke it (the revocations route of the internal listener). */
export interface CredentialView {
  kind: RevocationKind;
  tenantId: string;
  id: string;
  clientId?: string;
  label: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoke: { method: 'POST'; path: '/internal/v1/revocations'; body: { kind: RevocationKind; id: string; tenantId: string } };
}

export interface IncidentView {
  query: { principal?: string; ip?: string; from: string; to: string };
  events: AuditEventView[];
  tenants: string[];
  touched: {
    /** Subjects of the audit events (what was acted on), the principal itself aside. */
    subjects: string[];
    /** Object ids from the abuse detector's counters (see AbuseDetector.recentObjects), per principal. */
    objects: { principal: string; notFound: string[]; read: string[] }[];
  };
  blocks: BlockView[];
  credentials: (CredentialView & { principal: string })[];
  /**
   * Key events of the platform in the window, whoever the target: emergency key revocations (what
   * the revoked key protected: its family, kid and signing window) and data re-encryption runs
   * (docs/operations.md, "Key rotation"). A suspected key exposure is an incident of its own.
   */
  keys: { at: string; type: string; outcome: string; actor: string; subject: string | null; data: Record<string, unknown> }[];
}

export interface LiftResult {
  principal?: { redis: boolean; rows: { tenantId: string; id: string }[] };
  ip?: { redis: boolean };
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/**
 * Incident tools for operators: abuse blocks, the audit log and the credentials of a principal,
 * across tenants. Cross-tenant reads go through the named SECURITY DEFINER functions of
 * prisma/migrations/20261129080000_incidents (PlatformDatabase; the runtime role sees no other
 * tenant's rows); the one write, lifting a block, runs inside each block's tenant as
 * system:security, under RLS, with a tenant audit event. Every call is recorded in the platform
 * audit log with its filters, the operator and (for the lift) the reason. The ability is checked
 * here as well as at the route.
 */
@Injectable()
export class IncidentTools {
  constructor(
    private readonly platformDb: PlatformDatabase,
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    private readonly operatorAudit: OperatorAudit,
    private readonly verifier: AuditVerifier,
    private readonly detector: AbuseDetector,
    private readonly clock: Clock,
  ) {}

  async listBlocks(scope: PlatformScope, query: { active: boolean; limit: number }): Promise<BlockView[]> {
    this.require(scope, 'read', 'SecurityBlock');
    const items = await this.blocks(query);
    await this.record(scope, 'internal.blocks_listed', 'security_blocks', { active: query.active, count: items.length });
    return items;
  }

  /**
   * Ends the block of a principal and/or an address. Redis first (that is what refuses requests),
   * then, for a principal, every active security_blocks row of it is marked lifted (lifted_by
   * `operator:<id>`) in its own tenant, with a security.block_lifted audit event there.
   */
  async lift(scope: PlatformScope, target: IncidentTarget): Promise<LiftResult> {
    this.require(scope, 'update', 'SecurityBlock');
    const result: LiftResult = {};
    const reason = scope.request.reason ?? '';
    if (target.ip !== undefined) result.ip = { redis: await this.detector.lift({ ip: target.ip }) };
    if (target.principal !== undefined) {
      const principal = target.principal;
      const redis = await this.detector.lift({ principal });
      const active = await this.blocks({ active: true, principal, limit: 500 });
      const rows: { tenantId: string; id: string }[] = [];
      const liftedBy = `operator:${scope.operatorId}`;
      for (const tenantId of new Set(active.map((b) => b.tenantId))) {
        const tenantScope = Scope.for(tenantId, { kind: 'system', name: 'security' });
        const now = this.clock.now();
        const ids = active.filter((b) => b.tenantId === tenantId).map((b) => b.id);
        await this.db.run(tenantScope, async (tx) => {
          await tx.securityBlock.updateMany({ where: { tenantId, id: { in: ids }, liftedAt: null }, data: { liftedAt: now, liftedBy } });
          await this.audit.recordIn(tx, tenantId, {
            type: 'security.block_lifted',
            outcome: 'success',
            actor: liftedBy,
            subject: principal,
            requestId: scope.request.requestId,
            data: { blocks: ids.join(','), reason: reason.slice(0, 200) },
          });
        });
        rows.push(...ids.map((id) => ({ tenantId, id })));
      }
      result.principal = { redis, rows };
    }
    await this.record(scope, 'internal.block_lifted', target.principal ?? `ip:${target.ip}`, {
      principal: target.principal ?? null,
      blockedIp: target.ip ?? null,
      redisPrincipal: result.principal?.redis ?? null,
      redisIp: result.ip?.redis ?? null,
      rows: result.principal?.rows.length ?? 0,
    });
    return result;
  }

  async searchAudit(scope: PlatformScope, search: AuditSearch): Promise<AuditEventView[]> {
    this.require(scope, 'read', 'PlatformAuditEvent');
    const items = await this.events(search);
    await this.record(scope, 'internal.audit_searched', search.tenantId ? `tenant:${search.tenantId}` : 'audit_events', {
      tenantId: search.tenantId ?? null,
      actor: search.actor ?? null,
      auditType: search.type ?? null,
      from: search.from?.toISOString() ?? null,
      to: search.to?.toISOString() ?? null,
      count: items.length,
    });
    return items;
  }

  async verify(scope: PlatformScope, tenantId: string): Promise<ChainVerification> {
    this.require(scope, 'read', 'PlatformAuditEvent');
    const result = await this.verifier.verify(tenantId);
    await this.record(scope, 'internal.audit_verified', `tenant:${tenantId}`, {
      ok: result.ok,
      count: result.count,
      ...(result.ok ? {} : { seq: result.seq, problem: result.problem }),
    });
    return result;
  }

  /**
   * What happened, who was affected, what to revoke now, for one principal or one address in a
   * window (by default the 24 hours up to now): its audit events in every tenant (as actor or
   * subject; for an address, every event from it), the tenants and objects touched, its blocks,
   * and the credentials still usable by the principal (for an address: by every principal seen
   * acting from it), each with its revoke link.
   */
  async incident(scope: PlatformScope, target: IncidentTarget, window: { from?: Date | undefined; to?: Date | undefined }): Promise<IncidentView> {
    this.require(scope, 'read', 'PlatformAuditEvent');
    const to = window.to ?? new Date();
    const from = window.from ?? new Date(to.getTime() - DEFAULT_INCIDENT_WINDOW_MS);
    const events = await this.events({ involving: target.principal, ip: target.ip, from, to, limit: 500 });
    const blocks = (await this.blocks({ principal: target.principal, ip: target.ip, limit: 500 })).filter(
      (b) => new Date(b.blockedAt) < to && (b.liftedAt === null || new Date(b.liftedAt) >= from) && new Date(b.expiresAt) >= from,
    );
    const principals = target.principal
      ? [target.principal]
      : [...new Set([...events.map((e) => e.actor), ...blocks.map((b) => b.principal)].filter((p) => PRINCIPAL_PATTERN.test(p)))].slice(0, 20);
    const tenants = [...new Set([...events.map((e) => e.tenantId), ...blocks.map((b) => b.tenantId)])].sort();
    const subjects = [...new Set(events.map((e) => e.subject).filter((s): s is string => s !== null && s !== target.principal))].sort();
    const objects = await Promise.all(principals.map(async (principal) => ({ principal, ...(await this.detector.recentObjects(principal)) })));
    const credentials = (await Promise.all(principals.map(async (principal) => (await this.credentials(principal)).map((c) => ({ ...c, principal }))))).flat();
    const keys = (await this.platformDb.keyEvents(from, to, 100)).map((e) => ({ at: e.occurredAt.toISOString(), type: e.type, outcome: e.outcome, actor: e.actor, subject: e.subject, data: e.data as Record<string, unknown> }));
    const view: IncidentView = {
      query: { ...(target.principal ? { principal: target.principal } : {}), ...(target.ip ? { ip: target.ip } : {}), from: from.toISOString(), to: to.toISOString() },
      events,
      tenants,
      touched: { subjects, objects: objects.filter((o) => o.notFound.length > 0 || o.read.length > 0) },
      blocks,
      credentials,
      keys,
    };
    await this.record(scope, 'internal.incident_viewed', target.principal ?? `ip:${target.ip}`, {
      from: view.query.from,
      to: view.query.to,
      events: view.events.length,
      tenants: view.tenants.length,
      credentials: view.credentials.length,
      keyEvents: view.keys.length,
    });
    return view;
  }

  private async blocks(filter: { active?: boolean; principal?: string | undefined; ip?: string | undefined; limit?: number }): Promise<BlockView[]> {
    const rows = await this.platformDb.listBlocks({ active: filter.active ?? false, principal: filter.principal ?? null, ip: filter.ip ?? null, limit: filter.limit ?? 100 });
    const now = this.clock.now().getTime();
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      id: r.id,
      principal: r.principal,
      ip: r.ip,
      signal: r.signal,
      observed: r.observed,
      threshold: r.threshold,
      windowS: r.window_s,
      blockedAt: r.blocked_at.toISOString(),
      expiresAt: r.expires_at.toISOString(),
      liftedAt: iso(r.lifted_at),
      liftedBy: r.lifted_by,
      active: r.lifted_at === null && r.expires_at.getTime() > now,
    }));
  }

  private async events(search: AuditSearch): Promise<AuditEventView[]> {
    const rows = await this.platformDb.searchAudit({
      tenantId: search.tenantId ?? null,
      actor: search.actor ?? null,
      involving: search.involving ?? null,
      ip: search.ip ?? null,
      type: search.type ?? null,
      from: search.from ?? null,
      to: search.to ?? null,
      limit: search.limit ?? 100,
    });
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      seq: Number(r.seq),
      occurredAt: r.occurred_at.toISOString(),
      type: r.type,
      outcome: r.outcome,
      actor: r.actor,
      subject: r.subject,
      ip: r.ip,
      requestId: r.request_id,
      data: r.data,
    }));
  }

  private async credentials(principal: string): Promise<CredentialView[]> {
    const [kind, id] = principal.split(':') as [string, string];
    const rows = await this.platformDb.principalCredentials(kind, id);
    return rows.map((r) => ({
      kind: r.kind,
      tenantId: r.tenant_id,
      id: r.id,
      ...(r.parent_id ? { clientId: r.parent_id } : {}),
      label: r.label,
      createdAt: r.created_at.toISOString(),
      expiresAt: iso(r.expires_at),
      lastUsedAt: iso(r.last_used_at),
      revoke: { method: 'POST', path: '/internal/v1/revocations', body: { kind: r.kind, id: r.id, tenantId: r.tenant_id } },
    }));
  }

  private require(scope: PlatformScope, action: Action, subject: SubjectName): void {
    if (!scope.ability.can(action, subject)) throw new OperatorError(OperatorErrorCode.Forbidden);
  }

  private record(scope: PlatformScope, type: PlatformAuditEventType, subject: string, data: Record<string, AuditDataValue>): Promise<void> {
    return this.operatorAudit.record(scope, type, subject, { service: scope.principal.service, ...data });
  }
}
