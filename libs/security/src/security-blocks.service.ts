import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock } from '@benteng/common';
import type { Keyset, SecurityBlock } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import type { PlacedBlock } from './abuse-detector.js';
import { SecurityBlocksRepository } from './security-blocks.repository.js';

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
export class SecurityBlocksService {
  constructor(
    private readonly blocks: SecurityBlocksRepository,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(SecurityBlocksService.name);
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
    await this.blocks.create(
      scope,
      {
        principal,
        ip: block.ip,
        signal: block.signal,
        observed: block.observed,
        threshold: block.threshold,
        windowS: block.windowS,
        blockedAt: now,
        expiresAt: new Date(now.getTime() + block.blockS * 1000),
      },
      // Subscribers (tenant admins' webhooks) learn whom by member id, never the global user id.
      (row, memberId) => ({
        type: 'security.principal_blocked',
        subjectType: 'security_block',
        subjectId: row.id,
        payload: { id: row.id, subject: subjectOf(principal, memberId), signal: block.signal, blockedAt: now.toISOString(), expiresAt: row.expiresAt.toISOString() },
      }),
      (row) => ({
        type: 'security.principal_blocked',
        outcome: 'denied',
        actor: 'system:security',
        subject: principal,
        ip: block.ip,
        ...(requestId ? { requestId } : {}),
        data: { signal: block.signal, observed: block.observed, threshold: block.threshold, windowS: block.windowS, blockS: block.blockS, blockId: row.id },
      }),
    );
  }

  /** The tenant's blocks, newest first (GET /v1/security/blocks). */
  async list(scope: Scope, query: SecurityBlockListQuery): Promise<SecurityBlockView[]> {
    const { rows, memberOf } = await this.blocks.list(scope, {
      limit: query.limit,
      ...(query.active ? { activeAt: this.clock.now() } : {}),
      ...(query.after ? { after: query.after } : {}),
    });
    return rows.map((row): SecurityBlockView => {
      const [kind, id = ''] = row.principal.split(':');
      return { ...row, subject: subjectOf(row.principal, kind === 'user' ? (memberOf.get(id) ?? null) : null) };
    });
  }
}

/** Whom a block names, as its tenant sees it: a member (by membership id), or a partner client. */
function subjectOf(principal: string, memberId: string | null): SecurityBlockView['subject'] {
  const [kind, id = ''] = principal.split(':');
  return kind === 'user' ? { kind: 'member', memberId } : { kind: 'partner_client', clientId: id };
}
