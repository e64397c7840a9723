import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '@benteng/auth';
import { PartnerApiKeysService, PartnerClientsService, PartnerError, PartnerErrorCode, type PartnerClientPatch, type PartnerClientView, type PartnerKeyView } from '@benteng/partners';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { patchOf } from '../http/dto/patch-of.js';
import { answerInTransaction } from '../http/idempotency.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { created, IfMatch, parseIfMatch, withEtag } from '../http/resource-headers.js';
import { IdempotentRevealOnce, RevealOnce, revealOnce } from '../http/reveal-once.js';
import { CreatePartnerClientDto, CreatePartnerKeyDto, ListPartnerClientsQuery, UpdatePartnerClientDto } from './dto/partner-client.dto.js';
import {
  partnerClientResponse,
  partnerClientWithSecretResponse,
  partnerKeyResponse,
  partnerKeyWithSecretResponse,
  type PartnerClientResponse,
  type PartnerClientWithSecretResponse,
  type PartnerKeyResponse,
  type PartnerKeyWithSecretResponse,
} from './partner-client.response.js';

const expectedVersion = (ifMatch: string | undefined) => parseIfMatch(ifMatch, () => new PartnerError(PartnerErrorCode.VersionMismatch));
const dateOrNull = (value: string | null | undefined) => (value === undefined ? undefined : value === null ? null : new Date(value));

/**
 * Partner clients and their API keys (owners and admins; libs/authz/src/rules/partner.rules.ts).
 * Another tenant's client or key is 404, like a missing one.
 */
@Controller('v1/partner-clients')
export class PartnerClientsController {
  constructor(
    private readonly partners: PartnerClientsService,
    private readonly keys: PartnerApiKeysService,
  ) {}

  @Get()
  @Authorize('read', 'PartnerClient')
  list(@CurrentScope() scope: Scope, @Query() query: ListPartnerClientsQuery): Promise<Page<PartnerClientResponse>> {
    return paginate(query, 'createdAt', (page) => this.partners.list(scope, page), partnerClientResponse);
  }

  @Post()
  @Authorize('create', 'PartnerClient')
  @IdempotentRevealOnce()
  async create(
    @CurrentScope() scope: Scope,
    @Body() body: CreatePartnerClientDto,
    @Meta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerClientWithSecretResponse> {
    const render = (client: PartnerClientView) => partnerClientWithSecretResponse(created(reply, '/v1/partner-clients', withEtag(reply, client)));
    const { client, clientSecret } = await this.partners.create(
      scope,
      {
        name: body.name,
        environment: body.environment,
        scopes: body.scopes,
        ...(body.tier ? { tier: body.tier } : {}),
        ...(body.ipAllowlist ? { ipAllowlist: body.ipAllowlist } : {}),
        ...(body.requireSignatures !== undefined ? { requireSignatures: body.requireSignatures } : {}),
        expiresAt: dateOrNull(body.expiresAt) ?? null,
      },
      meta,
      answerInTransaction(reply, render),
    );
    revealOnce(request, { clientSecret });
    return render(client);
  }

  @Get(':id')
  @Authorize('read', 'PartnerClient')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerClientResponse> {
    return partnerClientResponse(withEtag(reply, await this.partners.get(scope, id)));
  }

  @Patch(':id')
  @Authorize('update', 'PartnerClient')
  async update(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdatePartnerClientDto,
    @IfMatch() ifMatch: string | undefined,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerClientResponse> {
    const patch: PartnerClientPatch = patchOf(body, ['name', 'scopes', 'tier', 'ipAllowlist', 'requireSignatures']);
    const expiresAt = dateOrNull(body.expiresAt);
    if (expiresAt !== undefined) patch.expiresAt = expiresAt;
    return partnerClientResponse(withEtag(reply, await this.partners.update(scope, id, patch, expectedVersion(ifMatch), meta)));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @Authorize('update', 'PartnerClient')
  async revoke(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerClientResponse> {
    return partnerClientResponse(withEtag(reply, await this.partners.revoke(scope, id, meta)));
  }

  @Post(':id/secret')
  @HttpCode(200)
  @Authorize('update', 'PartnerClient')
  @RevealOnce()
  async rotateSecret(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Meta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerClientWithSecretResponse> {
    const { client, clientSecret } = await this.partners.rotateSecret(scope, id, meta);
    revealOnce(request, { clientSecret });
    return partnerClientWithSecretResponse(withEtag(reply, client));
  }

  @Get(':id/keys')
  @Authorize('read', 'PartnerApiKey')
  async listKeys(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<{ items: PartnerKeyResponse[] }> {
    return { items: (await this.keys.list(scope, id)).map(partnerKeyResponse) };
  }

  @Post(':id/keys')
  @Authorize('create', 'PartnerApiKey')
  @IdempotentRevealOnce()
  async createKey(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: CreatePartnerKeyDto,
    @Meta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerKeyWithSecretResponse> {
    const { key, apiKey } = await this.keys.create(scope, id, { expiresAt: dateOrNull(body.expiresAt) ?? null }, meta, answerInTransaction(reply, (k: PartnerKeyView) => partnerKeyWithSecretResponse(k)));
    revealOnce(request, { key: apiKey });
    return partnerKeyWithSecretResponse(key);
  }

  @Post(':id/keys/:keyId/rotate')
  @HttpCode(200)
  @Authorize('update', 'PartnerApiKey')
  @RevealOnce()
  async rotateKey(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('keyId', new ParseUUIDPipe()) keyId: string,
    @Meta() meta: RequestMeta,
    @Req() request: FastifyRequest,
  ): Promise<PartnerKeyWithSecretResponse> {
    const { key, apiKey } = await this.keys.rotate(scope, id, keyId, meta);
    revealOnce(request, { key: apiKey });
    return partnerKeyWithSecretResponse(key);
  }

  @Post(':id/keys/:keyId/revoke')
  @HttpCode(200)
  @Authorize('update', 'PartnerApiKey')
  async revokeKey(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Param('keyId', new ParseUUIDPipe()) keyId: string, @Meta() meta: RequestMeta): Promise<PartnerKeyResponse> {
    return partnerKeyResponse(await this.keys.revoke(scope, id, keyId, meta));
  }
}
