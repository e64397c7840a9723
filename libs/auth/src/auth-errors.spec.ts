import { describe, expect, it } from 'vitest';
import { AuthError, AuthErrorCode } from './auth.errors.js';

// AuthError as the HTTP filter reads it (apps/api/src/http/problem-details.filter.ts): `kind` picks
// the status, `message` is the problem's detail, `extensions` are spread into the body (the OAuth
// token endpoint's `error` member, RFC 6749 5.2) and `retryAfterS` becomes Retry-After.

describe('AuthError', () => {
  it('the token endpoint codes carry the RFC 6749 `error` member, named after the code without its prefix', () => {
    expect(new AuthError(AuthErrorCode.InvalidClient).extensions).toEqual({ error: 'invalid_client' });
    expect(new AuthError(AuthErrorCode.InvalidScope).extensions).toEqual({ error: 'invalid_scope' });
    expect(new AuthError(AuthErrorCode.InvalidGrant).extensions).toEqual({ error: 'unsupported_grant_type' });
    expect(new AuthError(AuthErrorCode.InvalidRequest).extensions).toEqual({ error: 'invalid_request' });
  });

  it('no other code has extension members (the partner surface and /v1 answer plain problems)', () => {
    const others = Object.values(AuthErrorCode).filter((code) => !code.startsWith('oauth.'));
    expect(others).toHaveLength(8);
    for (const code of others) expect(new AuthError(code).extensions).toBeUndefined();
  });

  it('a rate-limited refusal carries its Retry-After seconds; without them there is none', () => {
    const limited = new AuthError(AuthErrorCode.RateLimited, 42);
    expect(limited.retryAfterS).toBe(42);
    expect(limited.kind).toBe('rate_limited');
    expect(new AuthError(AuthErrorCode.RateLimited, 0).retryAfterS).toBe(0);
    expect(new AuthError(AuthErrorCode.RateLimited).retryAfterS).toBeUndefined();
  });

  it('each code has its kind and fixed sentence, and the error is named AuthError', () => {
    const table = Object.fromEntries(Object.values(AuthErrorCode).map((code) => [code, ((e) => [e.kind, e.message])(new AuthError(code))]));
    expect(table).toEqual({
      'auth.invalid_credentials': ['unauthenticated', 'The email or password is incorrect.'],
      'auth.invalid_refresh_token': ['unauthenticated', 'The refresh token is invalid or expired. Log in again.'],
      'auth.unauthenticated': ['unauthenticated', 'A valid access token is required.'],
      'auth.rate_limited': ['rate_limited', 'Too many attempts. Try again later.'],
      'auth.wrong_password': ['forbidden', 'The current password is incorrect.'],
      'auth.no_such_membership': ['not_found', 'You are not a member of that tenant.'],
      'auth.session_not_found': ['not_found', 'Session not found.'],
      'partner.unauthenticated': ['unauthenticated', 'A valid partner API key or access token is required.'],
      'oauth.invalid_client': ['unauthenticated', 'Client authentication failed.'],
      'oauth.invalid_scope': ['invalid', 'The requested scope exceeds the scopes granted to the client.'],
      'oauth.unsupported_grant_type': ['invalid', 'Only the client_credentials grant is supported.'],
      'oauth.invalid_request': ['invalid', 'The token request is malformed.'],
    });
    const error = new AuthError(AuthErrorCode.SessionNotFound);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('AuthError');
    expect(error.code).toBe('auth.session_not_found');
  });
});
