import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { OperatorAudit, type PlatformScope } from '@benteng/platform';
import { InternalAccess } from '../http/access.decorator.js';
import { CurrentServiceRequest, CurrentPlatformScope, type VerifiedServiceRequest } from './verified-service-request.js';

export class PingDto {
  @IsOptional()
  @IsString()
  @MaxLength(200)
  note?: string;
}

/** Who is calling (service and operator), and the first state-changing operator action. */
@Controller('internal/v1')
export class OperatorsController {
  constructor(private readonly audit: OperatorAudit) {}

  @Get('whoami')
  @InternalAccess('read', 'Operator')
  whoami(@CurrentServiceRequest() caller: VerifiedServiceRequest) {
    const { record } = caller.operator!;
    return { service: caller.service, keyId: caller.keyId, operator: { id: record.id, email: record.email, displayName: record.displayName, roles: record.roles } };
  }

  /**
   * A harmless state-changing call: records operator.ping with the operator's reason in the
   * platform audit log. It exists so the reason requirement and the signed body are exercised end
   * to end before the admin functions arrive.
   */
  @Post('operators/me/ping')
  @HttpCode(200)
  @InternalAccess('create', 'PlatformAuditEvent')
  async ping(@CurrentPlatformScope() scope: PlatformScope, @Body() body: PingDto) {
    await this.audit.record(scope, 'operator.ping', 'operators/me/ping', { service: scope.principal.service, ...(body.note ? { note: body.note } : {}) });
    return { ok: true };
  }
}
