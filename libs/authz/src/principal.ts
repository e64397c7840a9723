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

export type Principal = UserPrincipal;

export function principalId(principal: Principal): string {
  return `${principal.kind}:${principal.userId}`;
}
