import type { MembershipRole } from '@benteng/database';

/**
 * Who is acting. Built only from verified credentials (a token, a key, a signed request), never from
 * input the caller controls. More kinds (partner clients, operators, services) join with their
 * surfaces; every kind gets its rules in ./rules.
 */
export interface UserPrincipal {
  readonly kind: 'user';
  readonly userId: string;
  readonly role: MembershipRole;
  /** The login session the request belongs to, when there is one. */
  readonly sessionId?: string;
}

/**
 * The application acting on its own behalf inside one tenant, for work no user performs directly:
 * recording a failed login, rotating a refresh token before the user is known to the request.
 * Each system principal is named and gets only the rules its job needs (rules/system.rules.ts).
 */
export interface SystemPrincipal {
  readonly kind: 'system';
  readonly name: 'auth' | 'audit' | 'partner-auth' | 'security' | 'webhooks' | 'payments' | 'cleanup' | 'jobs' | 'invitations' | 'privacy';
}

/** What a partner client may be granted; each scope maps to CASL rules in rules/partner.rules.ts. */
export const PARTNER_SCOPES = ['invoices:read', 'invoices:write', 'tickets:read', 'tickets:write', 'documents:read'] as const;
export type PartnerScope = (typeof PARTNER_SCOPES)[number];
export const PARTNER_TIERS = ['free', 'standard', 'premium'] as const;
export type PartnerTier = (typeof PARTNER_TIERS)[number];

/**
 * A partner client (machine) on /partner/v1, authenticated by an API key or a client-credentials
 * token. Its rules come from its scopes only, never from a user role.
 */
export interface PartnerPrincipal {
  readonly kind: 'partner';
  readonly clientId: string;
  readonly scopes: readonly PartnerScope[];
  readonly tier: PartnerTier;
  /** The API key the request used, when it used one (not a token). */
  readonly keyId?: string;
}

/** What an operator may be; each role maps to CASL rules in rules/operator.rules.ts. */
export const OPERATOR_ROLES = ['support', 'security', 'platform-admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/**
 * A person running the platform, on the internal listener only: a service signature (the caller
 * is a known internal service) naming an active operator record. Operators act across tenants, so
 * their abilities are platform abilities (definePlatformAbility), never a tenant's.
 */
export interface OperatorPrincipal {
  readonly kind: 'operator';
  readonly operatorId: string;
  readonly roles: readonly OperatorRole[];
  /** The internal service whose key signed the request (e.g. ops-cli). */
  readonly service: string;
}

export type Principal = UserPrincipal | SystemPrincipal | PartnerPrincipal | OperatorPrincipal;

/** What names a principal (all that principalId reads); a job envelope's actor is one too. */
export type PrincipalIdentity =
  | Pick<UserPrincipal, 'kind' | 'userId'>
  | Pick<PartnerPrincipal, 'kind' | 'clientId'>
  | Pick<SystemPrincipal, 'kind' | 'name'>
  | Pick<OperatorPrincipal, 'kind' | 'operatorId'>;

/** `user:<id>`, `partner:<id>`, `system:<name>` or `operator:<id>`: how a principal appears in logs and audit data. */
export function principalId(principal: Principal | PrincipalIdentity): string {
  switch (principal.kind) {
    case 'user':
      return `user:${principal.userId}`;
    case 'partner':
      return `partner:${principal.clientId}`;
    case 'system':
      return `system:${principal.name}`;
    case 'operator':
      return `operator:${principal.operatorId}`;
  }
}
