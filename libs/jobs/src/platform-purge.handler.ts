import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock } from '@benteng/common';
import type { AppConfig } from '@benteng/config';
import { PrismaService } from '@benteng/database';
import { PlatformJob, type PlatformJobRun, type PlatformJobHandler } from './job-handlers.js';

export const PLATFORM_PURGE = 'platform.purge';

/**
 * Platform housekeeping, every PLATFORM_CLEANUP_INTERVAL_S: removes bookkeeping rows past any use
 * (idempotency keys older than a day, session tombstones older than a day) through the one named
 * platform function `platform_purge_expired` (docs/architecture.md, invariant 4). It touches no tenant
 * data and is logged with what it removed.
 */
@PlatformJob(PLATFORM_PURGE, { everyMs: (config: AppConfig) => config.PLATFORM_CLEANUP_INTERVAL_S * 1000 })
@Injectable()
export class PlatformPurgeHandler implements PlatformJobHandler {
  constructor(
    private readonly prisma: PrismaService,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(PlatformPurgeHandler.name);
  }

  async handle(_data: unknown, context: PlatformJobRun): Promise<void> {
    await this.purge(context.requestId);
  }

  /** The purge itself; returns what it removed. */
  async purge(requestId?: string): Promise<{ idempotencyKeys: number; sessionRevocations: number }> {
    const [row] = await this.prisma.client.$queryRaw<{ idempotency_keys: bigint; session_revocations: bigint }[]>`SELECT * FROM platform_purge_expired(${this.clock.now()})`;
    const removed = { idempotencyKeys: Number(row?.idempotency_keys ?? 0), sessionRevocations: Number(row?.session_revocations ?? 0) };
    this.logger.info({ event: 'platform.purged', ...removed, requestId }, 'platform purge done');
    return removed;
  }
}
