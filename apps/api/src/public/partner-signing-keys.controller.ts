import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import type { RequestMeta } from '@benteng/auth';
import { PartnerSigningKeysService } from '@benteng/partners';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { Idempotent } from '../http/idempotency.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { RegisterSigningKeyDto } from './dto/partner-client.dto.js';
import { partnerSigningKeyResponse, type PartnerSigningKeyResponse } from './partner-signing-key.response.js';

/**
 * The Ed25519 public keys a partner client signs its /partner/v1 requests with (RFC 9421,
 * docs/request-signing.md): owners and admins register, list and revoke them
 * (libs/authz/src/rules/partner.rules.ts). Rotation is register the new key, switch the signer,
 * revoke the old one: both verify in between. Another tenant's client or key is 404.
 */
@Controller('v1/partner-clients/:id/signing-keys')
export class PartnerSigningKeysController {
  constructor(private readonly keys: PartnerSigningKeysService) {}

  @Get()
  @Authorize('read', 'PartnerSigningKey')
  async list(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<{ items: PartnerSigningKeyResponse[] }> {
    return { items: (await this.keys.list(scope, id)).map(partnerSigningKeyResponse) };
  }

  @Post()
  @Authorize('create', 'PartnerSigningKey')
  @Idempotent()
  async register(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: RegisterSigningKeyDto,
    @Meta() meta: RequestMeta,
  ): Promise<PartnerSigningKeyResponse> {
    const key = await this.keys.register(
      scope,
      id,
      { ...(body.jwk ? { jwk: { ...body.jwk } } : {}), ...(body.pem !== undefined ? { pem: body.pem } : {}), label: body.label ?? null },
      meta,
    );
    return partnerSigningKeyResponse(key);
  }

  @Post(':signingKeyId/revoke')
  @HttpCode(200)
  @Authorize('update', 'PartnerSigningKey')
  async revoke(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Param('signingKeyId', new ParseUUIDPipe()) signingKeyId: string, @Meta() meta: RequestMeta): Promise<PartnerSigningKeyResponse> {
    return partnerSigningKeyResponse(await this.keys.revoke(scope, id, signingKeyId, meta));
  }
}
