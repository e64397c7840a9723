import { Injectable } from '@nestjs/common';
import type { Scope } from '@benteng/tenancy';
import { PrismaService, type RuntimeClient } from './prisma.service.js';

/** The transaction client handed to repository code: tenant-bound for its whole life. */
export type TenantTx = Parameters<Parameters<RuntimeClient['$transaction']>[0]>[0];

export interface TenantTransactionOptions {
  isolationLevel?: 'ReadCommitted' | 'RepeatableRead' | 'Serializable';
}

/**
 * Runs repository work for one Scope: a transaction whose first statement sets `app.tenant_id`
 * locally (is_local = true, so it ends with the transaction and never leaks to the next user of the
 * pooled connection). RLS policies read it; CASL conditions in the query say the same thing
 * again, so a bug in either layer alone exposes nothing.
 *
 * One transaction per repository call, not per request: see docs/decisions/0001-transaction-granularity.md.
 */
@Injectable()
export class TenantDatabase {
  constructor(private readonly prisma: PrismaService) {}

  run<T>(scope: Scope, work: (tx: TenantTx) => Promise<T>, options: TenantTransactionOptions = {}): Promise<T> {
    const tenantId = scope.tenantId;
    return this.prisma.client.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.tenant_id', ${tenantId}, true)`;
      return work(tx);
    }, options);
  }
}
