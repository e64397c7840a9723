import { createHash } from 'node:crypto';
import { applyDecorators, CallHandler, ExecutionContext, HttpStatus, Injectable, NestInterceptor, UseInterceptors } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { principalId } from '@benteng/authz';
import { canonicalize, type CanonicalValue } from '@benteng/common';
import { isUniqueViolation, TenantDatabase, type Prisma } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { ProblemException } from './problem.js';
import { scopeOf } from './request-auth.js';

const KEY = /^[\x21-\x7e]{1,255}$/;
const IN_PROGRESS = 0;
/** Response headers that belong to the stored response and are sent again on a replay. */
const REPLAYED_HEADERS = ['location', 'etag'] as const;
interface StoredResponse {
  body: unknown;
  headers: Record<string, string>;
}
/** A reservation older than this belongs to a request that died (crash, timeout): it is released. */
const ABANDONED_AFTER_MS = 60_000;

/**
 * The same request always hashes the same, whatever its key order. The JSON round trip first turns
 * the parsed body into plain JSON values (dropping undefined fields an interceptor may have set).
 */
function requestHashOf(value: unknown): string {
  return createHash('sha256').update(canonicalize(JSON.parse(JSON.stringify(value)) as CanonicalValue)).digest('hex');
}

/**
 * `Idempotency-Key` on creates (IETF draft-ietf-httpapi-idempotency-key-header). The first request
 * with a key reserves it, runs, and stores its response; a retry with the same key and body gets
 * that response again (`Idempotent-Replayed: true`); the same key with another body is 422; a retry
 * while the first is still running is 409. Keys belong to the tenant, the principal and the route.
 * Failed requests release their key, so a corrected retry can use it.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly db: TenantDatabase) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const header = request.headers['idempotency-key'];
    if (header === undefined) return next.handle();
    if (typeof header !== 'string' || !KEY.test(header)) throw new ProblemException(HttpStatus.BAD_REQUEST, { detail: 'Idempotency-Key must be 1-255 visible ASCII characters.', code: 'idempotency.invalid_key' });

    const scope = scopeOf(request);
    const principal = principalId(scope.principal);
    const route = `${request.method} ${request.routeOptions.url ?? ''}`;
    // The path parameters are part of the request: one key on /tickets/A/comments and then on
    // /tickets/B/comments is a different request (422), never a replay of A's answer.
    const requestHash = requestHashOf({ params: request.params ?? {}, body: request.body ?? null });
    const status: number = Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) ?? (request.method === 'POST' ? 201 : 200);

    const reservation = await this.reserve(scope, principal, route, header, requestHash);
    if (reservation.kind === 'replay') {
      for (const [name, value] of Object.entries(reservation.headers)) reply.header(name, value);
      reply.header('idempotent-replayed', 'true').status(reservation.status);
      return from([reservation.body]);
    }
    return from(
      (async () => {
        try {
          const body = await lastValueFrom(next.handle(), { defaultValue: undefined });
          const headers: Record<string, string> = {};
          for (const name of REPLAYED_HEADERS) {
            const value = reply.getHeader(name);
            if (typeof value === 'string') headers[name] = value;
          }
          const stored: StoredResponse = { body: body ?? null, headers };
          await this.db.run(scope, (tx) =>
            tx.idempotencyKey.updateMany({ where: { id: reservation.id }, data: { responseStatus: status, responseBody: stored as unknown as Prisma.InputJsonValue } }),
          );
          return body;
        } catch (error) {
          await this.db.run(scope, (tx) => tx.idempotencyKey.deleteMany({ where: { id: reservation.id } }));
          throw error;
        }
      })(),
    );
  }

  private async reserve(
    scope: Scope,
    principal: string,
    route: string,
    key: string,
    requestHash: string,
    retried = false,
  ): Promise<{ kind: 'reserved'; id: string } | { kind: 'replay'; status: number; body: unknown; headers: Record<string, string> }> {
    try {
      const created = await this.db.run(scope, (tx) =>
        tx.idempotencyKey.create({ data: { tenantId: scope.tenantId, principal, route, key, requestHash, responseStatus: IN_PROGRESS, responseBody: {} }, select: { id: true } }),
      );
      return { kind: 'reserved', id: created.id };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    const existing = await this.db.run(scope, (tx) => tx.idempotencyKey.findFirst({ where: { principal, route, key } }));
    if (!existing) throw new ProblemException(HttpStatus.CONFLICT, { detail: 'A request with this Idempotency-Key is in progress. Retry shortly.', code: 'idempotency.in_progress' });
    if (existing.requestHash !== requestHash) {
      throw new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, { detail: 'This Idempotency-Key was used with a different request body.', code: 'idempotency.key_reused' });
    }
    if (existing.responseStatus === IN_PROGRESS) {
      if (!retried && Date.now() - existing.createdAt.getTime() > ABANDONED_AFTER_MS) {
        await this.db.run(scope, (tx) => tx.idempotencyKey.deleteMany({ where: { id: existing.id, responseStatus: IN_PROGRESS } }));
        return this.reserve(scope, principal, route, key, requestHash, true);
      }
      throw new ProblemException(HttpStatus.CONFLICT, { detail: 'A request with this Idempotency-Key is in progress. Retry shortly.', code: 'idempotency.in_progress' });
    }
    const stored = existing.responseBody as unknown as StoredResponse;
    return { kind: 'replay', status: existing.responseStatus, body: stored.body, headers: stored.headers };
  }
}

/** Marks a create route as honouring Idempotency-Key. */
export const Idempotent = () => applyDecorators(UseInterceptors(IdempotencyInterceptor));

