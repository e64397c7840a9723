import { Body, Controller, Header, Headers, HttpCode, Post, UseFilters } from '@nestjs/common';
import { ApiBody } from '@nestjs/swagger';
import { AuthError, AuthErrorCode, PartnerAuthService, type RequestMeta } from '@benteng/auth';
import { Anonymous, RateLimit } from '../http/access.decorator.js';
import { Accepts, FORM_MEDIA, JSON_MEDIA } from '../http/media-types.js';
import { Meta } from '../http/request-auth.js';
import { clientAuthenticationOf } from './client-authentication.js';
import { PartnerTokenRequestDto, type PartnerTokenParameters } from './dto/token.dto.js';
import { OAuthErrorFilter, OAuthErrors } from './oauth-error.filter.js';
import { TokenParametersPipe } from './token-parameters.pipe.js';
import { partnerTokenBody, type PartnerTokenBody } from './token.response.js';

/**
 * The OAuth 2.0 token endpoint of the partner surface: client credentials grant only (RFC 6749
 * 4.4). The token is a JWT for the partner audience, refused on /v1; it names the client, and the
 * client's current state (revocation, expiry, scopes, tenant status, IP allowlist) is checked
 * again on every request it is used for.
 */
@Controller('partner/oauth')
// Errors are RFC 6749 5.2 JSON, not problem+json, so OAuth 2.0 client libraries can read them
// (test/e2e/partner-oauth-client.spec.ts runs oauth4webapi against this endpoint).
@UseFilters(OAuthErrorFilter)
export class PartnerTokenController {
  constructor(private readonly partners: PartnerAuthService) {}

  @Post('token')
  @HttpCode(200)
  @Anonymous('OAuth 2.0 client credentials token endpoint', { credential: 'client-secret' })
  @RateLimit('auth')
  @Header('cache-control', 'no-store')
  @Header('pragma', 'no-cache')
  // RFC 6749 4.4.2 defines a form body; JSON is accepted beside it. Every other type is 415.
  @Accepts(FORM_MEDIA, JSON_MEDIA)
  @OAuthErrors()
  // RFC 6749 3.2: unknown parameters are ignored, not refused. TokenParametersPipe keeps the RFC's
  // parameters and validates them strictly; the body is typed by an interface so the global pipe
  // does not refuse the others first, and @ApiBody names the DTO for the OpenAPI document.
  @ApiBody({ type: PartnerTokenRequestDto })
  async token(@Body(TokenParametersPipe) body: PartnerTokenParameters, @Headers('authorization') authorization: string | undefined, @Meta() meta: RequestMeta): Promise<PartnerTokenBody> {
    const client = clientAuthenticationOf(authorization, body);
    if (body.grant_type !== 'client_credentials') throw new AuthError(AuthErrorCode.InvalidGrant);
    const token = await this.partners.issueToken({ ...client, ...(body.scope === undefined ? {} : { scope: body.scope }) }, meta);
    return partnerTokenBody(token);
  }
}
