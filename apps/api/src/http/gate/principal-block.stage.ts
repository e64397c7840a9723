import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { principalId } from '@benteng/authz';
import { AbuseDetector, type GuardRead } from '@benteng/security';
import type { RequestAuth } from '../request-auth.js';
import { BlockRefusal } from './block-refusal.js';

/**
 * Block, the principal: after authentication, the authenticated principal's own block (one key;
 * the address was read before). A principal the abuse detector blocked is refused on every route,
 * from every address.
 */
@Injectable()
export class PrincipalBlockStage {
  constructor(
    private readonly abuse: AbuseDetector,
    private readonly refusal: BlockRefusal,
  ) {}

  /** `read`: the block key as the gate's round trip read it (GateRoundTrip); without it, read here. */
  async check(request: FastifyRequest, auth: RequestAuth, read?: GuardRead): Promise<void> {
    const principal = principalId(auth.scope.principal);
    const block = await this.abuse.blockedFor(undefined, principal, read);
    if (block) this.refusal.refuse(request, block, principal);
  }
}
