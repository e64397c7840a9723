import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { IsISO8601, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { MetricsScrapeCredentials, type PlatformScope } from '@benteng/platform';
import { InternalAccess } from '../http/access.decorator.js';
import { CurrentPlatformScope } from './verified-service-request.js';

export class CreateMetricsCredentialDto {
  /** Who scrapes with it, for the list (e.g. `prometheus-prod`). */
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @Matches(/^[\x20-\x7e]+$/, { message: 'must be printable ASCII' })
  name!: string;

  /** Optional end of validity (ISO 8601); without it the credential lasts until revoked. */
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

const uuid = new ParseUUIDPipe();

/**
 * Prometheus scrape credentials (docs/metrics.md), over MetricsScrapeCredentials
 * (libs/platform/src/metrics-scrape-credentials.ts): platform-admins create one (its `token` is in
 * this answer only), list them and revoke them. Rotation: create the new one, point Prometheus at
 * it, revoke the old one.
 */
@Controller('internal/v1/metrics/credentials')
export class MetricsCredentialsController {
  constructor(private readonly credentials: MetricsScrapeCredentials) {}

  @Post()
  @HttpCode(201)
  @InternalAccess('create', 'MetricsScrapeCredential')
  async create(@CurrentPlatformScope() scope: PlatformScope, @Body() body: CreateMetricsCredentialDto) {
    const { credential, token } = await this.credentials.create(scope, { name: body.name, ...(body.expiresAt ? { expiresAt: new Date(body.expiresAt) } : {}) });
    return { ...credential, token };
  }

  @Get()
  @InternalAccess('read', 'MetricsScrapeCredential')
  async list(@CurrentPlatformScope() scope: PlatformScope) {
    return { items: await this.credentials.list(scope) };
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @InternalAccess('update', 'MetricsScrapeCredential')
  revoke(@CurrentPlatformScope() scope: PlatformScope, @Param('id', uuid) id: string) {
    return this.credentials.revoke(scope, id);
  }
}
