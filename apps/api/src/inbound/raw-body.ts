import { Transform, pipeline } from 'node:stream';
import type { RawBodyRequest } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const KEEP_RAW_BODY = 'keepRawBody' as const;

/**
 * Keeps the exact request bytes on `request.rawBody` for this route only. A signature is computed
 * over the bytes the sender wrote; re-serializing the parsed JSON would not give them back (key
 * order, spacing, escapes), so a verifier needs the original. Every other route keeps only the
 * parsed body, as before.
 */
export const KeepRawBody = () => RouteConfig({ [KEEP_RAW_BODY]: true });

/**
 * The hook behind KeepRawBody: on routes whose config asks for it, the body stream is passed to
 * Fastify's parser through a tap that copies each chunk as the parser reads it. Nothing is read
 * ahead of the parser, so the body limit, the content-length check and the error handling stay
 * Fastify's own; the copy is complete when the parser has read the whole body, before any guard or
 * handler runs.
 *
 * Chosen over Nest's application-wide `rawBody: true`, which would keep a second copy of every
 * JSON and form body on every route. The internal listener passes `everyRoute`: every one of its
 * requests is signed over its body (apps/api/src/internal/internal-access.guard.ts). The public
 * listener passes `under: ['/partner/v1/']`: any partner request may be signed, and its
 * Content-Digest is checked against these bytes (apps/api/src/http/gate/request-signature.stage.ts).
 */
export function keepRawBodyWhereDeclared(fastify: FastifyInstance, options: { everyRoute?: boolean; under?: readonly string[] } = {}): void {
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    const route = request.routeOptions.url ?? '';
    const underPrefix = options.under?.some((prefix) => route.startsWith(prefix)) === true;
    if (options.everyRoute !== true && !underPrefix && (request.routeOptions.config as { [KEEP_RAW_BODY]?: unknown })[KEEP_RAW_BODY] !== true) {
      done(null, payload);
      return;
    }
    const chunks: Buffer[] = [];
    const tap = new Transform({
      transform(chunk: Buffer | string, _encoding, next) {
        chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        next(null, chunk);
      },
      flush(next) {
        (request as RawBodyRequest<FastifyRequest>).rawBody = Buffer.concat(chunks);
        next();
      },
    });
    // pipeline forwards an aborted upload to the tap as an error, which the parser then reports.
    pipeline(payload, tap, () => undefined);
    done(null, tap);
  });
}

/** The bytes KeepRawBody kept (empty when the request had no body). */
export function rawBodyOf(request: FastifyRequest): Buffer {
  return (request as RawBodyRequest<FastifyRequest>).rawBody ?? Buffer.alloc(0);
}
