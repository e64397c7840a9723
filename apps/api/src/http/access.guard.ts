import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AddressBlockStage } from './gate/address-block.stage.js';
import { AuthenticateStage } from './gate/authenticate.stage.js';
import { AuthorizeStage } from './gate/authorize.stage.js';
import { BlockRefusal } from './gate/block-refusal.js';
import { DeclaredAccess } from './gate/declared-access.js';
import { GateAudit } from './gate/gate-audit.js';
import { PrincipalBlockStage } from './gate/principal-block.stage.js';
import { RateLimitStage } from './gate/rate-limit.stage.js';
import { GateRoundTrip } from './gate/gate-round-trip.js';
import { RequestSignatureStage } from './gate/request-signature.stage.js';

/**
 * The request path's gate (docs/architecture.md, "The request path"): the global guard of the public
 * listener, read top to bottom. Each stage is a class of its own in ./gate/:
 *
 * 0. Deny by default (DeclaredAccess): a route that declares no access is refused (403
 *    `access.undeclared` and an error log line: a programming mistake), so forgetting a decorator
 *    fails closed.
 * 1. Block, the address (AddressBlockStage), before any credential is looked at: an explicit deny
 *    refuses at once; an automatic block refuses only unauthenticated traffic (no credential, or
 *    one that does not verify), so one client's failures do not lock out a shared address.
 * 2. Authenticate (AuthenticateStage) by the route's surface: a public access token on /v1, a
 *    partner API key or client-credentials token on /partner/v1; a user's token must not be revoked.
 *    The revocation markers, the principal's block and its rate limits are read in one Redis round
 *    trip (GateRoundTrip) right after the credential verifies; the stages below judge what it read,
 *    in the order given here, and read for themselves when the round trip was not possible.
 * 3. Block, the principal (PrincipalBlockStage): a blocked principal is refused from every address.
 * 4. Limit (RateLimitStage): principal class × route sensitivity, per owner, plus the tenant's cap;
 *    RateLimit headers on every answer, 429 on a refusal.
 * 5. Sign (RequestSignatureStage), partner callers only: the RFC 9421 signature a client that
 *    requires signatures, or a high-trust route of a client with a signing key, must carry
 *    (docs/request-signing.md); 401 `signature.*` with Accept-Signature on a refusal.
 * 6. Authorize (AuthorizeStage), function level: 403 when the ability cannot perform the route's
 *    action on its subject at all. Object-level checks follow in the repositories.
 * 7. Audit (GateAudit) records the refusals of 4 and 6 in the caller's tenant; BlockRefusal logs
 *    and counts the refusals of 1 and 3.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly declared: DeclaredAccess,
    private readonly addressBlock: AddressBlockStage,
    private readonly authenticate: AuthenticateStage,
    private readonly principalBlock: PrincipalBlockStage,
    private readonly rateLimit: RateLimitStage,
    private readonly signature: RequestSignatureStage,
    private readonly authorize: AuthorizeStage,
    private readonly roundTrip: GateRoundTrip,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.declared.of(context);
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const addressBlock = await this.addressBlock.check(request);

    if (access.auth === 'none') {
      this.addressBlock.refuseAnonymous(request, addressBlock, access);
      await this.rateLimit.anonymous(context, request, reply);
      return true;
    }
    if (access.auth === 'internal-operator' || access.auth === 'internal-service') this.authenticate.refuseInternal(context);

    const unverified = (error: unknown) => this.addressBlock.refuseUnverified(request, addressBlock, error);
    const auth = await this.authenticate.verify(access, request, reply).catch(unverified);
    const reads = await this.roundTrip.read(context, request, auth);
    await this.authenticate.admit(request, auth, reads?.revocation).catch(unverified);
    await this.principalBlock.check(request, auth, reads?.principalBlock);
    await this.rateLimit.caller(context, request, reply, auth, reads?.limit);
    await this.signature.check(context, request, reply, auth);
    await this.authorize.check(request, auth, access);
    return true;
  }
}

/** The gate and its stages, provided by class so a test app can replace one (test/security/kill-switches/). */
export const GATE_PROVIDERS = [DeclaredAccess, BlockRefusal, AddressBlockStage, AuthenticateStage, PrincipalBlockStage, GateAudit, RateLimitStage, RequestSignatureStage, AuthorizeStage, GateRoundTrip] as const;
