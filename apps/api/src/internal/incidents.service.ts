import { Injectable } from '@nestjs/common';
import { AuditLog, AuditVerifier, type ChainVerification } from '@benteng/audit';
import { Clock, UUID_SOURCE } from '@benteng/common';
import { PrismaService, TenantDatabase } from '@benteng/database';
import { AbuseDetector } from '@benteng/security';
import { Scope } from '@benteng/tenancy';

/** `user:<uuid>` or `partner:<uuid>`: the principals abuse blocks and audit actors name. */
export const PRINCIPAL_PATTERN = new RegExp(`^(user|partner):${UUID_SOURCE}$`);

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
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/**
 * Incident tools for operators: abuse blocks, the audit log and the credentials of a principal,
 * across tenants. Cross-tenant reads go through the named SECURITY DEFINER functions of
 * prisma/migrations/20261129080000_incidents (the runtime role sees no other tenant's rows); the
 * one write, lifting a block, runs inside each block's tenant as system:security, under RLS, with
 * a tenant audit event. The controller records every call in the platform audit log.
 */
@Injectable()
export class IncidentTools {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    private readonly verifier: AuditVerifier,
    private readonly detector: AbuseDetector,
    private readonly clock: Clock,
  ) {}

  async blocks(filter: { active?: boolean; principal?: string; ip?: string; limit?: number }): Promise<BlockView[]> {
    const rows = await this.prisma.client.$queryRaw<
      { tenant_id: string; id: string; principal: string; ip: string | null; signal: string; observed: number; threshold: number; window_s: number; blocked_at: Date; expires_at: Date; lifted_at: Date | null; lifted_by: string | null }[]
    >`SELECT tenant_id::text AS tenant_id, id::text AS id, principal, ip, signal, observed, threshold, window_s, blocked_at, expires_at, lifted_at, lifted_by
        FROM internal_list_blocks(${filter.active ?? false}, ${filter.principal ?? null}::text, ${filter.ip ?? null}::text, ${filter.limit ?? 100}::int)`;
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

  /**
   * Ends the block of a principal and/or an address. Redis first (that is what refuses requests),
   * then, for a principal, every active security_blocks row of it is marked lifted (lifted_by
   * `operator:<id>`) in its own tenant, with a security.block_lifted audit event there.
   */
  async lift(target: { principal?: string; ip?: string }, operatorId: string, reason: string, requestId: string): Promise<{ principal?: { redis: boolean; rows: { tenantId: string; id: string }[] }; ip?: { redis: boolean } }> {
    const result: { principal?: { redis: boolean; rows: { tenantId: string; id: string }[] }; ip?: { redis: boolean } } = {};
    if (target.ip !== undefined) result.ip = { redis: await this.detector.lift({ ip: target.ip }) };
    if (target.principal !== undefined) {
      const principal = target.principal;
      const redis = await this.detector.lift({ principal });
      const active = await this.blocks({ active: true, principal, limit: 500 });
      const rows: { tenantId: string; id: string }[] = [];
      const liftedBy = `operator:${operatorId}`;
      for (const tenantId of new Set(active.map((b) => b.tenantId))) {
        const scope = Scope.for(tenantId, { kind: 'system', name: 'security' });
        const now = this.clock.now();
        const ids = active.filter((b) => b.tenantId === tenantId).map((b) => b.id);
        await this.db.run(scope, async (tx) => {
          await tx.securityBlock.updateMany({ where: { tenantId, id: { in: ids }, liftedAt: null }, data: { liftedAt: now, liftedBy } });
          await this.audit.recordIn(tx, tenantId, {
            type: 'security.block_lifted',
            outcome: 'success',
            actor: liftedBy,
            subject: principal,
            requestId,
            data: { blocks: ids.join(','), reason: reason.slice(0, 200) },
          });
        });
        rows.push(...ids.map((id) => ({ tenantId, id })));
      }
      result.principal = { redis, rows };
    }
    return result;
  }

  async searchAudit(search: AuditSearch): Promise<AuditEventView[]> {
    const rows = await this.prisma.client.$queryRaw<
      { tenant_id: string; seq: bigint; occurred_at: Date; type: string; outcome: string; actor: string; subject: string | null; ip: string | null; request_id: string | null; data: unknown }[]
    >`SELECT tenant_id::text AS tenant_id, seq, occurred_at, type, outcome, actor, subject, ip, request_id, data
        FROM internal_search_audit(${search.tenantId ?? null}::uuid, ${search.actor ?? null}::text, ${search.involving ?? null}::text, ${search.ip ?? null}::text,
                                   ${search.type ?? null}::text, ${search.from ?? null}::timestamptz, ${search.to ?? null}::timestamptz, ${search.limit ?? 100}::int)`;
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

  verify(tenantId: string): Promise<ChainVerification> {
    return this.verifier.verify(tenantId);
  }

  async credentials(principal: string): Promise<CredentialView[]> {
    const [kind, id] = principal.split(':') as [string, string];
    const rows = await this.prisma.client.$queryRaw<
      { kind: RevocationKind; tenant_id: string; id: string; parent_id: string | null; label: string | null; created_at: Date; expires_at: Date | null; last_used_at: Date | null }[]
    >`SELECT kind, tenant_id::text AS tenant_id, id::text AS id, parent_id::text AS parent_id, label, created_at, expires_at, last_used_at
        FROM internal_principal_credentials(${kind}::text, ${id}::uuid)`;
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

  /**
   * What happened, who was affected, what to revoke now, for one principal or one address in a
   * window: its audit events in every tenant (as actor or subject; for an address, every event
   * from it), the tenants and objects touched, its blocks, and the credentials still usable by the
   * principal (for an address: by every principal seen acting from it), each with its revoke link.
   */
  async incident(target: { principal?: string; ip?: string }, from: Date, to: Date): Promise<IncidentView> {
    const events = await this.searchAudit({ involving: target.principal, ip: target.ip, from, to, limit: 500 });
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
    return {
      query: { ...(target.principal ? { principal: target.principal } : {}), ...(target.ip ? { ip: target.ip } : {}), from: from.toISOString(), to: to.toISOString() },
      events,
      tenants,
      touched: { subjects, objects: objects.filter((o) => o.notFound.length > 0 || o.read.length > 0) },
      blocks,
      credentials,
    };
  }
}
