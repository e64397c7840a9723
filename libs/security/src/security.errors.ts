import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum SecurityErrorCode {
  /** A rate-limit budget (principal class × route sensitivity, or the tenant's aggregate) is spent. */
  RateLimited = 'rate_limit.exceeded',
  /** The abuse detector blocked this principal or address for a while. */
  Blocked = 'security.blocked',
}

function describe(code: SecurityErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case SecurityErrorCode.RateLimited:
      return { kind: 'rate_limited', message: 'Rate limit exceeded. Retry after the time given in Retry-After.' };
    case SecurityErrorCode.Blocked:
      return { kind: 'rate_limited', message: 'Requests from this client are temporarily blocked after unusual activity.' };
    default:
      return assertUnreachable(code);
  }
}

export class SecurityError extends DomainError<SecurityErrorCode> {
  readonly kind: DomainErrorKind;
  constructor(code: SecurityErrorCode, retryAfterS: number) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
    this.retryAfterS = Math.max(1, Math.ceil(retryAfterS));
  }
}
