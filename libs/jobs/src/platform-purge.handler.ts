import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditLog } from '@benteng/audit';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { PrismaService } from '@benteng/database';
// The retention rules live beside the schema they describe (prisma/retention.ts); a plain data
// module, imported by path because prisma/ is not a lib.
import { RETENTION_RULES, retentionCutoff, type RetainedTable } from '../../../prisma/retention.js';
import { PlatformJob, type PlatformJobRun, type PlatformJobHandler } from './job-handlers.js';

export const PLATFORM_PURGE = 'platform.purge';

/** Rows removed per table by one run, in the order the rules ran. */
export type PurgeCounts = Record<RetainedTable, number>;

/**
 * The retention job, every PLATFORM_CLEANUP_INTERVAL_S: applies every rule of prisma/retention.ts
 * in order, each through the one named platform function `platform_retention_purge(table, cutoff)`
 * (docs/architecture.md, invariant 4: the worker's role cannot delete across tenants itself), with
 * the cutoff from the injected Clock and the rule's period (RETENTION_* variables). One platform
 * audit event per run, `platform.retention_purged`, carries the count of every table and the time
 * the run purged at; the same goes to the log.
 */
@PlatformJob(PLATFORM_PURGE, { everyMs: (config: AppConfig) => config.PLATFORM_CLEANUP_INTERVAL_S * 1000 })
@Injectable()
export class PlatformPurgeHandler implements PlatformJobHandler {
  constructor(
    private readonly prisma: PrismaService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly platformAudit: PlatformAuditLog,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(PlatformPurgeHandler.name);
  }

  async handle(_data: unknown, context: PlatformJobRun): Promise<void> {
    await this.purge(context.requestId);
  }

  /** The purge itself; returns what it removed, per table. */
  async purge(requestId?: string): Promise<PurgeCounts> {
    const now = this.clock.now();
    const removed = {} as PurgeCounts;
    for (const [table, rule] of Object.entries(RETENTION_RULES) as [RetainedTable, (typeof RETENTION_RULES)[RetainedTable]][]) {
      const cutoff = retentionCutoff(rule, now, this.config);
      const [row] = await this.prisma.client.$queryRaw<{ removed: bigint }[]>`SELECT platform_retention_purge(${table}, ${cutoff}::timestamptz) AS removed`;
      removed[table] = Number(row?.removed ?? 0);
    }
    const total = Object.values(removed).reduce((sum, n) => sum + n, 0);
    await this.platformAudit.record({
      type: 'platform.retention_purged',
      outcome: 'success',
      actor: 'system:retention',
      subject: 'retention',
      ...(requestId ? { requestId } : {}),
      data: { at: now.toISOString(), total, ...removed },
    });
    this.logger.info({ event: 'platform.purged', removed, total, requestId }, 'retention purge done');
    return removed;
  }
}
