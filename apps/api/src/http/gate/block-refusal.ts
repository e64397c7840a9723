import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { type ActiveBlock, clientIp, SecurityError, SecurityErrorCode } from '@benteng/security';
import { processMetrics, surfaceOfRequest } from '../../metrics/metrics.js';
import { GATE_LOG_CONTEXT } from './gate-log.js';

/** Marks a request refused because its principal or address is blocked (not observed again). */
export const REFUSED_AS_BLOCKED = Symbol('benteng.refused-as-blocked');

/** True when the gate refused this request as blocked (AbuseObserver does not count it again). */
export function refusedAsBlocked(request: FastifyRequest): boolean {
  return (request as FastifyRequest & { [REFUSED_AS_BLOCKED]?: boolean })[REFUSED_AS_BLOCKED] === true;
}

/**
 * The one refusal of a blocked address or principal, shared by AddressBlockStage and
 * PrincipalBlockStage: the request is marked (REFUSED_AS_BLOCKED, so a flood of refused requests
 * neither prolongs the block nor is counted again), logged, counted, and answered 429 with the
 * block's Retry-After.
 */
@Injectable()
export class BlockRefusal {
  constructor(private readonly logger: PinoLogger) {
    this.logger.setContext(GATE_LOG_CONTEXT);
  }

  refuse(request: FastifyRequest, block: ActiveBlock, principal?: string): never {
    (request as FastifyRequest & { [REFUSED_AS_BLOCKED]?: boolean })[REFUSED_AS_BLOCKED] = true;
    this.logger.info({ event: 'security.blocked_request', subject: block.subject, signal: block.signal, source: block.source, ip: clientIp(request), principal }, 'request refused: blocked');
    processMetrics.blockedRequests.inc({ surface: surfaceOfRequest(request) });
    throw new SecurityError(SecurityErrorCode.Blocked, block.retryAfterS);
  }
}
