import { Inject, Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog, type AuditLogSink } from './audit-log.js';
import type { AuditEntry } from './audit.types.js';

/** How long an outcome waits in the queue before its batch is written. */
export const DEFERRED_AUDIT_FLUSH_MS = 100;
/** Outcomes queued at most; past that, `defer` writes the batch and waits for it (backpressure, not loss). */
export const MAX_DEFERRED_AUDITS = 256;
/** Attempts of one row before it is given up (the log keeps its copy: AuditLog logs each failure). */
const ATTEMPTS = 3;
const RETRY_MS = [50, 250];

/** Events to record for an outcome: in a tenant's chain, or, with no tenant to hold them, in the log only. */
export interface DeferredAudit {
  /** The tenant whose chain records the entries; undefined when the outcome names no tenant. */
  tenantId: string | undefined;
  entries: AuditEntry[];
  /** What becomes of an entry when there is no tenant (a log line, usually). */
  untenanted: (entry: AuditEntry) => void;
}

/**
 * Audit writes taken off a response's path, for outcomes whose response time must not depend on
 * whether a row is written (issue 14: a failed login for an existing account waited for its audit
 * insert, an unknown email did not, and the ~4 ms difference told which emails have accounts).
 *
 * `defer` only queues, for every outcome alike (a tenant-less outcome is queued too; its write is
 * a log line). The queue is written in batches DEFERRED_AUDIT_FLUSH_MS after its first outcome, by
 * one writer at a time, so the work happens on a schedule of its own rather than right after (and
 * slowing down) the request that caused it.
 *
 * Nothing is dropped: past MAX_DEFERRED_AUDITS queued, `defer` writes the batch and waits
 * (backpressure, the same for every outcome); a failed row is retried, and every failure is logged
 * with the whole entry by AuditLog; shutdown writes the queue (`onModuleDestroy`, also called by
 * LoginService's (libs/auth/src/login.service.ts), which Nest runs before the global database module goes). What a SIGKILL loses is
 * the last DEFERRED_AUDIT_FLUSH_MS of outcomes.
 *
 * Hand-written rather than a job queue: a BullMQ job would put a Redis round trip back on the
 * response path and make the audit row depend on the worker, for a write of a few milliseconds.
 */
@Injectable()
export class DeferredAuditLog implements OnModuleDestroy {
  private queue: DeferredAudit[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The batch being written; batches are written one after the other, so each tenant's events keep their order. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly audit: AuditLog,
    @Optional() @Inject(PinoLogger) private readonly logger?: AuditLogSink,
  ) {}

  /** Queues the outcome's events; resolves at once unless the queue is full. */
  async defer(work: DeferredAudit): Promise<void> {
    if (this.queue.length >= MAX_DEFERRED_AUDITS) await this.flush();
    this.queue.push(work);
    this.timer ??= setTimeout(() => void this.flush(), DEFERRED_AUDIT_FLUSH_MS);
  }

  /**
   * Writes what is queued (of one tenant, when given) and resolves once it and every batch before
   * it are written, so an event recorded afterwards follows them in the chain (a login after a
   * failed one).
   */
  settled(tenantId?: string): Promise<void> {
    const tenant = tenantId?.toLowerCase();
    return this.flush(tenant === undefined ? undefined : (work) => work.tenantId?.toLowerCase() === tenant);
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush();
  }

  private flush(only?: (work: DeferredAudit) => boolean): Promise<void> {
    const batch = only ? this.queue.filter(only) : this.queue;
    this.queue = only ? this.queue.filter((work) => !only(work)) : [];
    if (this.queue.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // A batch that throws (an untenanted callback) must not stop the ones after it.
    this.writing = this.writing.then(() => this.write(batch)).catch((error: unknown) => this.logger?.error({ err: error }, 'deferred audit batch failed'));
    return this.writing;
  }

  private async write(batch: DeferredAudit[]): Promise<void> {
    for (const { tenantId, entries, untenanted } of batch) {
      for (const entry of entries) {
        if (tenantId) await this.record(tenantId, entry);
        else untenanted(entry);
      }
    }
  }

  private async record(tenantId: string, entry: AuditEntry): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.audit.recordFor(tenantId, entry);
      } catch (error) {
        if (attempt >= ATTEMPTS) {
          this.logger?.error({ audit: { tenantId, ...entry }, err: error, attempts: attempt }, 'deferred audit event given up');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS[attempt - 1]));
      }
    }
  }
}
