import helmet from '@fastify/helmet';
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import type { AppConfig } from '@benteng/config';
import { trustProxyOption } from '@benteng/security';
import { createValidationPipe } from './http/validation.js';
import { requestIdFor } from './logging/logging.js';

export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    // X-Forwarded-For is honoured only when the socket peer is one of TRUSTED_PROXIES; with none
    // configured the peer is the client. request.ip (read through clientIp) is then safe to limit on.
    trustProxy: trustProxyOption(config),
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
