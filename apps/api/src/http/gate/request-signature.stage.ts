import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { AppConfig } from '@benteng/config';
import { ACCEPT_SIGNATURE, PartnerRequestSignatures, SignatureError, type SignedRequest } from '@benteng/partners';
import { clientIp } from '@benteng/security';
import { ROUTE_HIGH_TRUST } from '../access.decorator.js';
import type { RequestAuth } from '../request-auth.js';
import { rawBodyOf } from '../../inbound/raw-body.js';
import { publicBaseUrl } from '../../public/well-known.controller.js';
import { GATE_LOG_CONTEXT } from './gate-log.js';

/** Whether a route is marked @HighTrust (a signature is then needed from any client with a key). */
export function isHighTrust(reflector: Reflector, context: ExecutionContext): boolean {
  return reflector.getAllAndOverride<boolean | undefined>(ROUTE_HIGH_TRUST, [context.getHandler(), context.getClass()]) === true;
}

/**
 * Sign, for partner callers only: the RFC 9421 message signature of a /partner/v1 request
 * (PartnerRequestSignatures decides when one is required and checks it). It runs after the rate
 * limit, so a flood of unsigned requests with a stolen API key costs its owner's budget rather than
 * Ed25519 checks, database reads and audit rows. A refusal is a 401 problem with its own
 * `signature.*` code, an RFC 9421 §5.1 Accept-Signature header naming what to sign, a log line and
 * a `partner.signature_refused` audit entry in the client's tenant (the credential itself was
 * genuine).
 *
 * @target-uri is the configured public origin (PUBLIC_BASE_URL) plus the path and query as sent:
 * never the Host header, which the client chooses, so a signature made for one deployment does not
 * verify on another.
 */
@Injectable()
export class RequestSignatureStage {
  constructor(
    private readonly reflector: Reflector,
    private readonly signatures: PartnerRequestSignatures,
    private readonly config: AppConfig,
    private readonly audit: AuditLog,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(GATE_LOG_CONTEXT);
  }

  async check(context: ExecutionContext, request: FastifyRequest, reply: FastifyReply, auth: RequestAuth): Promise<void> {
    if (auth.kind !== 'partner') return;
    const caller = { tenantId: auth.partner.tenantId, clientId: auth.partner.clientId };
    try {
      await this.signatures.verify(caller, signedRequest(request, publicBaseUrl(this.config)), { highTrust: isHighTrust(this.reflector, context) });
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      reply.header('accept-signature', ACCEPT_SIGNATURE);
      const ip = clientIp(request);
      this.logger.warn({ event: 'partner.signature_refused', code: error.code, tenantId: caller.tenantId, clientId: caller.clientId, ip }, 'partner request signature refused');
      await this.audit.recordFor(caller.tenantId, {
        type: 'partner.signature_refused',
        outcome: 'denied',
        actor: `partner:${caller.clientId}`,
        subject: `partner_client:${caller.clientId}`,
        ip,
        requestId: String(request.id),
        data: { code: error.code, route: `${request.method} ${request.routeOptions.url ?? ''}` },
      });
      throw error;
    }
  }
}

/** The request as the signature covers it: method, target URI, headers and the body bytes as received. */
export function signedRequest(request: FastifyRequest, origin: string): SignedRequest {
  const length = Number(request.headers['content-length'] ?? 0);
  const raw = (request as { rawBody?: Buffer }).rawBody;
  return {
    method: request.method,
    targetUri: `${origin}${request.url}`,
    headers: request.headers,
    rawBody: raw === undefined ? undefined : rawBodyOf(request),
    hasBody: (Number.isFinite(length) && length > 0) || request.headers['transfer-encoding'] !== undefined || (raw !== undefined && raw.length > 0),
  };
}
