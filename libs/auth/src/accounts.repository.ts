import { Injectable } from '@nestjs/common';
import { accessibleWhere } from '@benteng/authz';
import { PrismaService, TenantDatabase, type MembershipRole, type TenantStatus, type UserStatus } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { userIdOf } from './auth-entry.js';

/** An account and one of its memberships (none: the tenant columns are null), as auth_login_lookup answers. */
export interface LoginRow {
  user_id: string;
  password_hash: string | null;
  user_status: UserStatus;
  tenant_id: string | null;
  tenant_slug: string | null;
  tenant_status: TenantStatus | null;
  role: MembershipRole | null;
}

export interface MembershipRow {
  tenant_id: string;
  tenant_slug: string;
  tenant_name: string;
  tenant_status: TenantStatus;
  role: MembershipRole;
}

/**
 * User accounts: one account, many tenants. What spans tenants (the login lookup, the password,
 * the user's memberships) goes through named SECURITY DEFINER functions, one method each; the
 * account and tenant as the signed-in user sees them are read in the Scope's tenant transaction.
 */
@Injectable()
export class AccountsRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
  ) {}

  /** The account of `email` with each of its memberships, before any tenant is known (auth_login_lookup). */
  authLoginLookup(email: string): Promise<LoginRow[]> {
    return this.prisma.client.$queryRaw<LoginRow[]>`SELECT * FROM auth_login_lookup(${email})`;
  }

  /** The signed-in user's password hash (auth_password_hash); null when the account has none. */
  async passwordHash(scope: Scope): Promise<string | null> {
    const [row] = await this.prisma.client.$queryRaw<{ auth_password_hash: string | null }[]>`SELECT auth_password_hash(${userIdOf(scope)}::uuid)`;
    return row?.auth_password_hash ?? null;
  }

  /** Stores the signed-in user's new password hash, for every tenant (auth_set_password_hash). */
  async setPasswordHash(scope: Scope, hash: string): Promise<void> {
    await this.prisma.client.$executeRaw`SELECT auth_set_password_hash(${userIdOf(scope)}::uuid, ${hash})`;
  }

  /** The signed-in user's memberships in every tenant (their own data, through auth_user_memberships). */
  memberships(scope: Scope): Promise<MembershipRow[]> {
    return this.prisma.client.$queryRaw<MembershipRow[]>`SELECT * FROM auth_user_memberships(${userIdOf(scope)}::uuid)`;
  }

  /** The signed-in user's account as this tenant may read it; null when not readable. */
  user(scope: Scope) {
    const userId = userIdOf(scope);
    return this.db.run(scope, (tx) => tx.user.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'User'), { id: userId }] }, select: { id: true, email: true, displayName: true } }));
  }

  /** The Scope's tenant as the caller may read it; null when not readable. */
  tenant(scope: Scope) {
    return this.db.run(scope, (tx) => tx.tenant.findFirst({ where: accessibleWhere(scope.ability, 'read', 'Tenant'), select: { id: true, slug: true, name: true } }));
  }
}
