import { HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedAccess } from './authenticate.stage.js';
import type { RequestAuth } from '../request-auth.js';
import { RefusalException } from '../problem.js';
import { GateAudit } from './gate-audit.js';

/**
 * Authorize, function level: 403 `access.denied` (audited as authz.denied, GateAudit) when the
 * principal's CASL ability cannot perform the route's action on its subject at all. Which objects
 * it may touch is decided again in the repositories, against the same rules (object level).
 */
@Injectable()
export class AuthorizeStage {
  constructor(private readonly audit: GateAudit) {}

  async check(request: FastifyRequest, auth: RequestAuth, access: AuthenticatedAccess): Promise<void> {
    if (auth.scope.ability.can(access.action, access.subject)) return;
    await this.audit.denied(request, auth, access.action, access.subject);
    throw new RefusalException(HttpStatus.FORBIDDEN, 'access.denied');
  }
}
