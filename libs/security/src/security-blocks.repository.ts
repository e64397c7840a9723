import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { accessibleWhere } from '@benteng/authz';
import { appendDomainEvent, keysetWhere, TenantDatabase, type DomainEventInput, type Keyset, type Prisma, type SecurityBlock } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';

/** A block as recorded: who, from where, why, and until when. */
export type NewSecurityBlock = Pick<SecurityBlock, 'principal' | 'ip' | 'signal' | 'observed' | 'threshold' | 'windowS' | 'blockedAt' | 'expiresAt'>;

export interface SecurityBlockPage {
  limit: number;
  /** Only blocks in force at this time (not expired, not lifted). */
  activeAt?: Date;
  after?: Keyset;
}

/**
 * Security block persistence (security_blocks). Every method takes the Scope first and runs in one
 * tenant transaction; reads filter with the scope's CASL condition. A blocked user is looked up by
 * membership (global user ids never leave the API).
 */
@Injectable()
export class SecurityBlocksRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Records a block with its outbox event and audit event in one transaction. The event is built
   * from the new row and the blocked user's membership id (null for a partner client, or a user who
   * is no member).
   */
  create(scope: Scope, block: NewSecurityBlock, event: (row: SecurityBlock, memberId: string | null) => DomainEventInput, audit: (row: SecurityBlock) => AuditEntry): Promise<SecurityBlock> {
    return this.db.run(scope, async (tx) => {
      const row = await tx.securityBlock.create({ data: { tenantId: scope.tenantId, ...block } });
      const [kind, id = ''] = block.principal.split(':');
      const member = kind === 'user' ? await tx.membership.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), { userId: id }] }, select: { id: true } }) : null;
      await appendDomainEvent(tx, scope.tenantId, event(row, member?.id ?? null), block.blockedAt);
      await this.audit.recordIn(tx, scope.tenantId, audit(row));
      return row;
    });
  }

  /** The tenant's blocks, newest first (keyset on blockedAt, id), and the membership ids of the blocked users (by user id). */
  list(scope: Scope, page: SecurityBlockPage): Promise<{ rows: SecurityBlock[]; memberOf: Map<string, string> }> {
    return this.db.run(scope, async (tx) => {
      const rows = await tx.securityBlock.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'SecurityBlock'),
            page.activeAt ? { liftedAt: null, expiresAt: { gt: page.activeAt } } : {},
            page.after ? (keysetWhere('blockedAt', 'desc', page.after) as Prisma.SecurityBlockWhereInput) : {},
          ],
        },
        orderBy: [{ blockedAt: 'desc' }, { id: 'desc' }],
        take: page.limit,
      });
      const userIds = rows.filter((r) => r.principal.startsWith('user:')).map((r) => r.principal.slice('user:'.length));
      const members = userIds.length
        ? await tx.membership.findMany({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), { userId: { in: userIds } }] }, select: { id: true, userId: true } })
        : [];
      return { rows, memberOf: new Map(members.map((m) => [m.userId, m.id])) };
    });
  }
}
