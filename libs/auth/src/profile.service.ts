import { Injectable } from '@nestjs/common';
import { accessibleWhere } from '@benteng/authz';
import { PrismaService, TenantDatabase, type MembershipRole, type TenantStatus } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { userIdOf } from './auth-entry.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';

export interface MembershipRow {
  tenant_id: string;
  tenant_slug: string;
  tenant_name: string;
  tenant_status: TenantStatus;
  role: MembershipRole;
}

/** The signed-in user's own account: profile and memberships (GET /v1/me). */
@Injectable()
export class ProfileService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
  ) {}

  /** The caller's memberships in every tenant (their own data, through auth_user_memberships). */
  memberships(scope: Scope): Promise<MembershipRow[]> {
    return this.prisma.client.$queryRaw<MembershipRow[]>`SELECT * FROM auth_user_memberships(${userIdOf(scope)}::uuid)`;
  }

  /** The caller's own account, tenant and memberships. */
  async profile(scope: Scope) {
    const userId = userIdOf(scope);
    const [user, tenant, memberships] = await Promise.all([
      this.db.run(scope, (tx) => tx.user.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'User'), { id: userId }] }, select: { id: true, email: true, displayName: true } })),
      this.db.run(scope, (tx) => tx.tenant.findFirst({ where: accessibleWhere(scope.ability, 'read', 'Tenant'), select: { id: true, slug: true, name: true } })),
      this.memberships(scope),
    ]);
    if (!user || !tenant) throw new AuthError(AuthErrorCode.Unauthenticated);
    return { user, tenant, memberships };
  }
}
