import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { accessibleWhere } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { appendDomainEvent, keysetWhere, TenantDatabase, type Keyset, type Prisma, type SecurityBlock } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import type { PlacedBlock } from './abuse-detector.js';

/**
 * A block as tenant admins see it: a blocked user is named by their membership in this tenant
 * (global user ids never leave the API), a partner client by its id.
 */
export type SecurityBlockView = SecurityBlock & {
  subject: { kind: 'member'; memberId: string | null } | { kind: 'partner_client'; clientId: string };
};

export interface SecurityBlockListQuery {
  limit: number;
  /** Only blocks still in force (not expired, not lifted). */
  active?: boolean;
  after?: Keyset;
}

/**
 * What happens when the abuse detector blocks a principal: the block is recorded in the
 * principal's tenant (security_blocks, for GET /v1/security/blocks and the operators' tools),
 * audited as security.principal_blocked, logged at warn, and announced to the tenant's admins
 * through the outbox event `security.principal_blocked` (delivered by webhooks), all in one
 * transaction. A block on an address alone has no tenant: it is logged.
 */
@Injectable()
export class SecurityBlocks {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(SecurityBlocks.name);
  }

  async placed(block: PlacedBlock, requestId?: string): Promise<void> {
    const subject = block.subject.kind === 'principal' ? block.subject.principal : `ip:${block.subject.ip}`;
    this.logger.warn(
      { event: 'security.principal_blocked', subject, signal: block.signal, observed: block.observed, threshold: block.threshold, windowS: block.windowS, blockS: block.blockS, ip: block.ip, requestId },
      'abuse detector placed a block',
    );
    if (block.subject.kind !== 'principal' || !block.subject.tenantId) return;
    const tenantId = block.subject.tenantId;
    const principal = block.subject.principal;
    const scope = Scope.for(tenantId, { kind: 'system', name: 'security' });
    const now = this.clock.now();
    await this.db.run(scope, async (tx) => {
      const row = await tx.securityBlock.create({
        data: {
          tenantId,
          principal,
          ip: block.ip,
          signal: block.signal,
          observed: block.observed,
          threshold: block.threshold,
          windowS: block.windowS,
          blockedAt: now,
          expiresAt: new Date(now.getTime() + block.blockS * 1000),
        },
      });
      // Subscribers (tenant admins' webhooks) learn whom by member id, never the global user id.
      const [kind, id = ''] = principal.split(':');
      const member = kind === 'user' ? await tx.membership.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), { userId: id }] }, select: { id: true } }) : null;
      const subject = kind === 'user' ? { kind: 'member', memberId: member?.id ?? null } : { kind: 'partner_client', clientId: id };
      await appendDomainEvent(
        tx,
        tenantId,
        {
          type: 'security.principal_blocked',
          subjectType: 'security_block',
          subjectId: row.id,
          payload: { id: row.id, subject, signal: block.signal, blockedAt: now.toISOString(), expiresAt: row.expiresAt.toISOString() },
        },
        now,
      );
      await this.audit.recordIn(tx, tenantId, {
        type: 'security.principal_blocked',
        outcome: 'denied',
        actor: 'system:security',
        subject: principal,
        ip: block.ip,
        ...(requestId ? { requestId } : {}),
        data: { signal: block.signal, observed: block.observed, threshold: block.threshold, windowS: block.windowS, blockS: block.blockS, blockId: row.id },
      });
    });
  }

  /** The tenant's blocks, newest first (GET /v1/security/blocks). */
  list(scope: Scope, query: SecurityBlockListQuery): Promise<SecurityBlockView[]> {
    const now = this.clock.now();
    return this.db.run(scope, async (tx) => {
      const rows = await tx.securityBlock.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'SecurityBlock'),
            query.active ? { liftedAt: null, expiresAt: { gt: now } } : {},
            query.after ? (keysetWhere('blockedAt', 'desc', query.after) as Prisma.SecurityBlockWhereInput) : {},
          ],
        },
        orderBy: [{ blockedAt: 'desc' }, { id: 'desc' }],
        take: query.limit,
      });
      const userIds = rows.filter((r) => r.principal.startsWith('user:')).map((r) => r.principal.slice('user:'.length));
      const members = userIds.length
        ? await tx.membership.findMany({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), { userId: { in: userIds } }] }, select: { id: true, userId: true } })
        : [];
      const memberOf = new Map(members.map((m) => [m.userId, m.id]));
      return rows.map((row): SecurityBlockView => {
        const [kind, id = ''] = row.principal.split(':');
        return { ...row, subject: kind === 'user' ? { kind: 'member', memberId: memberOf.get(id) ?? null } : { kind: 'partner_client', clientId: id } };
      });
    });
  }
}
