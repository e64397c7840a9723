import type { Scope } from '@benteng/tenancy';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';

/** Credentials are made by people: the user is recorded as creator (and audited as the actor). */
export function creatorOf(scope: Scope): string {
  if (scope.principal.kind !== 'user') throw new PartnerError(PartnerErrorCode.Forbidden);
  return scope.principal.userId;
}

/** An expiry as stored: null for none; one that is not in the future is refused. */
export function futureOrNull(value: Date | null | undefined, now: Date): Date | null {
  if (value === undefined || value === null) return null;
  if (value.getTime() <= now.getTime()) throw new PartnerError(PartnerErrorCode.ExpiryInPast);
  return value;
}
