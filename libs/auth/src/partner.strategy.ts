import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { clientIp } from '@benteng/security';
import { PartnerAuthService, type VerifiedPartnerCredential } from './partner-auth.service.js';
import { HeaderOnlyBearerStrategy } from './public-jwt.strategy.js';

export const PARTNER_AUTH = 'partner';

/**
 * The partner surface's authentication: `Authorization: Bearer <API key | access token>` only
 * (never the query string or body, as on /v1). PartnerAuthService decides.
 */
@Injectable()
export class PartnerStrategy extends PassportStrategy(HeaderOnlyBearerStrategy, PARTNER_AUTH) {
  constructor(private readonly partners: PartnerAuthService) {
    super({ passReqToCallback: true });
  }

  validate(request: FastifyRequest, credential: string): Promise<VerifiedPartnerCredential> {
    return this.partners.authenticate(credential, { ip: clientIp(request), requestId: String(request.id) });
  }
}
