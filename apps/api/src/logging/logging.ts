import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { censorSecrets, REDACT_PATHS, safeLogOptions } from '@benteng/common';
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
 * What request logs leave out (control LOG-REDACTION). By allowlist where the fields are ours: the
 * request line's `req` is the fields `request` chooses (id, method, URL with credential-like query
 * values replaced, user agent, remote address: no header but the user agent), its `res` the status
 * code only. Every other value a line carries (what a handler logs, an error's own properties) is
 * censored by `censor`: SECRET_FIELDS keys at any of the first five levels, in one pass
 * (censorSecrets) rather than pino's 81 wildcard redaction paths. `paths`: the explicit header paths
 * pino still censors should a header ever reach a line (cheap: no wildcard). One injectable unit,
 * provided beside the log destination of each listener, so the kill-switch suite can replace it in
 * a test app; production always uses this class.
 */
@Injectable()
export class LogRedaction {
  readonly paths: readonly string[] = REDACT_PATHS.filter((path) => !path.includes('*') && path.includes('.'));

  request(req: LoggedRequest): Record<string, unknown> {
    return { id: req.id, method: req.method, url: redactUrl(req.url), userAgent: req.headers['user-agent'], remoteAddress: req.remoteAddress };
  }

  /** A line's own fields, or a child logger's bindings, with SECRET_FIELDS censored (see the class). */
  censor(fields: Record<string, unknown>, level = 0): Record<string, unknown> {
    return censorSecrets(fields, level) as Record<string, unknown>;
  }
}

/** Keys whose serializers build their value from chosen fields (req, res) or censor it (err). */
const SERIALIZED = new Set(['req', 'res', 'err']);

export function pinoHttpOptions(config: AppConfig, redaction: LogRedaction = new LogRedaction()): Options {
  const safe = safeLogOptions();
  // Everything but the serialized keys, censored; the serialized keys are judged by their serializers.
  const censorFields = (fields: Record<string, unknown>): Record<string, unknown> => {
    let rest: Record<string, unknown> | undefined;
    for (const key of Object.keys(fields)) {
      if (SERIALIZED.has(key)) continue;
      const censored = redaction.censor({ [key]: fields[key] });
      if (censored[key] !== fields[key]) (rest ??= { ...fields })[key] = censored[key];
    }
    return rest ?? fields;
  };
  return {
    level: config.LOG_LEVEL,
    redact: { paths: [...redaction.paths], censor: '[REDACTED]' },
    formatters: { log: censorFields, bindings: censorFields },
    base: { service: 'benteng-api' },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    // Database errors as codes and names, never their query text; each key bound once per line.
    hooks: safe.hooks,
    serializers: {
      ...safe.serializers,
      // An error's own properties are its own (a client library may hang a token on one).
      err: (error: unknown) => {
        const described = safe.serializers.err(error);
        return described !== null && typeof described === 'object' ? redaction.censor(described as Record<string, unknown>, 1) : described;
      },
      req: (req: LoggedRequest) => redaction.request(req),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    ...(config.LOG_PRETTY ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}),
  };
}

/** Where log lines go; tests replace it to read every line the app writes. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');
export type LogDestination = DestinationStream | undefined;
