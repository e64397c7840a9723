import { defineErrors } from '@benteng/common';

export enum SecurityErrorCode {
  /** A rate-limit budget (principal class × route sensitivity, or the tenant's aggregate) is spent. */
  RateLimited = 'rate_limit.exceeded',
  /** The abuse detector blocked this principal or address for a while. */
  Blocked = 'security.blocked',
}

export class SecurityError extends defineErrors<SecurityErrorCode>({
  [SecurityErrorCode.RateLimited]: { kind: 'rate_limited', message: 'Rate limit exceeded. Retry after the time given in Retry-After.' },
  [SecurityErrorCode.Blocked]: { kind: 'rate_limited', message: 'Requests from this client are temporarily blocked after unusual activity.' },
}) {
  constructor(code: SecurityErrorCode, retryAfterS: number) {
    super(code);
    this.retryAfterS = Math.max(1, Math.ceil(retryAfterS));
  }
}
