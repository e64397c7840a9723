import { Body, Controller, Delete, Get, Headers, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '@benteng/auth';
import type { Scope } from '@benteng/tenancy';
import { WebhookEndpointsService, WebhookError, WebhookErrorCode, type WebhookEndpointPatch } from '@benteng/webhooks';
import { Authorize } from '../http/access.decorator.js';
import { Idempotent } from '../http/idempotency.js';
import { decodeCursor, etag, nextCursor, parseIfMatch } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { IdempotentRevealOnce, RevealOnce, revealOnce } from '../http/reveal-once.js';
import { CreateWebhookEndpointDto, ListWebhookDeliveriesQuery, ListWebhookEndpointsQuery, UpdateWebhookEndpointDto } from './dto/webhook-endpoint.dto.js';
import {
  webhookDeliveryDetailResponse,
  webhookDeliveryResponse,
  webhookEndpointResponse,
  webhookEndpointWithSecretResponse,
  type WebhookDeliveryDetailResponse,
  type WebhookDeliveryResponse,
  type WebhookEndpointResponse,
  type WebhookEndpointWithSecretResponse,
} from './webhook-endpoint.response.js';

const DEFAULT_PAGE = 20;
const mismatch = () => new WebhookError(WebhookErrorCode.VersionMismatch);

/**
 * Outbound webhook endpoints and their delivery log (owners and admins;
 * libs/authz/src/rules/webhooks.rules.ts). Another tenant's endpoint or delivery is 404, like a
 * missing one. The signing secret is returned by create and rotation only, and never stored in an
 * idempotent replay (RevealOnce).
 */
@Controller('v1/webhook-endpoints')
export class WebhookEndpointsController {
  constructor(private readonly webhooks: WebhookEndpointsService) {}

  @Get()
  @Authorize('read', 'WebhookEndpoint')
  async list(@CurrentScope() scope: Scope, @Query() query: ListWebhookEndpointsQuery): Promise<{ items: WebhookEndpointResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const items = await this.webhooks.list(scope, { limit, ...(query.cursor ? { after: decodeCursor(query.cursor, 'createdAt') } : {}) });
    return { items: items.map(webhookEndpointResponse), nextCursor: nextCursor(items, limit, 'createdAt') };
  }

  @Post()
  @Authorize('create', 'WebhookEndpoint')
  @IdempotentRevealOnce()
  async create(
    @CurrentScope() scope: Scope,
    @Body() body: CreateWebhookEndpointDto,
    @Meta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointWithSecretResponse> {
    const { endpoint, secret } = await this.webhooks.create(
      scope,
      { url: body.url, events: body.events, ...(body.description !== undefined ? { description: body.description } : {}), ...(body.enabled !== undefined ? { enabled: body.enabled } : {}) },
      meta,
    );
    revealOnce(request, { secret });
    reply.header('etag', etag(endpoint.version)).header('location', `/v1/webhook-endpoints/${endpoint.id}`);
    return webhookEndpointWithSecretResponse(endpoint);
  }

  @Get(':id')
  @Authorize('read', 'WebhookEndpoint')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<WebhookEndpointResponse> {
    const endpoint = await this.webhooks.get(scope, id);
    reply.header('etag', etag(endpoint.version));
    return webhookEndpointResponse(endpoint);
  }

  @Patch(':id')
  @Authorize('update', 'WebhookEndpoint')
  async update(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateWebhookEndpointDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointResponse> {
    const patch: WebhookEndpointPatch = {};
    if (body.url !== undefined) patch.url = body.url;
    if (body.description !== undefined) patch.description = body.description;
    if (body.events !== undefined) patch.events = body.events;
    if (body.enabled !== undefined) patch.enabled = body.enabled;
    const endpoint = await this.webhooks.update(scope, id, patch, parseIfMatch(ifMatch, mismatch), meta);
    reply.header('etag', etag(endpoint.version));
    return webhookEndpointResponse(endpoint);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('delete', 'WebhookEndpoint')
  async remove(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Headers('if-match') ifMatch: string | undefined, @Meta() meta: RequestMeta): Promise<void> {
    await this.webhooks.remove(scope, id, parseIfMatch(ifMatch, mismatch), meta);
  }

  @Post(':id/secret/rotate')
  @HttpCode(200)
  @Authorize('update', 'WebhookEndpoint')
  @RevealOnce()
  async rotateSecret(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Meta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointWithSecretResponse> {
    const { endpoint, secret } = await this.webhooks.rotateSecret(scope, id, meta);
    revealOnce(request, { secret });
    reply.header('etag', etag(endpoint.version));
    return webhookEndpointWithSecretResponse(endpoint);
  }

  @Get(':id/deliveries')
  @Authorize('read', 'WebhookDelivery')
  async deliveries(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: ListWebhookDeliveriesQuery,
  ): Promise<{ items: WebhookDeliveryResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const items = await this.webhooks.listDeliveries(scope, id, { limit, ...(query.cursor ? { after: decodeCursor(query.cursor, 'createdAt') } : {}) });
    return { items: items.map(webhookDeliveryResponse), nextCursor: nextCursor(items, limit, 'createdAt') };
  }

  @Get(':id/deliveries/:deliveryId')
  @Authorize('read', 'WebhookDelivery')
  async delivery(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('deliveryId', new ParseUUIDPipe()) deliveryId: string,
  ): Promise<WebhookDeliveryDetailResponse> {
    return webhookDeliveryDetailResponse(await this.webhooks.getDelivery(scope, id, deliveryId));
  }

  /** 202: the attempt is queued; its outcome shows in the delivery log. */
  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @Authorize('create', 'WebhookDelivery')
  @Idempotent()
  async redeliver(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('deliveryId', new ParseUUIDPipe()) deliveryId: string,
    @Meta() meta: RequestMeta,
  ): Promise<WebhookDeliveryResponse> {
    return webhookDeliveryResponse(await this.webhooks.redeliver(scope, id, deliveryId, meta));
  }

  /** 202: a `webhook.ping` message is queued for this endpoint only. */
  @Post(':id/ping')
  @HttpCode(202)
  @Authorize('create', 'WebhookDelivery')
  @Idempotent()
  async ping(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta): Promise<WebhookDeliveryResponse> {
    return webhookDeliveryResponse(await this.webhooks.ping(scope, id, meta));
  }
}
