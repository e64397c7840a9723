import { Controller, Get } from '@nestjs/common';
import { PlatformTenants, type PlatformScope } from '@benteng/platform';
import { InternalAccess } from '../http/access.decorator.js';
import { CurrentPlatformScope } from './verified-service-request.js';

/** Tenants across the platform, for operators (every role reads; the SQL function returns the allowed columns only). */
@Controller('internal/v1/tenants')
export class InternalTenantsController {
  constructor(private readonly tenants: PlatformTenants) {}

  @Get()
  @InternalAccess('read', 'Tenant')
  async list(@CurrentPlatformScope() scope: PlatformScope) {
    return { items: await this.tenants.list(scope) };
  }
}
