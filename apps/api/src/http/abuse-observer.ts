import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { principalId } from '@benteng/authz';
import { AbuseDetector, clientIp, SecurityBlocksService } from '@benteng/security';
import { refusedAsBlocked } from './gate/block-refusal.js';
import { authOfRequest } from './request-auth.js';
import { processMetrics } from '../metrics/metrics.js';

/**
 * Feeds every answered request to the abuse detector once the response is sent (Fastify
 * onResponse), so detection never delays an answer. A route is an object route when its path
 * names an object (`/:id` or another parameter); its `id` (or last) parameter is the object read.
 * Blocks the detector places are recorded, audited and announced by SecurityBlocksService.
 */
@Injectable()
export class AbuseObserver {
  /** Observations still being written: awaited on shutdown and by tests (settled()). */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly detector: AbuseDetector,
    private readonly blocks: SecurityBlocksService,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AbuseObserver.name);
  }

  observe(request: FastifyRequest, reply: FastifyReply): void {
    if (refusedAsBlocked(request)) return;
    const work = this.record(request, reply.statusCode).catch((error: unknown) => this.logger.warn({ err: error }, 'abuse observation failed'));
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Resolves when every observation started so far has been written. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async record(request: FastifyRequest, status: number): Promise<void> {
    const auth = authOfRequest(request);
    const route = request.routeOptions.url;
    const params = (request.params ?? {}) as Record<string, unknown>;
    const objectRoute = route !== undefined && route.includes('/:');
    const named = typeof params['id'] === 'string' ? params['id'] : Object.values(params).findLast((v) => typeof v === 'string');
    const placed = await this.detector.observe({
      ip: clientIp(request),
      method: request.method,
      status,
      objectRoute,
      ...(auth ? { principal: principalId(auth.scope.principal), tenantId: auth.scope.tenantId } : {}),
      ...(objectRoute && typeof named === 'string' ? { objectId: named } : {}),
    });
    for (const block of placed) {
      processMetrics.blocksPlaced.inc({ signal: block.signal });
      await this.blocks.placed(block, String(request.id));
    }
  }
}
