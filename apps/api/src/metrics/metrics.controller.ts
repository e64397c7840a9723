import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { InternalAccess } from '../http/access.decorator.js';
import { KeyAges, Metrics, QueueDepths, StaleSealedValues } from './metrics.js';

/**
 * Prometheus text exposition, on the internal listener only (docs/metrics.md). A scrape is either a
 * signed operator request like any other internal call (read on PlatformMetrics, which the operator
 * rules give every operator role) or a stock Prometheus with a scrape credential
 * (`Authorization: Bearer bt_ms_…`), which opens this route and no other. Queue depths are read at
 * scrape time.
 */
@Controller('internal')
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    private readonly queues: QueueDepths,
    private readonly keyAges: KeyAges,
    private readonly staleSealed: StaleSealedValues,
  ) {}

  @Get('metrics')
  @InternalAccess('read', 'PlatformMetrics', { scrapeCredential: true })
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    await Promise.all([this.queues.refresh(), this.keyAges.refresh(), this.staleSealed.refresh()]);
    reply.header('content-type', this.metrics.registry.contentType);
    reply.header('cache-control', 'no-store');
    return this.metrics.registry.metrics();
  }
}
