import { createHash } from 'node:crypto';
import { applyDecorators, CallHandler, ExecutionContext, HttpStatus, Injectable, NestInterceptor, UseInterceptors } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { canonicalize, type CanonicalValue } from '@benteng/common';
import { IdempotencyRepository, type IdempotentRequest, type StoredResponse } from '@benteng/idempotency';
import type { InTransaction } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { ProblemException } from './problem.js';
import { scopeOf } from './request-auth.js';

const KEY = /^[\x21-\x7e]{1,255}$/;
/** Response headers that belong to the stored response and are sent again on a replay. */
const REPLAYED_HEADERS = ['location', 'etag'] as const;
/** A reservation older than this belongs to a request that died (crash, timeout): it is released. */
const ABANDONED_AFTER_MS = 60_000;

/**
 * The same request always hashes the same, whatever its key order. The JSON round trip first turns
 * the parsed body into plain JSON values (dropping undefined fields an interceptor may have set).
 */
function requestHashOf(value: unknown): string {
  return createHash('sha256').update(canonicalize(JSON.parse(JSON.stringify(value)) as CanonicalValue)).digest('hex');
}

/** The reservation of a request that runs now, for answerInTransaction. */
interface Pending {
  readonly keys: IdempotencyRepository;
  readonly scope: Scope;
  readonly id: string;
  readonly status: number;
  stored: boolean;
}
const PENDING = new WeakMap<FastifyRequest, Pending>();

function replayedHeaders(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = reply.getHeader(name);
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

/**
 * The step that stores an idempotent create's answer, for the handler to hand down to the repository
 * call that makes the create (TenantDatabase.run's `also`): it renders the answer from the created
 * row with the handler's own `render` (which also sets Location/ETag) and stores it in the create's
 * transaction, so the row and the answer commit together. undefined without an Idempotency-Key.
 * `render` must be what the handler returns for that row (the handler calls it again afterwards).
 */
export function answerInTransaction<T>(reply: FastifyReply, render: (created: T) => unknown): InTransaction<T> | undefined {
  const pending = PENDING.get(reply.request);
  if (!pending) return undefined;
  return async (tx, created) => {
    const body = render(created) ?? null;
    await pending.keys.completeIn(tx, pending.id, { status: pending.status, body, headers: replayedHeaders(reply) });
    pending.stored = true;
  };
}

/**
 * `Idempotency-Key` on creates (IETF draft-ietf-httpapi-idempotency-key-header). The first request
 * with a key reserves it, runs, and stores its response; a retry with the same key and body gets
 * that response again (`Idempotent-Replayed: true`); the same key with another body is 422; a retry
 * while the first is still running is 409. Keys belong to the tenant, the principal and the route.
 * Failed requests release their key, so a corrected retry can use it. The records are kept by
 * IdempotencyRepository (libs/idempotency); this interceptor decides what to answer.
 *
 * The reservation commits on its own (so a concurrent request sees it at once and gets 409); the
 * answer commits with the create: the handler passes answerInTransaction(...) to the repository
 * call, so there is no moment where the row exists and its answer does not (a crash there used to
 * leave the key in progress and, 60 s later, run the create a second time). A handler that stored
 * no answer in its transaction has it stored here after it returns, as before.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly keys: IdempotencyRepository) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const header = request.headers['idempotency-key'];
    if (header === undefined) return next.handle();
    if (typeof header !== 'string' || !KEY.test(header)) throw new ProblemException(HttpStatus.BAD_REQUEST, { detail: 'Idempotency-Key must be 1-255 visible ASCII characters.', code: 'idempotency.invalid_key' });

    const scope = scopeOf(request);
    const idempotent: IdempotentRequest = {
      route: `${request.method} ${request.routeOptions.url ?? ''}`,
      key: header,
      // The path parameters are part of the request: one key on /tickets/A/comments and then on
      // /tickets/B/comments is a different request (422), never a replay of A's answer.
      requestHash: requestHashOf({ params: request.params ?? {}, body: request.body ?? null }),
    };
    const status: number = Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) ?? (request.method === 'POST' ? 201 : 200);

    const reservation = await this.reserve(scope, idempotent);
    if (reservation.kind === 'replay') {
      const { response } = reservation;
      for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
      reply.header('idempotent-replayed', 'true').status(response.status);
      return from([response.body]);
    }
    const pending: Pending = { keys: this.keys, scope, id: reservation.id, status, stored: false };
    PENDING.set(request, pending);
    return from(
      (async () => {
        try {
          const body = await lastValueFrom(next.handle(), { defaultValue: undefined });
          if (!pending.stored) await this.keys.complete(scope, reservation.id, { status, body: body ?? null, headers: replayedHeaders(reply) });
          return body;
        } catch (error) {
          // Frees only a reservation without an answer: one stored with its create stays (the row exists).
          await this.keys.release(scope, reservation.id);
          // The answer was rendered inside the create's transaction, setting Location and ETag; an error
          // answer must not carry them.
          for (const name of REPLAYED_HEADERS) reply.removeHeader(name);
          throw error;
        }
      })(),
    );
  }

  private async reserve(scope: Scope, request: IdempotentRequest, retried = false): Promise<{ kind: 'reserved'; id: string } | { kind: 'replay'; response: StoredResponse }> {
    const id = await this.keys.reserve(scope, request);
    if (id !== null) return { kind: 'reserved', id };
    const existing = await this.keys.find(scope, request);
    if (!existing) throw new ProblemException(HttpStatus.CONFLICT, { detail: 'A request with this Idempotency-Key is in progress. Retry shortly.', code: 'idempotency.in_progress' });
    if (existing.requestHash !== request.requestHash) {
      throw new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, { detail: 'This Idempotency-Key was used with a different request body.', code: 'idempotency.key_reused' });
    }
    if (existing.response === null) {
      if (!retried && Date.now() - existing.createdAt.getTime() > ABANDONED_AFTER_MS) {
        await this.keys.releaseAbandoned(scope, existing.id);
        return this.reserve(scope, request, true);
      }
      throw new ProblemException(HttpStatus.CONFLICT, { detail: 'A request with this Idempotency-Key is in progress. Retry shortly.', code: 'idempotency.in_progress' });
    }
    return { kind: 'replay', response: existing.response };
  }
}

/** Marks a create route as honouring Idempotency-Key. */
export const Idempotent = () => applyDecorators(UseInterceptors(IdempotencyInterceptor));

