import { defineAbilityFor, type AppAbility, type Principal, type TenantAbilities } from '@benteng/authz';
import { isUuid } from '@benteng/common';

const DEFINED_ABILITIES: TenantAbilities = { forTenant: defineAbilityFor };


/**
 * The tenant boundary every repository call carries: which tenant, who acts, and what they may do.
 * The ability is always derived from the tenant and principal here, so a Scope cannot pair one
 * tenant's id with rules built for another. Build it only from verified credentials (invariant 1).
 */
export class Scope {
  private constructor(
    readonly tenantId: string,
    readonly principal: Principal,
    readonly ability: AppAbility,
  ) {
    Object.freeze(this);
  }

  /**
   * `abilities` is the rule source, defineAbilityFor unless a caller holds the injectable
   * AbilityFactory (the request gates do, so a test application can replace the rules); it is
   * always given this Scope's own tenant.
   */
  static for(tenantId: string, principal: Principal, abilities: TenantAbilities = DEFINED_ABILITIES): Scope {
    if (!isUuid(tenantId)) throw new TypeError('Scope.for: tenantId must be a UUID');
    return new Scope(tenantId.toLowerCase(), principal, abilities.forTenant(tenantId.toLowerCase(), principal));
  }
}
