import { definePlatformAbility, principalId, type AppAbility, type OperatorPrincipal } from '@benteng/authz';

/** What builds an operator's platform ability: `PlatformScope.for` takes one (definePlatformAbility by default). */
export interface PlatformAbilities {
  forPlatform(principal: OperatorPrincipal): AppAbility;
}

/** Where an operator's call came from, as every platform audit event records it. */
export interface PlatformRequest {
  readonly ip: string;
  readonly requestId: string;
  /** The operator's stated reason (X-Benteng-Reason); required on state-changing calls. */
  readonly reason?: string | undefined;
}

const DEFINED_ABILITIES: PlatformAbilities = { forPlatform: definePlatformAbility };

/**
 * The platform boundary every platform service method takes first, as tenant code takes a `Scope`
 * (libs/tenancy/src/scope.ts): the verified operator, the platform ability derived from their roles
 * here (libs/authz/src/rules/operator.rules.ts), and the request that is audited with each action.
 * Build it only from a verified operator (InternalAccessGuard, apps/api/src/internal/internal-access.guard.ts).
 */
export class PlatformScope {
  private constructor(
    readonly principal: OperatorPrincipal,
    readonly ability: AppAbility,
    readonly request: PlatformRequest,
  ) {
    Object.freeze(this);
  }

  /**
   * `abilities` is the rule source, definePlatformAbility unless a caller holds the injectable
   * AbilityFactory (the internal guard does, so a test application can replace the rules).
   */
  static for(principal: OperatorPrincipal, request: PlatformRequest, abilities: PlatformAbilities = DEFINED_ABILITIES): PlatformScope {
    return new PlatformScope(principal, abilities.forPlatform(principal), Object.freeze({ ...request }));
  }

  /** `operator:<id>`, the actor of every audit event this scope records. */
  get actor(): string {
    return principalId(this.principal);
  }

  get operatorId(): string {
    return this.principal.operatorId;
  }
}
