import { BadRequestException, Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsDate, IsInt, IsIP, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { UUID_SOURCE } from '@benteng/common';
import { BreachScoping, COMPROMISED_CREDENTIAL_KINDS, IncidentTools, PRINCIPAL_PATTERN, type CompromisedCredentialKind, type PlatformScope } from '@benteng/platform';
import { InternalAccess } from '../http/access.decorator.js';
import { CurrentPlatformScope } from './verified-service-request.js';

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

const CREDENTIAL_PATTERN = new RegExp(`^(${COMPROMISED_CREDENTIAL_KINDS.join('|')}):${UUID_SOURCE}$`);

export class BreachScopeDto {
  /** A compromised credential: `session:<id>`, `api_key:<id>`, `partner_client:<id>` or `user:<id>`. */
  @IsOptional()
  @IsString()
  @Matches(CREDENTIAL_PATTERN)
  credential?: string;

  /** Principals (`user:<id>`, `partner:<id>`) whose activity in the window counts. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @Matches(PRINCIPAL_PATTERN, { each: true })
  principals?: string[];

  /** Client addresses whose activity in the window counts. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsIP(undefined, { each: true })
  ips?: string[];

  @IsOptional()
  @Transform(toDate)
  @IsDate()
  from?: Date;

  @IsOptional()
  @Transform(toDate)
  @IsDate()
  to?: Date;

  /** When the breach was detected: the notification deadline is 72 hours later. */
  @Transform(toDate)
  @IsDate()
  detectedAt!: Date;
}

/**
 * Incident tools (issue #7), over IncidentTools (libs/platform/src/incident-tools.ts): abuse blocks
 * across tenants and lifting them, cross-tenant audit search and chain verification, and the
 * incident view of one principal or address. Who may call each is the operator rules' (read and
 * update on SecurityBlock, read on PlatformAuditEvent: security and platform-admin). Every call is
 * recorded in the platform audit log with its filters, the operator and (for the lift) the reason.
 */
@Controller('internal/v1')
export class IncidentsController {
  constructor(
    private readonly tools: IncidentTools,
    private readonly breaches: BreachScoping,
  ) {}

  @Get('blocks')
  @InternalAccess('read', 'SecurityBlock')
  async blocks(@CurrentPlatformScope() scope: PlatformScope, @Query() query: ListBlocksQuery) {
    return { items: await this.tools.listBlocks(scope, { active: query.active ?? false, limit: query.limit ?? 100 }) };
  }

  @Post('blocks/lift')
  @HttpCode(200)
  @InternalAccess('update', 'SecurityBlock')
  lift(@CurrentPlatformScope() scope: PlatformScope, @Body() body: LiftBlockDto) {
    if (body.principal === undefined && body.ip === undefined) throw new BadRequestException('principal or ip is required');
    return this.tools.lift(scope, { principal: body.principal, ip: body.ip });
  }

  @Get('audit')
  @InternalAccess('read', 'PlatformAuditEvent')
  async searchAudit(@CurrentPlatformScope() scope: PlatformScope, @Query() query: SearchAuditQuery) {
    return { items: await this.tools.searchAudit(scope, { tenantId: query.tenantId, actor: query.actor, type: query.type, from: query.from, to: query.to, limit: query.limit ?? 100 }) };
  }

  @Post('tenants/:id/audit/verify')
  @HttpCode(200)
  @InternalAccess('read', 'PlatformAuditEvent')
  verify(@CurrentPlatformScope() scope: PlatformScope, @Param('id', new ParseUUIDPipe()) tenantId: string) {
    return this.tools.verify(scope, tenantId);
  }

  @Get('incidents')
  @InternalAccess('read', 'PlatformAuditEvent')
  incident(@CurrentPlatformScope() scope: PlatformScope, @Query() query: IncidentQuery) {
    if ((query.principal === undefined) === (query.ip === undefined)) throw new BadRequestException('exactly one of principal and ip is required');
    return this.tools.incident(scope, { principal: query.principal, ip: query.ip }, { from: query.from, to: query.to });
  }

  /**
   * Breach scoping (docs/privacy.md): a compromised credential, or a window with principals and/or
   * addresses. A POST because the query names people and credentials that belong in no URL, and it
   * carries a signed reason like every state-changing call; it changes nothing.
   */
  @Post('incidents/breach-scope')
  @HttpCode(200)
  @InternalAccess('read', 'PlatformAuditEvent')
  breachScope(@CurrentPlatformScope() scope: PlatformScope, @Body() body: BreachScopeDto) {
    const targets = (body.principals?.length ?? 0) + (body.ips?.length ?? 0);
    if (body.credential === undefined && (targets === 0 || body.from === undefined || body.to === undefined)) {
      throw new BadRequestException('a credential, or principals or ips with from and to, is required');
    }
    if (body.from !== undefined && body.to !== undefined && body.from >= body.to) throw new BadRequestException('from must be before to');
    const [kind, id] = body.credential === undefined ? [] : (body.credential.split(':') as [CompromisedCredentialKind, string]);
    return this.breaches.scope(scope, {
      credential: kind && id ? { kind, id: id.toLowerCase() } : undefined,
      principals: body.principals?.map((p) => p.toLowerCase()),
      ips: body.ips,
      from: body.from,
      to: body.to,
      detectedAt: body.detectedAt,
    });
  }
}
