import { CanActivate, ExecutionContext, HttpStatus, Injectable, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditLog } from '@benteng/audit';
import { AbilityFactory, type OperatorPrincipal } from '@benteng/authz';
import { MetricsScrapeCredentials, OperatorDirectory, PlatformScope } from '@benteng/platform';
import { clientIp, RateLimiter, SecurityError, SecurityErrorCode, type RateLimitSubject, type Sensitivity, type ServiceSignatureRefusal } from '@benteng/security';
import { ROUTE_ACCESS, type RouteAccess } from '../http/access.decorator.js';
import { sensitivityOf } from '../http/gate/rate-limit.stage.js';
import { processMetrics } from '../metrics/metrics.js';
import { RefusalException, ValidationProblem } from '../http/problem.js';
import { rawBodyOf } from '../inbound/raw-body.js';
import { attachServiceRequest, type VerifiedServiceRequest } from './verified-service-request.js';
import { InternalSignatures } from './internal-signatures.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const REASON_MIN = 3;
const REASON_MAX = 500;

type OperatorDenial = 'missing_operator' | 'unknown_operator' | 'disabled_operator' | 'ability';

/** A Prometheus scrape credential presented as a bearer token (docs/metrics.md). */
const SCRAPE_BEARER = /^Bearer +(bt_ms_\S*)$/i;

/**
 * The internal listener's gate. Deny by default, in order:
 *
 * 1. A route without an internal declaration (InternalAccess / InternalService) is refused (403
 *    and an error log): a programming mistake, never a caller's.
 * 2. The service signature (libs/security/src/service-signature.ts) over method, path, query,
 *    raw body, timestamp, nonce, key id, operator and reason. Any failure is one 401 body; the
 *    reason (replayed nonce, stale timestamp, unknown or rotated-out key, altered body...) goes to
 *    the log and the platform audit log only. A nonce store that cannot answer is a 503: the
 *    request is refused (fail closed), but the caller did nothing wrong.
 * 3. Operator routes: the signed X-Benteng-Operator must name an operator record that exists and
 *    is active; its roles give a platform ability (rules/operator.rules.ts, the only place operator
 *    permissions are written) that must allow the route's action on its subject, and the request's
 *    PlatformScope is built from it. Every failure here is one 403
 *    body (the service is authenticated; the operator may not act), audited with its cause, so
 *    the answer does not tell which operator ids exist.
 * 4. State-changing methods need a reason (X-Benteng-Reason, 3-500 characters, signed): 400.
 *
 * A Prometheus scrape credential (`Authorization: Bearer bt_ms_…`) replaces steps 2-4 on the one
 * route that declares it (GET /internal/metrics): it must be known, equal in constant time, not
 * revoked and not expired (libs/platform/src/metrics-scrape-credentials.ts). On any other route,
 * and on any failure, it gets the same 401 as a bad signature, audited with its cause.
 *
 * No passport here, unlike the public AccessGuard (which runs its strategies through
 * authenticateWith): a service signature is not a bearer credential to extract and look up; it is
 * computed over the whole request, raw body included, so it is verified in one place that sees
 * the request as received. Nothing of the public strategies exists in this application, so a
 * public token or a partner key here is just an absent signature: 401.
 */
@Injectable()
export class InternalAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly logger: PinoLogger,
    private readonly signatures: InternalSignatures,
    private readonly operators: OperatorDirectory,
    private readonly audit: PlatformAuditLog,
    private readonly limits: RateLimiter,
    private readonly abilities: AbilityFactory,
    private readonly scrapes: MetricsScrapeCredentials,
  ) {
    this.logger.setContext(InternalAccessGuard.name);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
    if (access?.auth !== 'internal-operator' && access?.auth !== 'internal-service') {
      this.logger.error({ controller: context.getClass().name, handler: context.getHandler().name }, 'internal route declares no internal access; refused');
      throw new RefusalException(HttpStatus.FORBIDDEN, 'access.undeclared');
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const route = `${request.method} ${request.routeOptions.url ?? ''}`;
    const ip = clientIp(request);

    const scrape = SCRAPE_BEARER.exec(String(request.headers.authorization ?? ''))?.[1];
    if (scrape !== undefined) {
      const checked = access.auth === 'internal-operator' && access.scrapeCredential ? await this.scrapes.verify(scrape) : ({ ok: false, refusal: 'route' } as const);
      if (!checked.ok) {
        await this.refuse(request, route, ip, `scrape_credential.${checked.refusal}`);
        throw new UnauthorizedException();
      }
      await this.limit(request, context.switchToHttp().getResponse<FastifyReply>(), { principalClass: 'operator', owner: `scrape:${checked.id}` }, sensitivityOf(this.reflector, context, request.method), ip);
      attachServiceRequest(request, { service: 'metrics-scrape', keyId: checked.id });
      return true;
    }

    const verified = await this.signatures.verify({ method: request.method, url: request.url, headers: request.headers, rawBody: rawBodyOf(request) });
    if (!verified.ok) {
      await this.refuse(request, route, ip, verified.refusal, verified.service, verified.keyId);
      throw verified.refusal === 'nonce_store_unavailable' ? new ServiceUnavailableException() : new UnauthorizedException();
    }
    const base = { service: verified.service, keyId: verified.keyId, ...(verified.reason !== undefined ? { reason: verified.reason } : {}) };

    // Rate limit per signed caller (the 'operator' row of RATE_LIMIT_POLICY), before the operator
    // lookup: the owner is the signed operator id, or the key id on service routes.
    const owner = access.auth === 'internal-operator' && verified.operatorId ? `operator:${verified.operatorId}` : `service:${verified.keyId}`;
    await this.limit(request, context.switchToHttp().getResponse<FastifyReply>(), { principalClass: 'operator', owner }, sensitivityOf(this.reflector, context, request.method), ip);

    if (access.auth === 'internal-service') {
      attachServiceRequest(request, base);
      return true;
    }

    const denied = (cause: OperatorDenial, actor: string) => this.deny(request, route, ip, cause, actor, verified.service, `${access.action}:${access.subject}`);
    if (!verified.operatorId) return denied('missing_operator', `service:${verified.service}`);
    const record = await this.operators.find(verified.operatorId);
    const actor = `operator:${verified.operatorId}`;
    if (!record) return denied('unknown_operator', actor);
    if (record.status !== 'active') return denied('disabled_operator', actor);
    const principal: OperatorPrincipal = { kind: 'operator', operatorId: record.id, roles: record.roles, service: verified.service };
    const scope = PlatformScope.for(principal, { ip, requestId: String(request.id), reason: verified.reason }, this.abilities);
    if (!scope.ability.can(access.action, access.subject)) return denied('ability', actor);

    if (!SAFE_METHODS.has(request.method)) {
      const reason = verified.reason?.trim();
      const length = reason === undefined ? 0 : [...reason].length;
      // Control characters would forge log lines and audit text; the header encoding allows them.
      if (reason === undefined || length < REASON_MIN || length > REASON_MAX || /\p{Cc}/u.test(reason)) {
        throw new ValidationProblem([{ pointer: '/headers/x-benteng-reason', rules: [reason === undefined ? 'required' : 'length'] }]);
      }
    }
    const caller: VerifiedServiceRequest = { ...base, operator: { record, scope } };
    attachServiceRequest(request, caller);
    return true;
  }

  private async limit(request: FastifyRequest, reply: FastifyReply, subject: RateLimitSubject, sensitivity: Sensitivity, ip: string): Promise<void> {
    const result = await this.limits.consume(subject, sensitivity);
    for (const [name, value] of Object.entries(result.headers)) reply.header(name, value);
    if (result.allowed) return;
    const retryAfterS = result.retryAfterS ?? 1;
    this.logger.warn({ event: 'security.rate_limited', policy: result.policy, owner: subject.owner, ip, requestId: String(request.id) }, 'internal rate limit exceeded');
    processMetrics.rateLimited.inc({ surface: 'internal', principal_class: subject.principalClass });
    throw new SecurityError(SecurityErrorCode.RateLimited, retryAfterS);
  }

  private async refuse(request: FastifyRequest, route: string, ip: string, refusal: ServiceSignatureRefusal | `scrape_credential.${string}`, service?: string, keyId?: string): Promise<void> {
    // `service` is the logger's own binding (benteng-api): the signed caller is `callerService`, so
    // each key is bound once and a last-wins log parser files the line under the right service.
    const fields = { event: 'internal.auth_refused', refusal, route, ip, callerService: service, keyId, requestId: String(request.id) };
    this.logger.warn(fields, 'internal request refused: signature');
    await this.audit.record({
      type: 'internal.auth_refused',
      outcome: 'denied',
      actor: service ? `service:${service}` : 'anonymous',
      subject: route,
      ip,
      requestId: String(request.id),
      data: { refusal, ...(keyId ? { keyId } : {}) },
    });
  }

  private async deny(request: FastifyRequest, route: string, ip: string, cause: OperatorDenial, actor: string, service: string, permission: string): Promise<never> {
    this.logger.warn({ event: 'internal.authz_denied', cause, route, ip, actor, callerService: service, permission, requestId: String(request.id) }, 'internal request refused: operator');
    await this.audit.record({ type: 'internal.authz_denied', outcome: 'denied', actor, subject: permission, ip, requestId: String(request.id), data: { cause, route, service } });
    // One code for every operator denial: the cause is in the log and the audit, not in the answer.
    throw new RefusalException(HttpStatus.FORBIDDEN, 'access.denied');
  }
}
