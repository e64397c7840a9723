import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { REDACT_PATHS, safeLogOptions } from '@benteng/common';
import type { AppConfig } from '@benteng/config';

const SENSITIVE_QUERY_KEY = /token|ticket|sig|signature|key|secret|password|code|session/i;
const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Path plus query keys; values of credential-like keys are replaced (signed URLs carry tokens). */
export function redactUrl(url: string): string {
  const [path, query] = url.split('?', 2);
  if (!query) return path ?? '';
  const params = new URLSearchParams(query);
  for (const key of [...params.keys()]) {
    if (SENSITIVE_QUERY_KEY.test(key)) params.set(key, '[REDACTED]');
  }
  return `${path}?${params.toString()}`;
}

/**
 * Fastify's request id generator. A caller-supplied X-Request-Id is kept when it looks like an id
 * (so traces join across services), otherwise replaced: it ends up in logs and must not carry
 * injected text. Fastify hands the id to the raw request, where pino-http and the problem filter
 * read it, so one id names the request everywhere.
 */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** A request as pino-http's request serializer receives it. */
export interface LoggedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, unknown>;
  remoteAddress?: string;
}

/**
 * What request logs leave out (control LOG-REDACTION): credential fields censored by path at any of
 * the first five levels of a logged object (REDACT_PATHS), credential-like query values in URLs,
 * and every request header but the user agent. One injectable unit, provided beside the log
 * destination of each listener, so the kill-switch suite can replace it in a test app; production
 * always uses this class.
 */
@Injectable()
export class LogRedaction {
  readonly paths: readonly string[] = REDACT_PATHS;

  request(req: LoggedRequest): Record<string, unknown> {
    return { id: req.id, method: req.method, url: redactUrl(req.url), userAgent: req.headers['user-agent'], remoteAddress: req.remoteAddress };
  }
}

export function pinoHttpOptions(config: AppConfig, redaction: LogRedaction = new LogRedaction()): Options {
  const safe = safeLogOptions();
  return {
    level: config.LOG_LEVEL,
    redact: { paths: [...redaction.paths], censor: '[REDACTED]' },
    base: { service: 'benteng-api' },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    // Database errors as codes and names, never their query text; each key bound once per line.
    hooks: safe.hooks,
    serializers: {
      ...safe.serializers,
      req: (req: LoggedRequest) => redaction.request(req),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    ...(config.LOG_PRETTY ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}),
  };
}

/** Where log lines go; tests replace it to read every line the app writes. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');
export type LogDestination = DestinationStream | undefined;
