import { createParamDecorator, Injectable, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Clock } from '@benteng/common';
import { AppConfig, internalServiceKeys } from '@benteng/config';
import type { OperatorRecord, PlatformScope } from '@benteng/platform';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import { ServiceSignatureVerifier, type NonceStore } from '@benteng/security';

/** Redis keys of remembered nonces (one per key id and nonce, expiring after 2 × tolerance). */
export const NONCE_KEY_PREFIX = 'benteng:internal:nonce:';

/** SET NX EX: true the first time a nonce is seen. Redis errors propagate: the verifier fails closed. */
@Injectable()
export class RedisNonceStore implements NonceStore {
  constructor(@InjectRedis() private readonly redis: RedisClient) {}

  async remember(key: string, ttlS: number): Promise<boolean> {
    await this.connected();
    return (await this.redis.set(`${NONCE_KEY_PREFIX}${key}`, '1', 'EX', ttlS, 'NX')) === 'OK';
  }

  /**
   * The shared connection refuses commands while it (re)connects (no offline queue). A listener
   * that has just started waits a moment for it instead of refusing its first requests; a Redis
   * that stays down still fails the request (the verifier then refuses it).
   */
  private async connected(timeoutMs = 1_000): Promise<void> {
    if (this.redis.status === 'ready' || this.redis.status === 'end') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const redis = this.redis;
      function done(): void {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      }
      redis.once('ready', done);
    });
  }
}

/** The verifier for this listener, with the keys configured when it started. */
@Injectable()
export class InternalSignatures extends ServiceSignatureVerifier {
  constructor(config: AppConfig, nonces: RedisNonceStore, clock: Clock) {
    const { keys } = internalServiceKeys(config);
    super({ find: (kid) => keys.get(kid) }, nonces, config.INTERNAL_SIGNATURE_TOLERANCE_S, () => clock.nowSeconds());
  }
}

/** What InternalAccessGuard established about the caller of an internal route. */
export interface InternalCaller {
  readonly service: string;
  readonly keyId: string;
  /** Present on operator routes (InternalAccess); absent on service routes (InternalService). */
  readonly operator?: { readonly record: OperatorRecord; readonly scope: PlatformScope };
  /** The operator's stated reason, decoded; required on state-changing methods. */
  readonly reason?: string;
}

const CALLER = Symbol('benteng.internal-caller');
type WithCaller = FastifyRequest & { [CALLER]?: InternalCaller };

export function attachInternalCaller(request: FastifyRequest, caller: InternalCaller): void {
  (request as WithCaller)[CALLER] = caller;
}

export function internalCallerOf(request: FastifyRequest): InternalCaller | undefined {
  return (request as WithCaller)[CALLER];
}

/** The verified internal caller; only on routes InternalAccessGuard admitted. */
export const CurrentInternalCaller = createParamDecorator((_: unknown, context: ExecutionContext): InternalCaller => {
  const caller = internalCallerOf(context.switchToHttp().getRequest<FastifyRequest>());
  if (!caller) throw new Error('no internal caller on this route');
  return caller;
});

/**
 * The PlatformScope of an operator route (InternalAccess): the verified operator, their platform
 * ability, and the request (address, id, reason) their actions are audited with.
 */
export const CurrentPlatformScope = createParamDecorator((_: unknown, context: ExecutionContext): PlatformScope => {
  const caller = internalCallerOf(context.switchToHttp().getRequest<FastifyRequest>());
  if (!caller?.operator) throw new Error('no operator on this route');
  return caller.operator.scope;
});
