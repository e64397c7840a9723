import { Injectable } from '@nestjs/common';
import type { Scope } from '@benteng/tenancy';
import { AccountsRepository } from './accounts.repository.js';
import { userIdOf } from './auth-entry.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta, TokenPair } from './auth.types.js';
import { RevocationStore } from './revocation-store.js';
import { SessionIssuer } from './session-issuer.js';

/**
 * POST /v1/auth/switch-tenant: a token pair for another tenant the caller belongs to. The target is
 * looked up among the caller's own memberships (as the verified token names the user), never taken
 * on trust.
 */
@Injectable()
export class TenantSwitchService {
  constructor(
    private readonly revocations: RevocationStore,
    private readonly accounts: AccountsRepository,
    private readonly sessions: SessionIssuer,
  ) {}

  async switchTenant(scope: Scope, tenantSlug: string, meta: RequestMeta): Promise<TokenPair> {
    const userId = userIdOf(scope);
    // A new session must not outlive what the current one may: a locked user, a suspended tenant
    // or a revoked session gets no fresh tokens here, whatever the Redis markers say.
    const sessionId = scope.principal.kind === 'user' ? scope.principal.sessionId : undefined;
    if (!sessionId || (await this.revocations.revokedInDatabase({ tid: scope.tenantId, sub: userId, sid: sessionId }))) {
      throw new AuthError(AuthErrorCode.Unauthenticated);
    }
    const target = (await this.accounts.memberships(scope)).find((m) => m.tenant_slug === tenantSlug && m.tenant_status === 'active');
    if (!target) throw new AuthError(AuthErrorCode.NoSuchMembership);
    return this.sessions.start(target.tenant_id, userId, target.role, meta, 'auth.tenant_switched');
  }
}
