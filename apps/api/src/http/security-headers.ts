import { createRequire } from 'node:module';
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

type HelmetMiddleware = (req: unknown, res: { setHeader(name: string, value: string): void; removeHeader(name: string): void }, next: (error?: unknown) => void) => void;

/**
 * The headers helmet sets with HELMET_OPTIONS, computed once by running helmet (the version
 * @fastify/helmet depends on, resolved from that plugin) against a stand-in response. Every header
 * helmet sets is static for given options, so every answer can carry this one set: the listeners'
 * hooks (SecurityHeaders), the router's own errors and the answers written on a bare socket
 * (app.factory.ts, client-errors.ts), and none can drift from another when HELMET_OPTIONS changes.
 */
export function helmetHeaders(): Record<string, string> {
  const fromPlugin = createRequire(createRequire(import.meta.url).resolve('@fastify/helmet'));
  const helmet = fromPlugin('helmet') as (options: unknown) => HelmetMiddleware;
  const headers: Record<string, string> = {};
  helmet(HELMET_OPTIONS)(
    {},
    {
      setHeader: (name, value) => (headers[name.toLowerCase()] = String(value)),
      removeHeader: (name) => delete headers[name.toLowerCase()],
    },
    (error) => {
      if (error) throw error;
    },
  );
  return headers;
}

/**
 * Registers the security headers on a listener (control SECURITY-HEADERS): helmet's headers with
 * HELMET_OPTIONS, and `Cache-Control: no-store` on every answer to a request that carried a
 * credential, unless its route chose its own caching, so no shared or browser cache keeps
 * authenticated data. A provider of each listener's module, so the kill-switch suite can replace it
 * in a test app; production always uses this class.
 *
 * helmet's headers are computed once (helmetHeaders) and set with one call per request, instead of
 * registering @fastify/helmet, which runs helmet's middlewares on every request to produce the same
 * static set: they were about 2 % of the API's CPU per request in the read path's profile
 * (docs/benchmarks.md, "Lighter edge").
 */
@Injectable()
export class SecurityHeaders {
  async register(app: NestFastifyApplication): Promise<void> {
    const headers = helmetHeaders();
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRequest', (_request, reply, done) => {
        reply.headers(headers);
        done();
      })
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
