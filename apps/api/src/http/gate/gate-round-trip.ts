import { ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { principalId } from '@benteng/authz';
import { principalBlockKey, RateLimiter, type GuardRead, type RateLimitResult } from '@benteng/security';
import type { RequestAuth } from '../request-auth.js';
import { AuthenticateStage } from './authenticate.stage.js';
import { principalClassOf, RateLimitStage } from './rate-limit.stage.js';

/** What the gate's one round trip read and decided, handed to the stages that judge it. */
export interface RoundTripReads {
  /** The revocation markers (AuthenticateStage.revocationGuards), in order. */
  readonly revocation: readonly (string | null)[];
  /** The principal's block key and its PTTL. */
  readonly principalBlock: GuardRead;
  /** The rate limiter's answer; absent when a guard stopped the request before anything was consumed. */
  readonly limit?: RateLimitResult;
}

/**
 * The gate's checks after authentication in one Redis round trip (RateLimiter.consumeUnless): the
 * revocation markers, the principal's block, its rate-limit cell and the tenant cap, where they
 * took one round trip each before (docs/benchmarks.md). The stages still judge, in the same order
 * (revocation → principal block → limit): this only reads for them. The limiter consumes nothing
 * when a marker or the block is there, as it never ran for such a request before. Undefined when
 * the round trip is not possible (markers not yet trusted, Redis Cluster, Redis not ready, script
 * failure): each stage then reads for itself, with its own fallbacks.
 */
@Injectable()
export class GateRoundTrip {
  constructor(
    private readonly authenticate: AuthenticateStage,
    private readonly rateLimit: RateLimitStage,
    private readonly limits: RateLimiter,
  ) {}

  async read(context: ExecutionContext, request: FastifyRequest, auth: RequestAuth): Promise<RoundTripReads | undefined> {
    const revocation = this.authenticate.revocationGuards(auth);
    if (revocation === undefined) return undefined;
    const principal = principalId(auth.scope.principal);
    const guards = [...revocation, { key: principalBlockKey(principal), stopWhen: 'present' as const }];
    const subject = { principalClass: principalClassOf(auth), owner: principal, tenantId: auth.scope.tenantId };
    const trip = await this.limits.consumeUnless(subject, this.rateLimit.sensitivity(context, request), guards);
    if (trip === undefined) return undefined;
    return {
      revocation: trip.reads.slice(0, revocation.length).map((read) => read.value),
      principalBlock: trip.reads[revocation.length]!,
      ...(trip.result ? { limit: trip.result } : {}),
    };
  }
}
