import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuthError } from '@benteng/auth';
import { AbuseDetector, type ActiveBlock, clientIp } from '@benteng/security';
import type { RouteAccess } from '../access.decorator.js';
import { BlockRefusal } from './block-refusal.js';

/**
 * Block, the address: read before any credential is looked at (one MGET of one key, whatever the
 * request carries). An explicit block (an operator's deny entry) refuses every request at once. An
 * automatic one (the abuse detector's, placed by failures that came without a valid credential)
 * refuses only unauthenticated traffic: one client's failures must not lock out everyone sharing
 * its address (an office NAT, a mobile carrier's CGNAT, a partner's egress). So the automatic block
 * is handed back, and the gate applies it once it knows whether the request is unauthenticated
 * (refuseAnonymous, refuseUnverified).
 */
@Injectable()
export class AddressBlockStage {
  constructor(
    private readonly abuse: AbuseDetector,
    private readonly refusal: BlockRefusal,
  ) {}

  /** Refuses an explicitly denied address; returns the address's automatic block, if any. */
  async check(request: FastifyRequest): Promise<ActiveBlock | undefined> {
    const block = await this.abuse.blockedFor(clientIp(request));
    if (block?.source === 'explicit') this.refusal.refuse(request, block);
    return block;
  }

  /**
   * A route without authentication at the gate is refused on a blocked address, unless it verifies
   * a credential of its own (`@Anonymous(…, { credential })`: login, refresh, token, signed links,
   * signed webhooks): the people sharing the address need it, and its own check and throttle judge it.
   */
  refuseAnonymous(request: FastifyRequest, block: ActiveBlock | undefined, access: Extract<RouteAccess, { auth: 'none' }>): void {
    if (block && access.credential === undefined) this.refusal.refuse(request, block);
  }

  /**
   * No credential, or one that does not verify: unauthenticated traffic, which the address's block
   * does refuse. Costs what verifying the credential costs, nothing more (a signature for a token;
   * one key lookup for a well-formed API key), and the refusal is not observed again, so a flood of
   * garbage tokens neither prolongs the block nor reaches the handler. Anything else is rethrown.
   */
  refuseUnverified(request: FastifyRequest, block: ActiveBlock | undefined, error: unknown): never {
    if (block && error instanceof AuthError) this.refusal.refuse(request, block);
    throw error;
  }
}
