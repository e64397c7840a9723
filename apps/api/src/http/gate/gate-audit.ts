import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { principalId, type Action, type SubjectName } from '@benteng/authz';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import { clientIp, type RateLimitResult, type RateLimitSubject } from '@benteng/security';
import type { RequestAuth } from '../request-auth.js';
import { GATE_LOG_CONTEXT } from './gate-log.js';

/**
 * Audit, the gate's record of what it refused: a rate-limit refusal (security.rate_limited, once
 * per owner, policy and window) from RateLimitStage and a function-level refusal (authz.denied)
 * from AuthorizeStage, each in the caller's tenant. Blocked requests are logged by BlockRefusal;
 * the blocks themselves are audited when placed (SecurityBlocksService).
 */
@Injectable()
export class GateAudit {
  constructor(
    private readonly audit: AuditLog,
    @InjectRedis() private readonly redis: RedisClient,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(GATE_LOG_CONTEXT);
  }

  /** One audit row and one warning per owner, policy and window, however many requests it refuses. */
  async rateLimited(request: FastifyRequest, subject: RateLimitSubject, result: RateLimitResult, retryAfterS: number): Promise<void> {
    const first = await this.redis.set(`benteng:rl:reported:${result.policy}:${result.exceeded ?? 'principal'}:${subject.owner}`, '1', 'EX', Math.max(1, retryAfterS), 'NX').catch(() => null);
    if (first !== 'OK') return;
    this.logger.warn({ event: 'security.rate_limited', policy: result.policy, exceeded: result.exceeded, owner: subject.owner, tenantId: subject.tenantId, ip: clientIp(request) }, 'rate limit exceeded');
    if (!subject.tenantId) return;
    await this.audit.recordFor(subject.tenantId, {
      type: 'security.rate_limited',
      outcome: 'denied',
      actor: subject.owner,
      ip: clientIp(request),
      requestId: String(request.id),
      data: { policy: result.policy, exceeded: result.exceeded ?? 'principal', retryAfterS },
    });
  }

  /** The principal's ability cannot perform the route's action on its subject at all. */
  async denied(request: FastifyRequest, auth: RequestAuth, action: Action, subject: SubjectName): Promise<void> {
    await this.audit.record(auth.scope, {
      type: 'authz.denied',
      outcome: 'denied',
      actor: principalId(auth.scope.principal),
      subject: `${action}:${subject}`,
      ip: clientIp(request),
      requestId: String(request.id),
      data:
        auth.kind === 'user'
          ? { surface: 'public', route: `${request.method} ${request.routeOptions.url ?? ''}`, role: auth.user.role }
          : { surface: 'partner', route: `${request.method} ${request.routeOptions.url ?? ''}`, scope: auth.partner.scopes.join(' ') },
    });
  }
}
