import { Injectable } from '@nestjs/common';
import { defineAbilityFor, definePlatformAbility, type AppAbility } from './ability.js';
import type { OperatorPrincipal, Principal } from './principal.js';

/** What builds a tenant-bound ability: `Scope.for` takes one (defineAbilityFor by default). */
export interface TenantAbilities {
  forTenant(tenantId: string, principal: Principal): AppAbility;
}

/**
 * The abilities the request gates build, as an injectable unit: the public/partner AccessGuard
 * builds each request's tenant Scope with `forTenant`, the internal guard each operator's platform
 * ability with `forPlatform`. Both answer exactly what defineAbilityFor / definePlatformAbility
 * answer; being a provider lets a test application replace the rules as a whole
 * (test/security/kill-switches/authz.ts) without touching production code at test time.
 */
@Injectable()
export class AbilityFactory implements TenantAbilities {
  forTenant(tenantId: string, principal: Principal): AppAbility {
    return defineAbilityFor(tenantId, principal);
  }

  forPlatform(principal: OperatorPrincipal): AppAbility {
    return definePlatformAbility(principal);
  }
}
