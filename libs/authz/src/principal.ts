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
  readonly name: 'auth' | 'audit';
}

export type Principal = UserPrincipal | SystemPrincipal;

export function principalId(principal: Principal): string {
  return principal.kind === 'user' ? `user:${principal.userId}` : `system:${principal.name}`;
}
