import type { FastifyInstance } from 'fastify';
import { leakRegistry, type SecretKind } from './leak-registry.js';
import { problemCodes } from './problem-codes.js';

/** Response fields that carry a newly issued credential, by name. */
const CREDENTIAL_FIELDS: Record<string, SecretKind> = {
  accessToken: 'access token',
  refreshToken: 'refresh token',
  access_token: 'partner access token',
  refresh_token: 'refresh token',
  clientSecret: 'partner client secret',
  client_secret: 'partner client secret',
};

/** Credential formats the API issues, by value (partner keys and client secrets, webhook secrets, invitation tokens). */
const CREDENTIAL_VALUES: [RegExp, SecretKind][] = [
  [/^bt_cs_[A-Za-z0-9_-]{20,}$/, 'partner client secret'],
  [/^bt_(test|live)_[A-Z2-7]{12}_[A-Za-z0-9_-]{20,}$/, 'partner api key'],
  [/^whsec_[A-Za-z0-9+/=]{20,}$/, 'webhook secret'],
  [/^bt_inv_[A-Za-z0-9_-]{43}$/, 'invitation token'],
];

/** Registers the credentials a JSON response issues (its top two levels), as issued by it. */
function registerIssued(value: unknown, depth = 0): void {
  if (depth > 2 || value === null || typeof value !== 'object') return;
  for (const [field, v] of Object.entries(value)) {
    if (typeof v === 'string') {
      const byName = CREDENTIAL_FIELDS[field];
      const byValue = CREDENTIAL_VALUES.find(([pattern]) => pattern.test(v))?.[1];
      if (byName ?? byValue) leakRegistry.issued((byName ?? byValue)!, v);
    } else {
      registerIssued(v, depth + 1);
    }
  }
}

/**
 * Records every response body an app sends (test/support/api.ts adds this to every app it builds),
 * and registers the credentials a response issues, so a second appearance anywhere is a leak.
 * Problem bodies also go to the file's problem-code check (test/support/problem-codes.ts).
 * Streams (downloads) are not read.
 */
export function recordResponses(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
    if (body !== undefined && body.length > 0) {
      leakRegistry.recordResponse({ method: request.method, url: request.url, status: reply.statusCode, body });
      const contentType = reply.getHeader('content-type');
      problemCodes.record({ method: request.method, url: request.url, status: reply.statusCode, contentType: typeof contentType === 'string' ? contentType : undefined, body });
      if (body.startsWith('{') || body.startsWith('[')) {
        try {
          registerIssued(JSON.parse(body) as unknown);
        } catch {
          // Not JSON after all: recorded as text only.
        }
      }
    }
    done(null, payload);
  });
}
