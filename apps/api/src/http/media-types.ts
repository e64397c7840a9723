import { HttpStatus, SetMetadata, type INestApplicationContext, type Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UPLOAD_FIELDS } from './single-file-upload.interceptor.js';
import { ProblemException } from './problem.js';
import { controllerClasses, listRoutes } from './route-catalog.js';

export const JSON_MEDIA = 'application/json';
export const FORM_MEDIA = 'application/x-www-form-urlencoded';
export const MULTIPART_MEDIA = 'multipart/form-data';

const ACCEPTS = 'benteng:accepts';

/**
 * The request media types a route takes, when they are not the default (a JSON body DTO): the
 * OAuth token endpoint takes form bodies as RFC 6749 requires, and JSON.
 */
export const Accepts = (...mediaTypes: string[]) => SetMetadata(ACCEPTS, mediaTypes);

/**
 * The request media types a route declares, from the same metadata its handler runs with: @Accepts
 * when given; multipart/form-data for an upload (@SingleFileUpload); application/json for a route
 * with a @Body(); none for a route without a body. The OpenAPI documents publish exactly this list
 * (apps/api/src/openapi/openapi.document.ts), and refuseUndeclaredMediaTypes enforces it.
 */
export function declaredMediaTypes(controller: Type, handlerName: string): readonly string[] {
  const handler = (controller.prototype as Record<string, object>)[handlerName]!;
  const explicit = Reflect.getMetadata(ACCEPTS, handler) as string[] | undefined;
  if (explicit) return explicit;
  if (Reflect.getMetadata(UPLOAD_FIELDS, handler) !== undefined) return [MULTIPART_MEDIA];
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handlerName) ?? {}) as Record<string, unknown>;
  return Object.keys(args).some((key) => key.startsWith(`${RouteParamtypes.BODY}:`)) ? [JSON_MEDIA] : [];
}

/**
 * What a route lets through to the body parser: its declared types, or JSON for a route that takes
 * no body. A JSON body there is parsed by the same strict parser and then refused field by field
 * (400, UnexpectedBodyInterceptor), while an empty `{}` that many HTTP clients send with every POST
 * stays harmless; any other media type is refused here.
 */
function admittedMediaTypes(declared: readonly string[]): readonly string[] {
  return declared.length > 0 ? declared : [JSON_MEDIA];
}

/** Every route of the application by `METHOD /path/:param` (the router's pattern), with its admitted media types. */
export function mediaTypesByRoute(app: INestApplicationContext): Map<string, readonly string[]> {
  const classes = controllerClasses(app);
  return new Map(listRoutes(app).map((route) => [`${route.method} ${route.path}`, admittedMediaTypes(declaredMediaTypes(classes.get(route.controller)!, route.handler))]));
}

/** The media type of a Content-Type header, lower-cased and without parameters (undefined when absent or empty). */
export function mediaTypeOf(header: string | undefined): string | undefined {
  // Not `header?.split(…)[0]!.trim()`: StrykerJS's instrumenter cannot mutate an optional chain
  // continued past a non-null assertion (docs/mutation.md), and the explicit check reads as well.
  if (header === undefined) return undefined;
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return type ? type : undefined;
}

function hasBody(request: FastifyRequest): boolean {
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
}

export function unsupportedMediaType(admitted: readonly string[]): ProblemException {
  return new ProblemException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, {
    detail: `This route accepts a body of type ${admitted.join(' or ')} only.`,
    code: 'request.unsupported_media_type',
  });
}

/**
 * Refuses, with 415 problem+json, a request body whose media type its route does not declare (a
 * missing Content-Type included), before any byte of it is parsed. Without it every JSON route also
 * took application/x-www-form-urlencoded (the adapter registers that parser application-wide), so a
 * plain HTML form on another site could post to them, and text/plain reached the validators as a
 * string. Registered on every listener; a new route gets the check from its own declaration.
 * Routes outside Nest's router (Bull Board's own, apps/api/src/internal/queue-board.ts) check their
 * requests themselves.
 */
export function refuseUndeclaredMediaTypes(fastify: FastifyInstance, app: INestApplicationContext): void {
  let byRoute: Map<string, readonly string[]> | undefined;
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    if (!hasBody(request)) {
      done(null, payload);
      return;
    }
    // Built on the first request with a body: the router is complete by then.
    byRoute ??= mediaTypesByRoute(app);
    const admitted = byRoute.get(`${request.method} ${request.routeOptions.url ?? ''}`);
    const type = mediaTypeOf(request.headers['content-type']);
    if (admitted === undefined || (type !== undefined && admitted.includes(type))) done(null, payload);
    else done(unsupportedMediaType(admitted));
  });
}
