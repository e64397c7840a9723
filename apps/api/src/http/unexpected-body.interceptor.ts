import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { UPLOAD_FIELDS } from './multipart-upload.js';
import { ValidationProblem } from './problem.js';

/**
 * Unknown fields are errors everywhere, including on routes that take no body at all (logout,
 * invoice transitions): the ValidationPipe only sees `@Body()` parameters, so without this a
 * client sending `{"status":"paid","totalMinor":"1"}` to `/pay` would get a 200 and believe it had
 * set them. Such a body is refused the way the pipe refuses unknown fields.
 */
@Injectable()
export class UnexpectedBodyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    // Upload routes read their form themselves (and answer 415 to anything but multipart).
    if (context.getType() !== 'http' || Reflect.getMetadata(UPLOAD_FIELDS, context.getHandler()) !== undefined) return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const body = request.body;
    if (body !== undefined && body !== null && !(typeof body === 'object' && Object.keys(body).length === 0)) {
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ?? {}) as Record<string, unknown>;
      const takesBody = Object.keys(args).some((key) => key.startsWith(`${RouteParamtypes.BODY}:`));
      if (!takesBody) {
        const keys = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [''];
        throw new ValidationProblem(keys.map((key) => ({ pointer: key ? `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}` : '', rules: ['whitelistValidation'] })));
      }
    }
    return next.handle();
  }
}
