import { applyDecorators, CallHandler, ExecutionContext, Injectable, NestInterceptor, UseInterceptors } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { map, type Observable } from 'rxjs';
import { IdempotencyInterceptor } from './idempotency.js';

const REVEALED = new WeakMap<FastifyRequest, Record<string, string>>();

/** Hands a credential in clear to RevealOnceInterceptor, for this response only. */
export function revealOnce(request: FastifyRequest, fields: Record<string, string>): void {
  REVEALED.set(request, fields);
}

/**
 * Puts a new credential into the response the client receives, and nowhere else.
 *
 * Why an interceptor: creates honour Idempotency-Key, and IdempotencyInterceptor stores the
 * handler's response (idempotency_keys.response_body) to replay it. A credential must never be
 * stored in clear (docs/architecture.md, invariant 8), so the handler returns the response with the
 * credential null and hands the credential over through revealOnce; this interceptor runs outside
 * IdempotencyInterceptor and fills it in after the response was stored. A replay therefore answers
 * the same object with the credential null. Responses carrying a credential are `no-store`.
 */
@Injectable()
export class RevealOnceInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    return next.handle().pipe(
      map((body: unknown) => {
        const fields = REVEALED.get(request);
        if (!fields || !body || typeof body !== 'object') return body;
        REVEALED.delete(request);
        http.getResponse<FastifyReply>().header('cache-control', 'no-store');
        return { ...body, ...fields };
      }),
    );
  }
}

/** The first interceptor listed runs outermost: RevealOnce around Idempotency, never the other way. */
export const IdempotentRevealOnce = () => applyDecorators(UseInterceptors(RevealOnceInterceptor, IdempotencyInterceptor));
export const RevealOnce = () => applyDecorators(UseInterceptors(RevealOnceInterceptor));
