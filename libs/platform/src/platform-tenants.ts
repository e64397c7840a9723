import { Injectable } from '@nestjs/common';
import { OperatorError, OperatorErrorCode } from './operator-error.js';
import { PlatformDatabase, type TenantRow } from './platform-database.js';
import type { PlatformScope } from './platform-scope.js';

export interface PlatformTenantView {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended';
  createdAt: string;
}

export const tenantView = (r: TenantRow): PlatformTenantView => ({ id: r.id, slug: r.slug, name: r.name, status: r.status, createdAt: r.created_at.toISOString() });

/**
 * Tenants as operators see them: every tenant, through the named cross-tenant function
 * internal_list_tenants (docs/architecture.md, invariant 4), shaped to id, slug, name, status and
 * creation time. The ability is checked here as well as at the route, so a future caller that
 * forgets the route declaration still fails closed.
 */
@Injectable()
export class PlatformTenants {
  constructor(private readonly db: PlatformDatabase) {}

  async list(scope: PlatformScope): Promise<PlatformTenantView[]> {
    if (!scope.ability.can('read', 'Tenant')) throw new OperatorError(OperatorErrorCode.Forbidden);
    return (await this.db.listTenants()).map(tenantView);
  }
}
