import { Injectable } from '@nestjs/common';
import { principalId } from '@benteng/authz';
import { isUniqueViolation, TenantDatabase, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { IdempotencyRecord, IdempotentRequest, StoredResponse } from './idempotency.types.js';

/** `response_status` of a reservation whose request has not answered yet. */
const IN_PROGRESS = 0;

/** What `response_body` holds: the body and the replayed headers (the status has its own column). */
interface StoredBody {
  body: unknown;
  headers: Record<string, string>;
}

/**
 * The `idempotency_keys` table: reservations and stored responses of creates sent with an
 * `Idempotency-Key` (apps/api/src/http/idempotency.ts is the HTTP side that decides what to answer).
 * Its own library, not libs/database: the records are HTTP infrastructure with rules of their own
 * (a key belongs to the tenant, the principal and the route), and libs/database stays generic.
 *
 * A key is no CASL subject: it belongs to whoever sent it, so every query is bound to the Scope's
 * principal as well as to its tenant (RLS). Each method is one tenant transaction, except
 * `completeIn`, which writes in the create's own transaction (the caller's).
 */
@Injectable()
export class IdempotencyRepository {
  constructor(private readonly db: TenantDatabase) {}

  /** Reserves the key for this request; null when the key is taken already (by a running or an answered request). */
  async reserve(scope: Scope, request: IdempotentRequest): Promise<string | null> {
    try {
      const created = await this.db.run(scope, (tx) =>
        tx.idempotencyKey.create({
          data: { tenantId: scope.tenantId, principal: principalId(scope.principal), route: request.route, key: request.key, requestHash: request.requestHash, responseStatus: IN_PROGRESS, responseBody: {} },
          select: { id: true },
        }),
      );
      return created.id;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return null;
    }
  }

  /** The record holding this key for the Scope's principal on this route, or null (released meanwhile). */
  async find(scope: Scope, request: IdempotentRequest): Promise<IdempotencyRecord | null> {
    const row = await this.db.run(scope, (tx) => tx.idempotencyKey.findFirst({ where: { principal: principalId(scope.principal), route: request.route, key: request.key } }));
    if (!row) return null;
    const stored = row.responseBody as unknown as StoredBody;
    const response = row.responseStatus === IN_PROGRESS ? null : { status: row.responseStatus, body: stored.body, headers: stored.headers };
    return { id: row.id, requestHash: row.requestHash, createdAt: row.createdAt, response };
  }

  /**
   * Stores the answer of the reserved request in `tx`, the transaction of the create it answers, so
   * the create and its answer commit together: a process that dies after that commit leaves a
   * replayable answer, one that dies before it leaves neither the row nor the answer. Throws (and
   * so rolls the create back) when the reservation is no longer this request's: a retry released
   * it as abandoned, and may be running the create itself.
   */
  async completeIn(tx: TenantTx, id: string, response: StoredResponse): Promise<void> {
    const stored: StoredBody = { body: response.body, headers: { ...response.headers } };
    const { count } = await tx.idempotencyKey.updateMany({ where: { id, responseStatus: IN_PROGRESS }, data: { responseStatus: response.status, responseBody: stored as unknown as Prisma.InputJsonValue } });
    if (count !== 1) throw new Error('idempotency reservation lost before the create committed (released as abandoned)');
  }

  /** Stores the answer of the reserved request, to replay to its retries (a handler that stored none in its transaction). */
  async complete(scope: Scope, id: string, response: StoredResponse): Promise<void> {
    const stored: StoredBody = { body: response.body, headers: { ...response.headers } };
    await this.db.run(scope, (tx) => tx.idempotencyKey.updateMany({ where: { id }, data: { responseStatus: response.status, responseBody: stored as unknown as Prisma.InputJsonValue } }));
  }

  /**
   * Frees the key of a request that failed, so a corrected retry can use it. An answer stored with
   * the create stays: the create committed, so its retries replay it even if the request failed later.
   */
  async release(scope: Scope, id: string): Promise<void> {
    await this.db.run(scope, (tx) => tx.idempotencyKey.deleteMany({ where: { id, responseStatus: IN_PROGRESS } }));
  }

  /** Frees the key of a request that died while running; a key that has answered meanwhile stays. */
  async releaseAbandoned(scope: Scope, id: string): Promise<void> {
    await this.db.run(scope, (tx) => tx.idempotencyKey.deleteMany({ where: { id, responseStatus: IN_PROGRESS } }));
  }
}
