import { Headers } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/**
 * The HTTP side of versioned resources, one way on every route: ETags are an entity's version
 * (`"3"`), writes take it back in If-Match, and a create answers with the new resource's Location.
 * Controllers call these instead of setting headers by hand (docs/style.md, Thin controllers).
 */

/** `@IfMatch() ifMatch: string | undefined`: the raw header, for parseIfMatch (the OpenAPI builder reads it as @Headers('if-match')). */
export const IfMatch = (): ParameterDecorator => Headers('if-match');

/** If-Match takes one ETag; `*` or absent means "any" (undefined). Anything else is `mismatch()`. */
export function parseIfMatch(ifMatch: string | undefined, mismatch: () => Error): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  // Strong comparison only (RFC 9110 13.1.1): a weak ETag never matches.
  const match = /^\s*"(\d{1,9})"\s*$/.exec(ifMatch);
  if (!match) throw mismatch();
  return Number(match[1]);
}

export const etag = (version: number): string => `"${version}"`;

/** Sets the entity's ETag and hands the entity back: `return shape(withEtag(reply, await service.get(scope, id)))`. */
export function withEtag<T extends { version: number }>(reply: FastifyReply, entity: T): T {
  reply.header('etag', etag(entity.version));
  return entity;
}

/**
 * A created resource's Location (`collection/id`); a versioned one also gets its ETag, as
 * `created(reply, '/v1/invoices', withEtag(reply, invoice))`. Set in the handler, so an
 * Idempotency-Key replay stores and repeats them (apps/api/src/http/idempotency.ts).
 */
export function created<T extends { id: string }>(reply: FastifyReply, collection: string, entity: T): T {
  reply.header('location', `${collection}/${entity.id}`);
  return entity;
}
