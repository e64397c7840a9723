import { Injectable } from '@nestjs/common';
import type { PrismaPromise } from './generated/prisma/internal/prismaNamespace.js';
import { PrismaService, type RuntimeClient } from './prisma.service.js';

/** The transaction client handed to repository code: tenant-bound for its whole life. */
export type TenantTx = Parameters<Parameters<RuntimeClient['$transaction']>[0]>[0];

/**
 * The tenant boundary as far as the database needs it: the tenant whose rows a transaction may see.
 * A `Scope` (libs/tenancy/src/scope.ts) is one; naming only this part keeps libs/database free of
 * libs/tenancy and libs/authz (the libs graph has no cycles: test/integration/lib-graph.spec.ts).
 */
export interface TenantBoundary {
  readonly tenantId: string;
}

export interface TenantTransactionOptions {
  isolationLevel?: 'ReadCommitted' | 'RepeatableRead' | 'Serializable';
  /** Milliseconds to wait for a pooled connection (Prisma default 2000). */
  maxWait?: number;
  /** Milliseconds the transaction may run (Prisma default 5000). */
  timeout?: number;
}

/**
 * Work that must commit or roll back together with a repository call: it runs in the call's own
 * transaction, after the call's work, with its result. The caller of an idempotent create hands one
 * down to store the request's answer (apps/api/src/http/idempotency.ts), so the create and its
 * stored answer are one commit. Database statements only (no other awaits: docs/decisions/0001).
 */
export type InTransaction<T> = (tx: TenantTx, result: T) => Promise<void>;

export interface TenantRunOptions<T> extends TenantTransactionOptions {
  /** Runs in the same transaction after `work`, with its result (see InTransaction). */
  also?: InTransaction<T> | undefined;
}

/**
 * Runs repository work for one tenant boundary (a Scope): a transaction whose first statement sets
 * `app.tenant_id` locally (is_local = true, so it ends with the transaction and never leaks to the
 * next user of the pooled connection). RLS policies read it; CASL conditions in the query say the
 * same thing again, so a bug in either layer alone exposes nothing.
 *
 * One transaction per repository call, not per request: see docs/decisions/0001-transaction-granularity.md.
 */
@Injectable()
export class TenantDatabase {
  constructor(private readonly prisma: PrismaService) {}

  run<T>(scope: TenantBoundary, work: (tx: TenantTx) => Promise<T>, options: TenantRunOptions<T> = {}): Promise<T> {
    const tenantId = scope.tenantId;
    const { also, ...transaction } = options;
    return this.prisma.client.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.tenant_id', ${tenantId}, true)`;
      const result = await work(tx);
      if (also) await also(tx, result);
      return result;
    }, transaction);
  }

  /**
   * One read statement for one tenant boundary, for the hottest reads: the same transaction as `run` (first
   * `set_config('app.tenant_id', tenantId, true)`, then the statement, on one connection) sent as a
   * Prisma batch transaction instead of an interactive one, which costs about 20 % less CPU per call
   * (docs/benchmarks.md, "Changes and their effect — read path"). `statement` must build the query
   * from the client it is given and return it unawaited; anything it awaited itself would run
   * outside the transaction, without a tenant, and RLS would show it no row.
   */
  async read<T>(scope: TenantBoundary, statement: (client: RuntimeClient) => PrismaPromise<T>): Promise<T> {
    const client = this.prisma.client;
    const [, result] = await client.$transaction([client.$executeRaw`SELECT set_config('app.tenant_id', ${scope.tenantId}, true)`, statement(client)]);
    return result;
  }

  /**
   * One statement through a tenant read function, for the hottest reads: one round trip, no
   * transaction of ours. The function (e.g. `tenant_invoice_by_id`, prisma/migrations/
   * 20261207158000_tenant_read_functions) is SECURITY INVOKER, sets `app.tenant_id` to the tenant it
   * is passed and returns the rows under RLS; its `SET app.tenant_id = ''` clause restores the
   * setting when it returns, so nothing is left on the pooled connection, in a caller's
   * transaction or after a failure (test/integration/tenant-read-functions.spec.ts). `statement`
   * must pass `tenantId` to such a function: any other statement runs without a tenant, and RLS
   * shows it no row (fails closed). Saves three of the four round trips of `read` (BEGIN,
   * set_config, COMMIT; docs/benchmarks.md).
   */
  readThrough<T>(scope: TenantBoundary, statement: (client: RuntimeClient, tenantId: string) => PrismaPromise<T>): Promise<T> {
    return statement(this.prisma.client, scope.tenantId);
  }
}

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/**
 * True for errors that mean "a concurrent transaction won; try again" (serialization failure,
 * deadlock). The HTTP layer answers them with 409 instead of 500.
 */
export function isConcurrencyConflict(error: unknown): boolean {
  const e = error as { code?: unknown; meta?: { code?: unknown; driverAdapterError?: { cause?: { originalCode?: unknown } } } } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code === 'P2034') return true;
  const sqlState = e.meta?.code ?? e.meta?.driverAdapterError?.cause?.originalCode;
  return typeof sqlState === 'string' && RETRYABLE_SQLSTATES.has(sqlState);
}

/** True for a unique-constraint violation (Prisma P2002). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}
