import { AuthError, AuthErrorCode } from '@benteng/auth';

/** Longer than any Basic value a real client id and secret make: refused before decoding. */
const MAX_BASIC_LENGTH = 1024;
const BASIC = /^Basic ([A-Za-z0-9+/]+={0,2})$/i;

/** The client id and secret a token request authenticates with. */
export interface ClientAuthentication {
  clientId: string;
  clientSecret: string;
}

/** RFC 6749 2.3.1: each part is form-urlencoded before base64 ('+' is a space). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function fromBasic(authorization: string): ClientAuthentication {
  const match = authorization.length <= MAX_BASIC_LENGTH ? BASIC.exec(authorization.trim()) : null;
  if (!match) throw new AuthError(AuthErrorCode.InvalidClient);
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new AuthError(AuthErrorCode.InvalidClient);
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    // A malformed percent-escape: not a credential this server issued.
    throw new AuthError(AuthErrorCode.InvalidClient);
  }
}

/**
 * Which client a token request authenticates as: HTTP Basic (client_secret_basic) or client_id
 * and client_secret in the body (client_secret_post). RFC 6749 2.3 forbids using more than one
 * method in a request, so a Basic header beside a body secret is `invalid_request`; a body
 * client_id beside Basic is tolerated only when it names the same client. No credentials at all,
 * or unreadable ones, are `invalid_client` like a wrong secret: the secret check itself, and its
 * audit, happen in PartnerAuthService.issueToken.
 */
export function clientAuthenticationOf(authorization: string | undefined, body: { client_id?: string; client_secret?: string }): ClientAuthentication {
  if (authorization !== undefined) {
    if (body.client_secret !== undefined) throw new AuthError(AuthErrorCode.InvalidRequest);
    const basic = fromBasic(authorization);
    if (body.client_id !== undefined && body.client_id !== basic.clientId) throw new AuthError(AuthErrorCode.InvalidRequest);
    return basic;
  }
  if (body.client_id === undefined || body.client_secret === undefined) throw new AuthError(AuthErrorCode.InvalidClient);
  return { clientId: body.client_id, clientSecret: body.client_secret };
}
