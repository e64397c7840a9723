import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

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

function describe(code: AuthErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case AuthErrorCode.InvalidCredentials:
      // One sentence for unknown email, wrong password, locked account and suspended tenant.
      return { kind: 'unauthenticated', message: 'The email or password is incorrect.' };
    case AuthErrorCode.InvalidRefreshToken:
      return { kind: 'unauthenticated', message: 'The refresh token is invalid or expired. Log in again.' };
    case AuthErrorCode.Unauthenticated:
      return { kind: 'unauthenticated', message: 'A valid access token is required.' };
    case AuthErrorCode.RateLimited:
      return { kind: 'rate_limited', message: 'Too many attempts. Try again later.' };
    case AuthErrorCode.WrongPassword:
      return { kind: 'forbidden', message: 'The current password is incorrect.' };
    case AuthErrorCode.NoSuchMembership:
      return { kind: 'not_found', message: 'You are not a member of that tenant.' };
    case AuthErrorCode.SessionNotFound:
      return { kind: 'not_found', message: 'Session not found.' };
    case AuthErrorCode.PartnerUnauthenticated:
      // One sentence for every reason; the reason is logged (and audited when the key was genuine).
      return { kind: 'unauthenticated', message: 'A valid partner API key or access token is required.' };
    case AuthErrorCode.InvalidClient:
      return { kind: 'unauthenticated', message: 'Client authentication failed.' };
    case AuthErrorCode.InvalidScope:
      return { kind: 'invalid', message: 'The requested scope exceeds the scopes granted to the client.' };
    case AuthErrorCode.InvalidGrant:
      return { kind: 'invalid', message: 'Only the client_credentials grant is supported.' };
    case AuthErrorCode.InvalidRequest:
      return { kind: 'invalid', message: 'The token request is malformed.' };
    default:
      return assertUnreachable(code);
  }
}

export class AuthError extends DomainError<AuthErrorCode> {
  readonly kind: DomainErrorKind;
  constructor(code: AuthErrorCode, retryAfterS?: number) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
    if (retryAfterS !== undefined) this.retryAfterS = retryAfterS;
    // RFC 6749 5.2 requires an `error` member on token endpoint errors.
    if (code.startsWith('oauth.')) this.extensions = { error: code.slice('oauth.'.length) };
  }
}
