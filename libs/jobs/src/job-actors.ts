import { Injectable } from '@nestjs/common';
import { accessibleWhere, PARTNER_SCOPES, type PartnerScope, type Principal } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig, partnerEnvironment } from '@benteng/config';
import { TenantDatabase, type TenantTx } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import type { EnvelopePrincipal, TenantJobEnvelope } from './job-envelope.js';
import { JobRejection } from './job-rejection.js';

const knownScopes = (scopes: readonly string[]): PartnerScope[] => scopes.filter((s): s is PartnerScope => (PARTNER_SCOPES as readonly string[]).includes(s));

/**
 * Turns a verified envelope into the Scope its job runs in, from the state of the database now,
 * not from what the envelope says (invariant 7): the envelope names who asked, never what they may
 * do. The tenant must be active; a user must be active, still a member (the Scope gets the
 * membership's current role) and, when the job was queued from a login session, that session must
 * still be open; a partner client must exist in the tenant, be unrevoked, unexpired and of this
 * deployment's environment, and the API key it used must not be revoked (the Scope gets the client's
 * current scopes, never more than the request had). System actors get their named principal.
 *
 * Everything is read inside the envelope's tenant as the `system:jobs` principal, so no
 * cross-tenant lookup is involved: an actor of another tenant is simply not found. Postgres is
 * asked rather than the revocation store's Redis markers because those markers live only as long
 * as an access token, while a job may run hours after it was queued; Postgres is their source of
 * truth and answers for any age.
 */
@Injectable()
export class JobActors {
  constructor(
    private readonly db: TenantDatabase,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async scopeFor(envelope: TenantJobEnvelope): Promise<Scope> {
    const check = Scope.for(envelope.tenantId, { kind: 'system', name: 'jobs' });
    const principal = await this.db.run(check, async (tx) => {
      const tenant = await tx.tenant.findFirst({ where: { AND: [accessibleWhere(check.ability, 'read', 'Tenant'), { id: check.tenantId }] }, select: { status: true } });
      if (!tenant) throw new JobRejection('tenant_unknown');
      if (tenant.status !== 'active') throw new JobRejection('tenant_suspended');
      return this.principalOf(tx, check, envelope.actor);
    });
    return Scope.for(check.tenantId, principal);
  }

  private async principalOf(tx: TenantTx, check: Scope, actor: EnvelopePrincipal): Promise<Principal> {
    const now = this.clock.now().getTime();
    const revoked = (detail: ConstructorParameters<typeof JobRejection>[1]) => new JobRejection('actor_revoked', detail);
    switch (actor.kind) {
      case 'system':
        return { kind: 'system', name: actor.name };
      case 'user': {
        const membership = await tx.membership.findFirst({
          where: { AND: [accessibleWhere(check.ability, 'read', 'Membership'), { userId: actor.userId }] },
          select: { role: true, user: { select: { status: true } } },
        });
        if (!membership) throw revoked('not_a_member');
        if (membership.user.status !== 'active') throw revoked('user_locked');
        if (actor.sessionId !== undefined) {
          const session = await tx.session.findFirst({
            where: { AND: [accessibleWhere(check.ability, 'read', 'Session'), { id: actor.sessionId, userId: actor.userId }] },
            select: { revokedAt: true, expiresAt: true },
          });
          // A removed member's sessions are deleted with the membership: gone counts as revoked.
          if (!session || session.revokedAt) throw revoked('session_revoked');
          if (session.expiresAt.getTime() <= now) throw revoked('session_expired');
        }
        return { kind: 'user', userId: actor.userId, role: membership.role, ...(actor.sessionId ? { sessionId: actor.sessionId } : {}) };
      }
      case 'partner': {
        const client = await tx.partnerClient.findFirst({
          where: { AND: [accessibleWhere(check.ability, 'read', 'PartnerClient'), { id: actor.clientId }] },
          select: { environment: true, scopes: true, tier: true, expiresAt: true, revokedAt: true },
        });
        if (!client) throw revoked('client_unknown');
        if (client.revokedAt) throw revoked('client_revoked');
        if (client.expiresAt && client.expiresAt.getTime() <= now) throw revoked('client_expired');
        if (client.environment !== partnerEnvironment(this.config)) throw revoked('wrong_environment');
        if (actor.keyId !== undefined) {
          // Only an explicit revocation refuses: a key that merely expired (the end of a rotation
          // overlap) was valid when the job was queued, and its client still is.
          const key = await tx.partnerApiKey.findFirst({
            where: { AND: [accessibleWhere(check.ability, 'read', 'PartnerApiKey'), { id: actor.keyId, clientId: actor.clientId }] },
            select: { revokedAt: true },
          });
          if (!key || key.revokedAt) throw revoked('key_revoked');
        }
        const current = knownScopes(client.scopes);
        const scopes = actor.scopes ? current.filter((s) => actor.scopes!.includes(s)) : current;
        return { kind: 'partner', clientId: actor.clientId, scopes, tier: client.tier, ...(actor.keyId ? { keyId: actor.keyId } : {}) };
      }
    }
  }
}
