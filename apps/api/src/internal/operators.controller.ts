import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { PlatformAuditLog } from '@benteng/audit';
import { principalId } from '@benteng/authz';
import { clientIp } from '@benteng/security';
import { InternalAccess } from '../http/access.decorator.js';
import { CurrentInternalCaller, CurrentOperator, type InternalCaller, type OperatorContext } from './internal-auth.js';

export class PingDto {
  @IsOptional()
  @IsString()
  @MaxLength(200)
  note?: string;
}

/** Who is calling (service and operator), and the first state-changing operator action. */
@Controller('internal/v1')
export class OperatorsController {
  constructor(private readonly audit: PlatformAuditLog) {}

  @Get('whoami')
  @InternalAccess('read', 'Operator')
  whoami(@CurrentInternalCaller() caller: InternalCaller) {
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
  async ping(@CurrentOperator() operator: OperatorContext, @Body() body: PingDto, @Req() request: FastifyRequest) {
    await this.audit.record({
      type: 'operator.ping',
      outcome: 'success',
      actor: principalId(operator.principal),
      subject: 'operators/me/ping',
      reason: operator.reason,
      ip: clientIp(request),
      requestId: String(request.id),
      data: { service: operator.principal.service, ...(body.note ? { note: body.note } : {}) },
    });
    return { ok: true };
  }
}
