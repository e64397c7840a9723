import helmet from '@fastify/helmet';
import { Injectable } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SERVICE_SIGNATURE_HEADERS } from '@benteng/security';

/** Security headers of every listener. An API serves no documents: nothing may be framed, scripted or embedded. */
export const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
  frameguard: { action: 'deny' as const },
  crossOriginResourcePolicy: { policy: 'same-site' as const },
};

/** Request headers that carry a credential: the answer is for that caller only. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'x-api-key', SERVICE_SIGNATURE_HEADERS.signature];

/**
 * Registers the security headers on a listener (control SECURITY-HEADERS): helmet with
 * HELMET_OPTIONS, and `Cache-Control: no-store` on every answer to a request that carried a
 * credential, unless its route chose its own caching, so no shared or browser cache keeps
 * authenticated data. A provider of each listener's module, so the kill-switch suite can replace it
 * in a test app; production always uses this class.
 */
@Injectable()
export class SecurityHeaders {
  async register(app: NestFastifyApplication): Promise<void> {
    await app.register(helmet, HELMET_OPTIONS);
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onSend', (request, reply, payload, done) => {
        if (!reply.hasHeader('cache-control') && CREDENTIAL_HEADERS.some((name) => request.headers[name] !== undefined)) reply.header('cache-control', 'no-store');
        done(null, payload);
      });
  }
}

/** True when a string anywhere in a parsed JSON value or query object contains U+0000. */
export function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([key, v]) => key.includes('\u0000') || containsNul(v, depth + 1));
}
