import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { UPLOAD_FIELDS } from './single-file-upload.interceptor.js';
import { ValidationProblem } from './problem.js';

const pointerOf = (key: string) => (key ? `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}` : '');

/** Whether a handler takes the whole query (`@Query() query: SomeQuery`), which the ValidationPipe then validates. */
function takesQuery(controller: object, handlerName: string): boolean {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handlerName) ?? {}) as Record<string, { data?: unknown }>;
  return Object.entries(args).some(([key, arg]) => key.startsWith(`${RouteParamtypes.QUERY}:`) && arg.data === undefined);
}

/**
 * Unknown fields are errors everywhere, including on routes that take no body or no query at all
 * (logout, invoice transitions, GET of one object): the ValidationPipe only sees `@Body()` and
 * `@Query()` parameters, so without this a client sending `{"status":"paid","totalMinor":"1"}` to
 * `/pay` would get a 200 and believe it had set them, and `GET /v1/partner-clients/:id/keys?cursor=x`
 * answered 200 as if paged (issue 14). Such a body or query is refused the way the pipe refuses
 * unknown fields. A route that takes query parameters declares them in a query DTO
 * (test/e2e/route-catalog.spec.ts refuses any other way of reading the query).
 */
@Injectable()
export class UnexpectedBodyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const query = request.query as Record<string, unknown> | undefined;
    if (query && typeof query === 'object' && Object.keys(query).length > 0 && !takesQuery(context.getClass(), context.getHandler().name)) {
      throw new ValidationProblem(Object.keys(query).map((key) => ({ pointer: pointerOf(key), rules: ['whitelistValidation'] })));
    }
    // Upload routes read their form themselves (and answer 415 to anything but multipart).
    if (Reflect.getMetadata(UPLOAD_FIELDS, context.getHandler()) !== undefined) return next.handle();
    const body = request.body;
    if (body !== undefined && body !== null && !(typeof body === 'object' && Object.keys(body).length === 0)) {
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ?? {}) as Record<string, unknown>;
      const takesBody = Object.keys(args).some((key) => key.startsWith(`${RouteParamtypes.BODY}:`));
      if (!takesBody) {
        const keys = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [''];
        throw new ValidationProblem(keys.map((key) => ({ pointer: pointerOf(key), rules: ['whitelistValidation'] })));
      }
    }
    return next.handle();
  }
}
