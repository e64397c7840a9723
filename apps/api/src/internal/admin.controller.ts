import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { IsIn, IsString, IsUUID, Matches, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { InternalAdmin, REVOCATION_KINDS, type AdminRevocationKind, type PlatformScope } from '@benteng/platform';
import { InternalAccess } from '../http/access.decorator.js';
import { CurrentPlatformScope } from './verified-service-request.js';

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

const uuid = new ParseUUIDPipe();

/**
 * Operator admin actions (issue #7), over InternalAdmin (libs/platform/src/internal-admin.ts).
 * Every one needs a reason (the guard refuses a state-changing call without one, 400) and is
 * audited in the platform audit log and in each tenant concerned.
 */
@Controller('internal/v1')
export class InternalAdminController {
  constructor(private readonly admin: InternalAdmin) {}

  @Post('tenants')
  @HttpCode(201)
  @InternalAccess('create', 'Tenant')
  createTenant(@CurrentPlatformScope() scope: PlatformScope, @Body() body: CreateTenantDto) {
    return this.admin.createTenant(scope, { slug: body.slug, name: body.name });
  }

  @Post('tenants/:id/suspend')
  @HttpCode(200)
  @InternalAccess('update', 'Tenant')
  suspendTenant(@CurrentPlatformScope() scope: PlatformScope, @Param('id', uuid) id: string) {
    return this.admin.setTenantStatus(scope, id, 'suspended');
  }

  @Post('tenants/:id/reactivate')
  @HttpCode(200)
  @InternalAccess('update', 'Tenant')
  reactivateTenant(@CurrentPlatformScope() scope: PlatformScope, @Param('id', uuid) id: string) {
    return this.admin.setTenantStatus(scope, id, 'active');
  }

  @Post('users/:id/lock')
  @HttpCode(200)
  @InternalAccess('update', 'User')
  lockUser(@CurrentPlatformScope() scope: PlatformScope, @Param('id', uuid) id: string) {
    return this.admin.setUserStatus(scope, id, 'locked');
  }

  @Post('users/:id/unlock')
  @HttpCode(200)
  @InternalAccess('update', 'User')
  unlockUser(@CurrentPlatformScope() scope: PlatformScope, @Param('id', uuid) id: string) {
    return this.admin.setUserStatus(scope, id, 'active');
  }

  @Post('revocations')
  @HttpCode(200)
  @InternalAccess('update', 'Session')
  revoke(@CurrentPlatformScope() scope: PlatformScope, @Body() body: RevocationDto) {
    return this.admin.revoke(scope, { kind: body.kind, id: body.id, tenantId: body.tenantId });
  }
}
