import { Body, Controller, Get, Header, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '@benteng/auth';
import { InvitationsService, type InvitationView } from '@benteng/members';
import type { Scope } from '@benteng/tenancy';
import { Authorize, Anonymous, RateLimit } from '../http/access.decorator.js';
import { answerInTransaction } from '../http/idempotency.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { created } from '../http/resource-headers.js';
import { IdempotentRevealOnce, revealOnce } from '../http/reveal-once.js';
import { AcceptInvitationDto, CreateInvitationDto, ListInvitationsQuery, RegisterWithInvitationDto } from './dto/invitation.dto.js';
import {
  acceptedInvitationResponse,
  invitationResponse,
  invitationWithTokenResponse,
  type AcceptedInvitationResponse,
  type InvitationResponse,
  type InvitationWithTokenResponse,
} from './invitation.response.js';

/** Invitations per page when the client does not say (at most 100, PageQuery), as for members. */
const INVITATIONS_PAGE = 50;

/**
 * Invitations (issue 14): the only way a person comes to belong to a tenant. Owners and admins
 * invite, list and revoke (libs/authz/src/rules/memberships.rules.ts); the invitee accepts, from
 * their own session or by creating their account. Another tenant's invitation is 404.
 */
@Controller('v1/invitations')
export class InvitationsController {
  constructor(private readonly invitations: InvitationsService) {}

  @Get()
  @Authorize('read', 'Invitation')
  list(@CurrentScope() scope: Scope, @Query() query: ListInvitationsQuery): Promise<Page<InvitationResponse>> {
    return paginate(query, 'createdAt', (page) => this.invitations.list(scope, page), invitationResponse, INVITATIONS_PAGE);
  }

  @Post()
  @Authorize('create', 'Invitation')
  @IdempotentRevealOnce()
  async create(
    @CurrentScope() scope: Scope,
    @Body() body: CreateInvitationDto,
    @Meta() meta: RequestMeta,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InvitationWithTokenResponse> {
    const render = (invitation: InvitationView) => invitationWithTokenResponse(created(reply, '/v1/invitations', invitation));
    const input = { email: body.email, role: body.role, ...(body.displayName !== undefined ? { displayName: body.displayName } : {}) };
    const { invitation, token } = await this.invitations.create(scope, input, meta, answerInTransaction(reply, render));
    if (token) revealOnce(request, { token });
    else reply.header('cache-control', 'no-store');
    return render(invitation);
  }

  /**
   * The invitee accepts from their own session, in whichever tenant it is; the account's email must
   * be the invited one. Then POST /v1/auth/switch-tenant reaches the new tenant.
   */
  @Post('accept')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @Authorize('update', 'User')
  @RateLimit('auth')
  async accept(@CurrentScope() scope: Scope, @Body() body: AcceptInvitationDto, @Meta() meta: RequestMeta): Promise<AcceptedInvitationResponse> {
    return acceptedInvitationResponse(await this.invitations.accept(scope, body.token, meta));
  }

  /** A new account for the invited email, with its first membership; then POST /v1/auth/login. */
  @Post('register')
  @HttpCode(201)
  @Header('cache-control', 'no-store')
  @RateLimit('auth')
  @Anonymous('register: the invitation token in the body is the credential (256 random bits, single use; rate-limited as auth)', { credential: 'invitation-token' })
  async register(@Body() body: RegisterWithInvitationDto, @Meta() meta: RequestMeta): Promise<AcceptedInvitationResponse> {
    return acceptedInvitationResponse(await this.invitations.register({ token: body.token, password: body.password, ...(body.name !== undefined ? { name: body.name } : {}) }, meta));
  }

  @Get(':id')
  @Authorize('read', 'Invitation')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<InvitationResponse> {
    return invitationResponse(await this.invitations.get(scope, id));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @Authorize('update', 'Invitation')
  async revoke(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta): Promise<InvitationResponse> {
    return invitationResponse(await this.invitations.revoke(scope, id, meta));
  }
}
