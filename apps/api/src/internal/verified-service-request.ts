import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { OperatorRecord, PlatformScope } from '@benteng/platform';

/** What InternalAccessGuard established about the caller of an internal route. */
export interface VerifiedServiceRequest {
  readonly service: string;
  readonly keyId: string;
  /** Present on operator routes (InternalAccess); absent on service routes (InternalService). */
  readonly operator?: { readonly record: OperatorRecord; readonly scope: PlatformScope };
  /** The operator's stated reason, decoded; required on state-changing methods. */
  readonly reason?: string;
}

const CALLER = Symbol('benteng.internal-caller');
type WithCaller = FastifyRequest & { [CALLER]?: VerifiedServiceRequest };

export function attachServiceRequest(request: FastifyRequest, caller: VerifiedServiceRequest): void {
  (request as WithCaller)[CALLER] = caller;
}

export function serviceRequestOf(request: FastifyRequest): VerifiedServiceRequest | undefined {
  return (request as WithCaller)[CALLER];
}

/** The verified internal caller; only on routes InternalAccessGuard admitted. */
export const CurrentServiceRequest = createParamDecorator((_: unknown, context: ExecutionContext): VerifiedServiceRequest => {
  const caller = serviceRequestOf(context.switchToHttp().getRequest<FastifyRequest>());
  if (!caller) throw new Error('no internal caller on this route');
  return caller;
});

/**
 * The PlatformScope of an operator route (InternalAccess): the verified operator, their platform
 * ability, and the request (address, id, reason) their actions are audited with.
 */
export const CurrentPlatformScope = createParamDecorator((_: unknown, context: ExecutionContext): PlatformScope => {
  const caller = serviceRequestOf(context.switchToHttp().getRequest<FastifyRequest>());
  if (!caller?.operator) throw new Error('no operator on this route');
  return caller.operator.scope;
});
