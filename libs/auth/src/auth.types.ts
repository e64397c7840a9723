import type { MembershipRole } from '@benteng/database';

/** Facts about the HTTP request an authentication step records (never credentials). */
export interface RequestMeta {
  ip: string;
  userAgent?: string;
  requestId?: string;
}

export interface TokenPair {
  tokenType: 'Bearer';
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshToken: string;
  tenantId: string;
  role: MembershipRole;
}

/** What a verified access token says, after the revocation check. */
export interface VerifiedUserToken {
  userId: string;
  tenantId: string;
  sessionId: string;
  role: MembershipRole;
}
