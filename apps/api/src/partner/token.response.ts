import type { PartnerTokenResponse } from '@benteng/auth';

/** RFC 6749 5.1 access token response, with the RFC's member names. */
export interface PartnerTokenBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  /** The scopes granted, space-separated (a subset of the client's). */
  scope: string;
}

export function partnerTokenBody(token: PartnerTokenResponse): PartnerTokenBody {
  return { access_token: token.accessToken, token_type: 'Bearer', expires_in: token.expiresIn, scope: token.scopes.join(' ') };
}
