import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import { IsIn, IsString, IsUUID, Matches, MaxLength, MinLength, ValidateIf } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { clientIp } from '@benteng/security';
import { InternalAccess } from '../http/access.decorator.js';
import { InternalAdmin, REVOCATION_KINDS, type AdminCall, type AdminRevocationKind } from './admin.service.js';
import { CurrentOperator, type OperatorContext } from './internal-auth.js';

export class CreateTenantDto {
  @IsString()
  @Matches(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/)
  slug!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;
}

const TENANT_BOUND: readonly AdminRevocationKind[] = ['session', 'partner_client', 'partner_key'];

export class RevocationDto {
  @IsIn(REVOCATION_KINDS)
  kind!: AdminRevocationKind;

  @IsUUID()
  id!: string;

  /** Required for sessions and partner credentials (their tenant); ignored otherwise. */
  @ValidateIf((o: RevocationDto) => TENANT_BOUND.includes(o.kind) || o.tenantId !== undefined)
  @IsUUID()
  tenantId?: string;
}

const INCIDENT_ROLES = ['platform-admin', 'security'] as const;
const uuid = new ParseUUIDPipe();

function callOf(operator: OperatorContext, request: FastifyRequest): AdminCall {
  return { operator, ip: clientIp(request), requestId: String(request.id) };
}

/**
 * Operator admin actions (issue #7). Every one needs a reason (the guard refuses a state-changing
 * call without one, 400) and is audited in the platform audit log and in each tenant concerned.
 */
@Controller('internal/v1')
export class InternalAdminController {
  constructor(private readonly admin: InternalAdmin) {}

  @Post('tenants')
  @HttpCode(201)
  @InternalAccess('create', 'Tenant', { roles: ['platform-admin'] })
  createTenant(@CurrentOperator() operator: OperatorContext, @Body() body: CreateTenantDto, @Req() request: FastifyRequest) {
    return this.admin.createTenant(callOf(operator, request), { slug: body.slug, name: body.name });
  }

  @Post('tenants/:id/suspend')
  @HttpCode(200)
  @InternalAccess('update', 'Tenant', { roles: INCIDENT_ROLES })
  suspendTenant(@CurrentOperator() operator: OperatorContext, @Param('id', uuid) id: string, @Req() request: FastifyRequest) {
    return this.admin.setTenantStatus(callOf(operator, request), id, 'suspended');
  }

  @Post('tenants/:id/reactivate')
  @HttpCode(200)
  @InternalAccess('update', 'Tenant', { roles: INCIDENT_ROLES })
  reactivateTenant(@CurrentOperator() operator: OperatorContext, @Param('id', uuid) id: string, @Req() request: FastifyRequest) {
    return this.admin.setTenantStatus(callOf(operator, request), id, 'active');
  }

  @Post('users/:id/lock')
  @HttpCode(200)
  @InternalAccess('update', 'User', { roles: INCIDENT_ROLES })
  lockUser(@CurrentOperator() operator: OperatorContext, @Param('id', uuid) id: string, @Req() request: FastifyRequest) {
    return this.admin.setUserStatus(callOf(operator, request), id, 'locked');
  }

  @Post('users/:id/unlock')
  @HttpCode(200)
  @InternalAccess('update', 'User', { roles: INCIDENT_ROLES })
  unlockUser(@CurrentOperator() operator: OperatorContext, @Param('id', uuid) id: string, @Req() request: FastifyRequest) {
    return this.admin.setUserStatus(callOf(operator, request), id, 'active');
  }

  @Post('revocations')
  @HttpCode(200)
  @InternalAccess('update', 'Session', { roles: INCIDENT_ROLES })
  revoke(@CurrentOperator() operator: OperatorContext, @Body() body: RevocationDto, @Req() request: FastifyRequest) {
    return this.admin.revoke(callOf(operator, request), { kind: body.kind, id: body.id, tenantId: body.tenantId });
  }
}
