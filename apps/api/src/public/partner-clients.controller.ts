import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '@benteng/auth';
import { PartnerClientsService, PartnerError, PartnerErrorCode, type PartnerClientPatch } from '@benteng/partners';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { decodeCursor, etag, nextCursor, parseIfMatch } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
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

const DEFAULT_PAGE = 20;
const mismatch = () => new PartnerError(PartnerErrorCode.VersionMismatch);
const dateOrNull = (value: string | null | undefined) => (value === undefined ? undefined : value === null ? null : new Date(value));

/**
 * Partner clients and their API keys (owners and admins; libs/authz/src/rules/partner.rules.ts).
 * Another tenant's client or key is 404, like a missing one.
 */
@Controller('v1/partner-clients')
export class PartnerClientsController {
  constructor(private readonly partners: PartnerClientsService) {}

  @Get()
  @Authorize('read', 'PartnerClient')
  async list(@CurrentScope() scope: Scope, @Query() query: ListPartnerClientsQuery): Promise<{ items: PartnerClientResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const items = await this.partners.list(scope, { limit, ...(query.cursor ? { after: decodeCursor(query.cursor, 'createdAt') } : {}) });
    return { items: items.map(partnerClientResponse), nextCursor: nextCursor(items, limit, 'createdAt') };
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
    const { client, clientSecret } = await this.partners.create(
      scope,
      {
        name: body.name,
        environment: body.environment,
        scopes: body.scopes,
        ...(body.tier ? { tier: body.tier } : {}),
        ...(body.ipAllowlist ? { ipAllowlist: body.ipAllowlist } : {}),
        expiresAt: dateOrNull(body.expiresAt) ?? null,
      },
      meta,
    );
    revealOnce(request, { clientSecret });
    reply.header('etag', etag(client.version)).header('location', `/v1/partner-clients/${client.id}`);
    return partnerClientWithSecretResponse(client);
  }

  @Get(':id')
  @Authorize('read', 'PartnerClient')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerClientResponse> {
    const client = await this.partners.get(scope, id);
    reply.header('etag', etag(client.version));
    return partnerClientResponse(client);
  }

  @Patch(':id')
  @Authorize('update', 'PartnerClient')
  async update(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdatePartnerClientDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerClientResponse> {
    const patch: PartnerClientPatch = {};
    if (body.name !== undefined) patch.name = body.name;
    if (body.scopes !== undefined) patch.scopes = body.scopes;
    if (body.tier !== undefined) patch.tier = body.tier;
    if (body.ipAllowlist !== undefined) patch.ipAllowlist = body.ipAllowlist;
    const expiresAt = dateOrNull(body.expiresAt);
    if (expiresAt !== undefined) patch.expiresAt = expiresAt;
    const client = await this.partners.update(scope, id, patch, parseIfMatch(ifMatch, mismatch), meta);
    reply.header('etag', etag(client.version));
    return partnerClientResponse(client);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @Authorize('update', 'PartnerClient')
  async revoke(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerClientResponse> {
    const client = await this.partners.revoke(scope, id, meta);
    reply.header('etag', etag(client.version));
    return partnerClientResponse(client);
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
    reply.header('etag', etag(client.version));
    return partnerClientWithSecretResponse(client);
  }

  @Get(':id/keys')
  @Authorize('read', 'PartnerApiKey')
  async listKeys(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<{ items: PartnerKeyResponse[] }> {
    return { items: (await this.partners.listKeys(scope, id)).map(partnerKeyResponse) };
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
  ): Promise<PartnerKeyWithSecretResponse> {
    const { key, apiKey } = await this.partners.createKey(scope, id, { expiresAt: dateOrNull(body.expiresAt) ?? null }, meta);
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
    const { key, apiKey } = await this.partners.rotateKey(scope, id, keyId, meta);
    revealOnce(request, { key: apiKey });
    return partnerKeyWithSecretResponse(key);
  }

  @Post(':id/keys/:keyId/revoke')
  @HttpCode(200)
  @Authorize('update', 'PartnerApiKey')
  async revokeKey(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Param('keyId', new ParseUUIDPipe()) keyId: string, @Meta() meta: RequestMeta): Promise<PartnerKeyResponse> {
    return partnerKeyResponse(await this.partners.revokeKey(scope, id, keyId, meta));
  }
}
