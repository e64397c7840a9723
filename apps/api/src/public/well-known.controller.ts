import { Controller, Get, Header } from '@nestjs/common';
import { SigningKeys } from '@benteng/auth';
import { PARTNER_SCOPES, type PartnerScope } from '@benteng/authz';
import { AppConfig } from '@benteng/config';
import type { JWK } from 'jose';
import { Anonymous } from '../http/access.decorator.js';

/** RFC 8414 authorization server metadata of the partner surface's token endpoint. */
export interface OAuthServerMetadata {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'];
  grant_types_supported: ['client_credentials'];
  response_types_supported: [];
  scopes_supported: PartnerScope[];
  service_documentation: string;
}

/** The origin clients reach this API at: PUBLIC_BASE_URL, else the development listener's. */
export function publicBaseUrl(config: AppConfig): string {
  return config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${config.PORT}`;
}

@Controller('.well-known')
export class WellKnownController {
  constructor(
    private readonly keys: SigningKeys,
    private readonly config: AppConfig,
  ) {}

  @Get('jwks.json')
  @Header('cache-control', 'public, max-age=300')
  @Anonymous('public keys that verify access tokens (RFC 7517); no secret material')
  jwks(): { keys: JWK[] } {
    return this.keys.publicJwks;
  }

  /**
   * RFC 8414 metadata, so OAuth 2.0 clients discover the partner token endpoint and how to
   * authenticate at it. Every URL is built from PUBLIC_BASE_URL (configuration), never from the
   * request's Host header: the answer is cached publicly and a client-chosen Host would poison it.
   * The issuer is that origin, where this document lives (RFC 8414 3.3 requires the two to match).
   * No authorization endpoint: the only grant is client_credentials, so response_types_supported
   * (required by RFC 8414 2) is empty.
   */
  @Get('oauth-authorization-server')
  @Header('cache-control', 'public, max-age=300')
  @Anonymous('OAuth 2.0 authorization server metadata of the partner token endpoint (RFC 8414); no secret material')
  oauthMetadata(): OAuthServerMetadata {
    const base = publicBaseUrl(this.config);
    return {
      issuer: base,
      token_endpoint: `${base}/partner/oauth/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      scopes_supported: [...PARTNER_SCOPES],
      service_documentation: `${base}/partner/v1/docs`,
    };
  }
}
