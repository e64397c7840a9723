import { Injectable } from '@nestjs/common';
import type { Scope } from '@benteng/tenancy';
import { AccountsRepository, type MembershipRow } from './accounts.repository.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';

/** The signed-in user's own account: profile and memberships (GET /v1/me). */
@Injectable()
export class ProfileService {
  constructor(private readonly accounts: AccountsRepository) {}

  /** The caller's memberships in every tenant (their own data, through auth_user_memberships). */
  memberships(scope: Scope): Promise<MembershipRow[]> {
    return this.accounts.memberships(scope);
  }

  /** The caller's own account, tenant and memberships. */
  async profile(scope: Scope) {
    const [user, tenant, memberships] = await Promise.all([this.accounts.user(scope), this.accounts.tenant(scope), this.accounts.memberships(scope)]);
    if (!user || !tenant) throw new AuthError(AuthErrorCode.Unauthenticated);
    return { user, tenant, memberships };
  }
}
