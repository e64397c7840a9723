import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { principalId } from '@benteng/authz';
import { clientIp, RateLimiter, SecurityError, SecurityErrorCode, type PrincipalClass, type RateLimitResult, type RateLimitSubject, type Sensitivity } from '@benteng/security';
import { ROUTE_SENSITIVITY } from '../access.decorator.js';
import type { RequestAuth } from '../request-auth.js';
import { processMetrics, surfaceOfRequest } from '../../metrics/metrics.js';
import { GateAudit } from './gate-audit.js';

/** The rate-limit column of a route: declared with @RateLimit, else by method. */
export function sensitivityOf(reflector: Reflector, context: ExecutionContext, method: string): Sensitivity {
  const declared = reflector.getAllAndOverride<Sensitivity | undefined>(ROUTE_SENSITIVITY, [context.getHandler(), context.getClass()]);
  return declared ?? (method === 'GET' || method === 'HEAD' ? 'read' : 'write');
}

/**
 * Limit: principal class × route sensitivity (libs/security/src/rate-limit-policy.ts), per
 * credential owner (user, partner client, or the address for anonymous calls), plus the tenant's
 * aggregate cap. Every answer carries RateLimit-Policy / RateLimit headers; a refusal is a 429 with
 * Retry-After, audited once per window (GateAudit).
 */
@Injectable()
export class RateLimitStage {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimiter,
    private readonly audit: GateAudit,
  ) {}

  /** A call without authentication at the gate: the address is the owner. */
  anonymous(context: ExecutionContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    return this.consume(context, request, reply, { principalClass: 'anonymous', owner: `ip:${clientIp(request)}` });
  }

  /**
   * An authenticated call: the principal is the owner, within its tenant's aggregate cap.
   * `decided`: the limiter's answer from the gate's round trip (GateRoundTrip), already consumed;
   * without it the limiter is asked here.
   */
  caller(context: ExecutionContext, request: FastifyRequest, reply: FastifyReply, auth: RequestAuth, decided?: RateLimitResult): Promise<void> {
    return this.consume(context, request, reply, { principalClass: principalClassOf(auth), owner: principalId(auth.scope.principal), tenantId: auth.scope.tenantId }, decided);
  }

  sensitivity(context: ExecutionContext, request: FastifyRequest): Sensitivity {
    return sensitivityOf(this.reflector, context, request.method);
  }

  private async consume(context: ExecutionContext, request: FastifyRequest, reply: FastifyReply, subject: RateLimitSubject, decided?: RateLimitResult): Promise<void> {
    const result = decided ?? (await this.limits.consume(subject, this.sensitivity(context, request)));
    for (const [name, value] of Object.entries(result.headers)) reply.header(name, value);
    if (result.allowed) return;
    const retryAfterS = result.retryAfterS ?? 1;
    await this.audit.rateLimited(request, subject, result, retryAfterS);
    processMetrics.rateLimited.inc({ surface: surfaceOfRequest(request), principal_class: subject.principalClass });
    throw new SecurityError(SecurityErrorCode.RateLimited, retryAfterS);
  }
}

export function principalClassOf(auth: RequestAuth): PrincipalClass {
  return auth.kind === 'user' ? 'user' : `partner:${auth.partner.tier}`;
}
