import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { RequestMeta } from '@benteng/auth';
import { PrivacyService, type PrivacyListQuery } from '@benteng/privacy';
import type { Scope } from '@benteng/tenancy';
import { Authorize, RateLimit } from '../http/access.decorator.js';
import { Idempotent } from '../http/idempotency.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { created } from '../http/resource-headers.js';
import { CreatePrivacyRequestDto, ListPrivacyRequestsQuery } from './dto/privacy.dto.js';
import { privacyRequestResponse, type PrivacyRequestResponse } from './privacy-request.response.js';

/**
 * Data subject requests (UU PDP; libs/privacy, docs/privacy.md): access to and erasure of one
 * person's data in this tenant. Anyone about themselves (`subject: "me"`), owners and admins about
 * any member. Rate-limited in the `export` class: an access request is an export, and an erasure
 * is the heaviest write there is.
 */
@Controller('v1/privacy/requests')
export class PrivacyController {
  constructor(private readonly privacy: PrivacyService) {}

  /** 202: an access request's export is being built (poll exportId); an erasure is already done. */
  @Post()
  @HttpCode(202)
  @Authorize('create', 'PrivacyRequest')
  @RateLimit('export')
  @Idempotent()
  async create(@CurrentScope() scope: Scope, @Body() body: CreatePrivacyRequestDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<PrivacyRequestResponse> {
    return privacyRequestResponse(created(reply, '/v1/privacy/requests', await this.privacy.request(scope, { kind: body.kind, subject: body.subject }, meta)), scope);
  }

  @Get()
  @Authorize('read', 'PrivacyRequest')
  list(@CurrentScope() scope: Scope, @Query() query: ListPrivacyRequestsQuery): Promise<Page<PrivacyRequestResponse>> {
    return paginate(query, 'createdAt', (page) => this.privacy.list(scope, page as PrivacyListQuery), (r) => privacyRequestResponse(r, scope));
  }

  @Get(':id')
  @Authorize('read', 'PrivacyRequest')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<PrivacyRequestResponse> {
    return privacyRequestResponse(await this.privacy.get(scope, id), scope);
  }
}
