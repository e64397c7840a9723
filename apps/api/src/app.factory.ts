import helmet from '@fastify/helmet';
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import type { AppConfig } from '@benteng/config';
import { createValidationPipe } from './http/validation.js';
import { requestIdFor } from './logging/logging.js';

export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    // X-Forwarded-For is honoured only from configured proxies (identity issue); never blindly.
    trustProxy: false,
    // Fastify's own request logging is off: nestjs-pino logs every request once, redacted.
    logger: false,
    return503OnClosing: true,
    genReqId: requestIdFor,
    requestIdHeader: false,
  });
}

/**
 * Everything that makes a Nest application a Benteng API listener, applied in one place so the
 * tests exercise exactly what production runs.
 */
export async function configureApiApp(app: NestFastifyApplication): Promise<INestApplication> {
  app.useLogger(app.get(Logger));
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id);
      done();
    });
  await app.register(helmet, {
    // An API serves no documents: nothing may be framed, scripted or embedded.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
  app.useGlobalPipes(createValidationPipe());
  app.enableShutdownHooks();
  return app;
}
