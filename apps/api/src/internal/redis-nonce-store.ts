import { Injectable } from '@nestjs/common';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import type { NonceStore } from '@benteng/security';

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
