import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock } from '@benteng/common';
import type { AppConfig } from '@benteng/config';
import { PrismaService } from '@benteng/database';
import { PlatformJob, type PlatformJobRun, type PlatformJobHandler } from '@benteng/jobs';
import { ExportBookkeeping } from './export-bookkeeping.js';
import { EXPORTS_CLEANUP_JOB } from './export.types.js';

/** Exports looked up per call of exports_expired (the function caps it at 1000). */
const BATCH = 200;
/** Batches per run at most; whatever is left waits for the next run. */
const MAX_BATCHES = 50;

/**
 * `exports.cleanup`, a platform job every PLATFORM_CLEANUP_INTERVAL_S: deletes the files of ready
 * exports past their expiry and marks them expired. Finding them crosses tenants, so it goes
 * through the one named platform function `exports_expired` (tenant and id, nothing else); each
 * export is then expired inside its own tenant as `system:cleanup` (ExportBookkeeping.expire),
 * which checks the expiry again, so a run racing another changes and audits each export once.
 *
 * Named for its feature rather than `platform.cleanup`: other features clean up on the same
 * interval with handlers of their own, and a job name has exactly one handler.
 */
@PlatformJob(EXPORTS_CLEANUP_JOB, { everyMs: (config: AppConfig) => config.PLATFORM_CLEANUP_INTERVAL_S * 1000 })
@Injectable()
export class ExportsCleanupHandler implements PlatformJobHandler {
  constructor(
    private readonly prisma: PrismaService,
    private readonly bookkeeping: ExportBookkeeping,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(ExportsCleanupHandler.name);
  }

  async handle(_data: unknown, context: PlatformJobRun): Promise<void> {
    const now = this.clock.now();
    let expired = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const due = await this.prisma.client.$queryRaw<{ tenant_id: string; id: string }[]>`SELECT tenant_id, id FROM exports_expired(${now}::timestamptz, ${BATCH}::integer)`;
      for (const row of due) if (await this.bookkeeping.expire(row.tenant_id, row.id, now, context.requestId)) expired++;
      if (due.length < BATCH) break;
    }
    if (expired > 0) this.logger.info({ expired }, 'expired export files deleted');
  }
}
