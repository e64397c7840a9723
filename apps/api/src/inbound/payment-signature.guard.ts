import { CanActivate, createParamDecorator, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PaymentWebhookVerifier, type VerifiedDelivery } from '@benteng/payments';
import { ProblemException } from '../http/problem.js';
import { requestMeta } from '../http/request-auth.js';
import { rawBodyOf } from './raw-body.js';

const DELIVERY = Symbol('benteng.payment-delivery');
type WithDelivery = FastifyRequest & { [DELIVERY]?: VerifiedDelivery };

/**
 * The credential check of the inbound payments route (@Anonymous for AccessGuard: there is no
 * principal, the provider's signature is the credential). It runs after AccessGuard's rate limit
 * and before the body is validated, in this order:
 *
 * 1. the three Standard Webhooks headers are present: otherwise 400, the request is not a delivery
 *    (also when inbound payments are not configured: a malformed request is malformed anyway);
 * 2. PAYMENTS_WEBHOOK_SECRET is set: otherwise 503, nothing could verify the signature;
 * 3. the signature over the raw bytes verifies within ±5 minutes of the Clock: otherwise 401, one
 *    body for every reason, the reason logged.
 */
@Injectable()
export class PaymentSignatureGuard implements CanActivate {
  constructor(private readonly verifier: PaymentWebhookVerifier) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<WithDelivery>();
    const meta = requestMeta(request);
    const headers = this.verifier.headersOf(request.headers, meta);
    if (!this.verifier.configured) {
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, { code: 'payments.not_configured', detail: 'Inbound payment webhooks are not configured on this server.' });
    }
    request[DELIVERY] = this.verifier.verify(headers, rawBodyOf(request), meta);
    return true;
  }
}

/** The delivery PaymentSignatureGuard verified (its message id and signed timestamp). */
export const SignedDelivery = createParamDecorator((_: unknown, context: ExecutionContext): VerifiedDelivery => {
  const delivery = context.switchToHttp().getRequest<WithDelivery>()[DELIVERY];
  // Only reachable on a route without PaymentSignatureGuard: a programming error.
  if (!delivery) throw new Error('SignedDelivery on a route that PaymentSignatureGuard does not protect');
  return delivery;
});
