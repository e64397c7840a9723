import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { InternalAccess } from '../http/access.decorator.js';
import { Metrics, QueueDepths } from './metrics.js';

/**
 * Prometheus text exposition, on the internal listener only (docs/metrics.md). A scrape is a
 * signed operator request like any other internal call: read on Tenant, which security,
 * platform-admin and support hold, restricted to those three roles. Queue depths are read at
 * scrape time.
 */
@Controller('internal')
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    private readonly queues: QueueDepths,
  ) {}

  @Get('metrics')
  @InternalAccess('read', 'Tenant', { roles: ['security', 'platform-admin', 'support'] })
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    await this.queues.refresh();
    reply.header('content-type', this.metrics.registry.contentType);
    reply.header('cache-control', 'no-store');
    return this.metrics.registry.metrics();
  }
}
