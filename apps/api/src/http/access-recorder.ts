import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { AccessLog, type AccessRecordType } from '@benteng/audit';
import { principalId } from '@benteng/authz';
import { isUuid } from '@benteng/common';
import { clientIp } from '@benteng/security';
import { authOfRequest, type RequestAuth } from './request-auth.js';

/**
 * The collections of /v1 and /partner/v1 whose records hold personal data (docs/privacy.md,
 * "Breach scoping"), by the first path segment after the surface prefix. A route under one of
 * them is recorded; test/e2e/breach-scope.spec.ts fails when an authenticated GET route of the
 * catalog is neither here nor in NOT_PERSONAL.
 */
export const RECORDED_COLLECTIONS: Readonly<Record<string, AccessRecordType>> = {
  invoices: 'invoice',
  tickets: 'ticket',
  documents: 'document',
  exports: 'export',
  members: 'membership',
  invitations: 'invitation',
  sessions: 'session',
  me: 'user',
  // A data subject request names the member it is about (docs/privacy.md, Data subject requests).
  privacy: 'privacy_request',
};

/** Authenticated collections that hold no personal data of a tenant's users or customers. */
export const NOT_PERSONAL: readonly string[] = ['partner-clients', 'webhook-endpoints', 'security', 'auth', 'docs', 'openapi.json'];

const SURFACE = /^\/(?:partner\/)?v1\/([^/]+)/;

/** The record type a route pattern (`/v1/invoices/:id`) reads or changes, if any. */
export function recordTypeOf(route: string | undefined): AccessRecordType | undefined {
  const collection = route === undefined ? undefined : SURFACE.exec(route)?.[1];
  // Own keys only: a plain lookup would answer Object.prototype's members for `/v1/constructor`.
  return collection !== undefined && Object.hasOwn(RECORDED_COLLECTIONS, collection) ? RECORDED_COLLECTIONS[collection] : undefined;
}

function credentialOf(auth: RequestAuth): string {
  if (auth.kind === 'user') return `session:${auth.user.sessionId}`;
  return auth.partner.keyId ? `partner_key:${auth.partner.keyId}` : `partner_client:${auth.partner.clientId}`;
}

/**
 * Writes the access record of every authenticated request that read or changed a personal-data
 * record and succeeded (status below 400), once the response is sent (Fastify onResponse), so it
 * never delays an answer: the record named by the route's `id` parameter, the one a create
 * answered with (its Location), the user themself for /v1/me, or none for a list. Reads were
 * recorded nowhere durable before (docs/privacy.md, "Breach scoping"); a failed write is logged,
 * and the response it describes has already gone.
 */
@Injectable()
export class AccessRecorder {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly log: AccessLog,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AccessRecorder.name);
  }

  observe(request: FastifyRequest, reply: FastifyReply): void {
    const auth = authOfRequest(request);
    const route = request.routeOptions.url;
    const recordType = recordTypeOf(route);
    if (auth === undefined || recordType === undefined || route === undefined || reply.statusCode >= 400) return;
    const params = (request.params ?? {}) as Record<string, unknown>;
    const location = reply.getHeader('location');
    const created = typeof location === 'string' ? location.split('/').pop() : undefined;
    const recordId =
      recordType === 'user' && auth.kind === 'user'
        ? auth.user.userId
        : isUuid(params['id'])
          ? params['id']
          : isUuid(created) && !route.includes('/:')
            ? created
            : null;
    const read = request.method === 'GET' || request.method === 'HEAD';
    const work = this.log
      .record(auth.scope, {
        principal: principalId(auth.scope.principal),
        credential: credentialOf(auth),
        ip: clientIp(request),
        requestId: String(request.id),
        action: read ? 'read' : 'change',
        method: request.method,
        route,
        recordType,
        recordId: recordId ? recordId.toLowerCase() : null,
        status: reply.statusCode,
      })
      .catch((error: unknown) => this.logger.warn({ err: error, route, requestId: String(request.id) }, 'access record could not be written'));
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Resolves when every record started so far has been written (shutdown, tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
