import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '@benteng/auth';
import type { Scope } from '@benteng/tenancy';
import { WebhookDeliveryLogService, WebhookEndpointsService, WebhookError, WebhookErrorCode, WebhookSecretsService, type WebhookDeliveryView, type WebhookEndpointPatch, type WebhookEndpointView } from '@benteng/webhooks';
import { Authorize } from '../http/access.decorator.js';
import { answerInTransaction, Idempotent } from '../http/idempotency.js';
import { patchOf } from '../http/dto/patch-of.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { created, IfMatch, parseIfMatch, withEtag } from '../http/resource-headers.js';
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

const expectedVersion = (ifMatch: string | undefined) => parseIfMatch(ifMatch, () => new WebhookError(WebhookErrorCode.VersionMismatch));

/**
 * Outbound webhook endpoints and their delivery log (owners and admins;
 * libs/authz/src/rules/webhooks.rules.ts). Another tenant's endpoint or delivery is 404, like a
 * missing one. The signing secret is returned by create and rotation only, and never stored in an
 * idempotent replay (RevealOnce).
 */
@Controller('v1/webhook-endpoints')
export class WebhookEndpointsController {
  constructor(
    private readonly webhooks: WebhookEndpointsService,
    private readonly secrets: WebhookSecretsService,
    private readonly deliveryLog: WebhookDeliveryLogService,
  ) {}

  @Get()
  @Authorize('read', 'WebhookEndpoint')
  list(@CurrentScope() scope: Scope, @Query() query: ListWebhookEndpointsQuery): Promise<Page<WebhookEndpointResponse>> {
    return paginate(query, 'createdAt', (page) => this.webhooks.list(scope, page), webhookEndpointResponse);
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
    const render = (endpoint: WebhookEndpointView) => webhookEndpointWithSecretResponse(created(reply, '/v1/webhook-endpoints', withEtag(reply, endpoint)));
    const { endpoint, secret } = await this.webhooks.create(
      scope,
      { url: body.url, events: body.events, ...(body.description !== undefined ? { description: body.description } : {}), ...(body.enabled !== undefined ? { enabled: body.enabled } : {}) },
      meta,
      answerInTransaction(reply, render),
    );
    revealOnce(request, { secret });
    return render(endpoint);
  }

  @Get(':id')
  @Authorize('read', 'WebhookEndpoint')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<WebhookEndpointResponse> {
    return webhookEndpointResponse(withEtag(reply, await this.webhooks.get(scope, id)));
  }

  @Patch(':id')
  @Authorize('update', 'WebhookEndpoint')
  async update(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateWebhookEndpointDto,
    @IfMatch() ifMatch: string | undefined,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointResponse> {
    const patch: WebhookEndpointPatch = patchOf(body, ['url', 'description', 'events', 'enabled']);
    return webhookEndpointResponse(withEtag(reply, await this.webhooks.update(scope, id, patch, expectedVersion(ifMatch), meta)));
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('delete', 'WebhookEndpoint')
  async remove(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @IfMatch() ifMatch: string | undefined, @Meta() meta: RequestMeta): Promise<void> {
    await this.webhooks.remove(scope, id, expectedVersion(ifMatch), meta);
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
    const { endpoint, secret } = await this.secrets.rotate(scope, id, meta);
    revealOnce(request, { secret });
    return webhookEndpointWithSecretResponse(withEtag(reply, endpoint));
  }

  @Get(':id/deliveries')
  @Authorize('read', 'WebhookDelivery')
  deliveries(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Query() query: ListWebhookDeliveriesQuery): Promise<Page<WebhookDeliveryResponse>> {
    return paginate(query, 'createdAt', (page) => this.deliveryLog.list(scope, id, page), webhookDeliveryResponse);
  }

  @Get(':id/deliveries/:deliveryId')
  @Authorize('read', 'WebhookDelivery')
  async delivery(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('deliveryId', new ParseUUIDPipe()) deliveryId: string,
  ): Promise<WebhookDeliveryDetailResponse> {
    return webhookDeliveryDetailResponse(await this.deliveryLog.get(scope, id, deliveryId));
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
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookDeliveryResponse> {
    return webhookDeliveryResponse(await this.deliveryLog.redeliver(scope, id, deliveryId, meta, answerInTransaction(reply, (d: WebhookDeliveryView) => webhookDeliveryResponse(d))));
  }

  /** 202: a `webhook.ping` message is queued for this endpoint only. */
  @Post(':id/ping')
  @HttpCode(202)
  @Authorize('create', 'WebhookDelivery')
  @Idempotent()
  async ping(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<WebhookDeliveryResponse> {
    return webhookDeliveryResponse(await this.deliveryLog.ping(scope, id, meta, answerInTransaction(reply, (d: WebhookDeliveryView) => webhookDeliveryResponse(d))));
  }
}
