import { defineErrors } from '@benteng/common';

export enum AuthErrorCode {
  InvalidCredentials = 'auth.invalid_credentials',
  InvalidRefreshToken = 'auth.invalid_refresh_token',
  Unauthenticated = 'auth.unauthenticated',
  RateLimited = 'auth.rate_limited',
  WrongPassword = 'auth.wrong_password',
  NoSuchMembership = 'auth.no_such_membership',
  SessionNotFound = 'auth.session_not_found',
  /** Partner surface: a missing, unknown, revoked, expired or out-of-place key or token. */
  PartnerUnauthenticated = 'partner.unauthenticated',
  /** POST /partner/oauth/token (RFC 6749 5.2). */
  InvalidClient = 'oauth.invalid_client',
  InvalidScope = 'oauth.invalid_scope',
  InvalidGrant = 'oauth.unsupported_grant_type',
  InvalidRequest = 'oauth.invalid_request',
}

export class AuthError extends defineErrors<AuthErrorCode>({
  // One sentence for unknown email, wrong password, locked account and suspended tenant.
  [AuthErrorCode.InvalidCredentials]: { kind: 'unauthenticated', message: 'The email or password is incorrect.' },
  [AuthErrorCode.InvalidRefreshToken]: { kind: 'unauthenticated', message: 'The refresh token is invalid or expired. Log in again.' },
  [AuthErrorCode.Unauthenticated]: { kind: 'unauthenticated', message: 'A valid access token is required.' },
  [AuthErrorCode.RateLimited]: { kind: 'rate_limited', message: 'Too many attempts. Try again later.' },
  [AuthErrorCode.WrongPassword]: { kind: 'forbidden', message: 'The current password is incorrect.' },
  [AuthErrorCode.NoSuchMembership]: { kind: 'not_found', message: 'You are not a member of that tenant.' },
  [AuthErrorCode.SessionNotFound]: { kind: 'not_found', message: 'Session not found.' },
  // One sentence for every reason; the reason is logged (and audited when the key was genuine).
  [AuthErrorCode.PartnerUnauthenticated]: { kind: 'unauthenticated', message: 'A valid partner API key or access token is required.' },
  [AuthErrorCode.InvalidClient]: { kind: 'unauthenticated', message: 'Client authentication failed.' },
  [AuthErrorCode.InvalidScope]: { kind: 'invalid', message: 'The requested scope exceeds the scopes granted to the client.' },
  [AuthErrorCode.InvalidGrant]: { kind: 'invalid', message: 'Only the client_credentials grant is supported.' },
  [AuthErrorCode.InvalidRequest]: { kind: 'invalid', message: 'The token request is malformed.' },
}) {
  constructor(code: AuthErrorCode, retryAfterS?: number) {
    super(code);
    if (retryAfterS !== undefined) this.retryAfterS = retryAfterS;
    // RFC 6749 5.2 requires an `error` member on token endpoint errors.
    if (code.startsWith('oauth.')) this.extensions = { error: code.slice('oauth.'.length) };
  }
}
