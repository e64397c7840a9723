import { Injectable } from '@nestjs/common';
import type { AppAbility } from '@benteng/authz';
import { DomainError } from '@benteng/common';
import { PrismaService } from '@benteng/database';

export interface PlatformTenantView {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended';
  createdAt: string;
}

export enum OperatorErrorCode {
  Forbidden = 'operator.forbidden',
}

export class OperatorError extends DomainError<OperatorErrorCode> {
  readonly kind = 'forbidden' as const;

  constructor(code: OperatorErrorCode) {
    super(code, 'The operator may not perform this action.');
  }
}

/**
 * Tenants as operators see them: every tenant, through the named cross-tenant function
 * internal_list_tenants (docs/architecture.md, invariant 4), shaped to id, slug, name, status and
 * creation time. The ability is checked here as well as at the route, so a future caller that
 * forgets the route declaration still fails closed.
 */
@Injectable()
export class PlatformTenants {
  constructor(private readonly prisma: PrismaService) {}

  async list(ability: AppAbility): Promise<PlatformTenantView[]> {
    if (!ability.can('read', 'Tenant')) throw new OperatorError(OperatorErrorCode.Forbidden);
    const rows = await this.prisma.client.$queryRaw<{ id: string; slug: string; name: string; status: 'active' | 'suspended'; created_at: Date }[]>`
      SELECT id::text AS id, slug, name, status::text AS status, created_at FROM internal_list_tenants()`;
    return rows.map((r) => ({ id: r.id, slug: r.slug, name: r.name, status: r.status, createdAt: r.created_at.toISOString() }));
  }
}
