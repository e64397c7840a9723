/**
 * What all three OpenAPI documents (public, partner: openapi.document.ts; internal:
 * apps/api/src/internal/internal-openapi.ts) say the same way: the server they describe, the
 * licence, and the rate-limit headers every limited response carries.
 */
import { ParseUUIDPipe, type Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';

type Header = Record<string, unknown>;

export const LICENSE = { name: 'MIT', url: 'https://opensource.org/licenses/MIT' } as const;

/**
 * Relative: each document describes the listener that serves it, whichever environment that is;
 * the `x-internal` flag says whether the listener is meant to be reachable from outside.
 */
export const SERVER_DESCRIPTION = 'The listener serving this document, in every environment (production, staging, local)';
export const server = (internal: boolean) => ({ url: '/', description: SERVER_DESCRIPTION, 'x-internal': internal });

const STRUCTURED_FIELD = { type: 'string', maxLength: 1024, pattern: '^[\\x20-\\x7e]*$' };

/**
 * The rate-limit headers (draft-ietf-httpapi-ratelimit-headers-10) the limiter sets
 * (libs/security/src/rate-limiter.ts). `…IfCounted` are the same headers on errors, where they are
 * present only if the request got as far as the limiter: a body the parser refused, a missing or
 * invalid credential, or a blocked client is answered before it.
 */
export const RATE_LIMIT_HEADERS: Record<string, Header> = {
  RateLimit: {
    required: true,
    description: 'What is left of each budget this request counted against: `"<policy>";r=<remaining>;t=<seconds to reset>`, the tenant aggregate included when there is one.',
    schema: STRUCTURED_FIELD,
  },
  'RateLimit-Policy': {
    required: true,
    description: 'The budgets this request counted against: `"<policy>";q=<quota>;w=<window seconds>` (RATE_LIMIT_POLICY).',
    schema: STRUCTURED_FIELD,
  },
  RateLimitIfCounted: {
    description: 'As RateLimit; present when the request reached the rate limiter before it was refused.',
    schema: STRUCTURED_FIELD,
  },
  'RateLimit-PolicyIfCounted': {
    description: 'As RateLimit-Policy; present when the request reached the rate limiter before it was refused.',
    schema: STRUCTURED_FIELD,
  },
  'Retry-After': {
    required: true,
    description: 'Seconds to wait before retrying (at least 1).',
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86_400 },
  },
  'Idempotent-Replayed': {
    description: '`true` when this is the stored response of an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
};

const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

/**
 * The headers of one response: `counted` (a success: the limiter ran and let it through), `refused`
 * (429: Retry-After always; RateLimit when the limiter refused it rather than a block), `maybe`
 * (another 4xx: RateLimit when the request reached the limiter).
 */
export function rateLimitHeaders(kind: 'counted' | 'refused' | 'maybe'): Record<string, Header> {
  if (kind === 'counted') return { RateLimit: header('RateLimit'), 'RateLimit-Policy': header('RateLimit-Policy') };
  const maybe = { RateLimit: header('RateLimitIfCounted'), 'RateLimit-Policy': header('RateLimit-PolicyIfCounted') };
  return kind === 'refused' ? { ...maybe, 'Retry-After': header('Retry-After') } : maybe;
}

/** The path parameters a handler parses with ParseUUIDPipe (anything else is a 400). */
export function uuidParamsOf(controller: Type, handlerName: string): Set<string> {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handlerName) ?? {}) as Record<string, { data?: unknown; pipes?: unknown[] }>;
  const names = new Set<string>();
  for (const [key, { data, pipes }] of Object.entries(args)) {
    const isUuid = pipes?.some((pipe) => pipe instanceof ParseUUIDPipe || pipe === ParseUUIDPipe);
    if (Number(key.split(':')[0]) === RouteParamtypes.PARAM && typeof data === 'string' && isUuid) names.add(data);
  }
  return names;
}
