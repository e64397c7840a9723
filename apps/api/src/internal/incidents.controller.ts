import { BadRequestException, Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Req } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsDate, IsInt, IsIP, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { PlatformAuditLog, type PlatformAuditEventType } from '@benteng/audit';
import type { AuditDataValue } from '@benteng/audit';
import { principalId } from '@benteng/authz';
import { clientIp } from '@benteng/security';
import { InternalAccess } from '../http/access.decorator.js';
import { IncidentTools, PRINCIPAL_PATTERN } from './incidents.service.js';
import { CurrentOperator, type OperatorContext } from './internal-auth.js';

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);
const toDate = ({ value }: { value: unknown }) => (typeof value === 'string' && value.length > 0 && !Number.isNaN(Date.parse(value)) ? new Date(value) : value);

export class ListBlocksQuery {
  /** true: only blocks neither lifted nor expired. */
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  active?: boolean;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class LiftBlockDto {
  @IsOptional()
  @IsString()
  @Matches(PRINCIPAL_PATTERN)
  principal?: string;

  @IsOptional()
  @IsString()
  @IsIP()
  ip?: string;
}

export class SearchAuditQuery {
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  actor?: string;

  @IsOptional()
  @IsString()
  @Matches(/^[a-z_]+\.[a-z_]+$/)
  @MaxLength(100)
  type?: string;

  @IsOptional()
  @Transform(toDate)
  @IsDate()
  from?: Date;

  @IsOptional()
  @Transform(toDate)
  @IsDate()
  to?: Date;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class IncidentQuery {
  @IsOptional()
  @IsString()
  @Matches(PRINCIPAL_PATTERN)
  principal?: string;

  @IsOptional()
  @IsString()
  @IsIP()
  ip?: string;

  @IsOptional()
  @Transform(toDate)
  @IsDate()
  from?: Date;

  @IsOptional()
  @Transform(toDate)
  @IsDate()
  to?: Date;
}

/** Without `from`, the incident view looks back this far. */
const DEFAULT_INCIDENT_WINDOW_MS = 24 * 3600 * 1000;

/**
 * Incident tools (issue #7): abuse blocks across tenants and lifting them, cross-tenant audit
 * search and chain verification, and the incident view of one principal or address. Security and
 * platform-admin operators only (reads: read on PlatformAuditEvent; the lift: update on
 * SecurityBlock's liftedAt/liftedBy; support has neither). Every call is
 * recorded in the platform audit log with its filters, the operator and (for the lift) the reason.
 */
@Controller('internal/v1')
export class IncidentsController {
  constructor(
    private readonly tools: IncidentTools,
    private readonly platformAudit: PlatformAuditLog,
  ) {}

  @Get('blocks')
  @InternalAccess('read', 'PlatformAuditEvent', { roles: ['security', 'platform-admin'] })
  async blocks(@CurrentOperator() operator: OperatorContext, @Query() query: ListBlocksQuery, @Req() request: FastifyRequest) {
    const items = await this.tools.blocks({ active: query.active ?? false, limit: query.limit ?? 100 });
    await this.record(operator, request, 'internal.blocks_listed', 'security_blocks', { active: query.active ?? false, count: items.length });
    return { items };
  }

  @Post('blocks/lift')
  @HttpCode(200)
  @InternalAccess('update', 'SecurityBlock', { roles: ['security', 'platform-admin'] })
  async lift(@CurrentOperator() operator: OperatorContext, @Body() body: LiftBlockDto, @Req() request: FastifyRequest) {
    if (body.principal === undefined && body.ip === undefined) throw new BadRequestException('principal or ip is required');
    const result = await this.tools.lift({ principal: body.principal, ip: body.ip }, operator.record.id, operator.reason ?? '', String(request.id));
    await this.record(operator, request, 'internal.block_lifted', body.principal ?? `ip:${body.ip}`, {
      principal: body.principal ?? null,
      blockedIp: body.ip ?? null,
      redisPrincipal: result.principal?.redis ?? null,
      redisIp: result.ip?.redis ?? null,
      rows: result.principal?.rows.length ?? 0,
    });
    return result;
  }

  @Get('audit')
  @InternalAccess('read', 'PlatformAuditEvent', { roles: ['security', 'platform-admin'] })
  async searchAudit(@CurrentOperator() operator: OperatorContext, @Query() query: SearchAuditQuery, @Req() request: FastifyRequest) {
    const items = await this.tools.searchAudit({ tenantId: query.tenantId, actor: query.actor, type: query.type, from: query.from, to: query.to, limit: query.limit ?? 100 });
    await this.record(operator, request, 'internal.audit_searched', query.tenantId ? `tenant:${query.tenantId}` : 'audit_events', {
      tenantId: query.tenantId ?? null,
      actor: query.actor ?? null,
      auditType: query.type ?? null,
      from: query.from?.toISOString() ?? null,
      to: query.to?.toISOString() ?? null,
      count: items.length,
    });
    return { items };
  }

  @Post('tenants/:id/audit/verify')
  @HttpCode(200)
  @InternalAccess('read', 'PlatformAuditEvent', { roles: ['security', 'platform-admin'] })
  async verify(@CurrentOperator() operator: OperatorContext, @Param('id', new ParseUUIDPipe()) tenantId: string, @Req() request: FastifyRequest) {
    const result = await this.tools.verify(tenantId);
    await this.record(operator, request, 'internal.audit_verified', `tenant:${tenantId}`, {
      ok: result.ok,
      count: result.count,
      ...(result.ok ? {} : { seq: result.seq, problem: result.problem }),
    });
    return result;
  }

  @Get('incidents')
  @InternalAccess('read', 'PlatformAuditEvent', { roles: ['security', 'platform-admin'] })
  async incident(@CurrentOperator() operator: OperatorContext, @Query() query: IncidentQuery, @Req() request: FastifyRequest) {
    if ((query.principal === undefined) === (query.ip === undefined)) throw new BadRequestException('exactly one of principal and ip is required');
    const to = query.to ?? new Date();
    const from = query.from ?? new Date(to.getTime() - DEFAULT_INCIDENT_WINDOW_MS);
    const view = await this.tools.incident({ principal: query.principal, ip: query.ip }, from, to);
    await this.record(operator, request, 'internal.incident_viewed', query.principal ?? `ip:${query.ip}`, {
      from: view.query.from,
      to: view.query.to,
      events: view.events.length,
      tenants: view.tenants.length,
      credentials: view.credentials.length,
    });
    return view;
  }

  private record(operator: OperatorContext, request: FastifyRequest, type: PlatformAuditEventType, subject: string, data: Record<string, AuditDataValue>): Promise<void> {
    return this.platformAudit.record({
      type,
      outcome: 'success',
      actor: principalId(operator.principal),
      subject,
      reason: operator.reason,
      ip: clientIp(request),
      requestId: String(request.id),
      data: { service: operator.principal.service, ...data },
    });
  }
}
