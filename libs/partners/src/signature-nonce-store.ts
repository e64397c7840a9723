import { Injectable } from '@nestjs/common';
import { InjectRedis, type RedisClient } from '@benteng/redis';

/** Redis keys of nonces seen in partner request signatures: one key per tenant, keyid and nonce. */
export const SIGNATURE_NONCE_KEY_PREFIX = 'benteng:partner:signature-nonce:';

/** Remembers a nonce for ttlS seconds; true the first time it is seen. */
export abstract class SignatureNonceStore {
  abstract remember(key: string, ttlS: number): Promise<boolean>;
}

/**
 * SET NX EX on one key per nonce: a single-key command, so it works unchanged on Redis Cluster (no
 * hash tag needed) and two API instances share the replay window. A Redis error propagates and the
 * request is refused (fail closed), as for internal signatures (apps/api/src/internal/redis-nonce-store.ts).
 */
@Injectable()
export class RedisSignatureNonceStore extends SignatureNonceStore {
  constructor(@InjectRedis() private readonly redis: RedisClient) {
    super();
  }

  async remember(key: string, ttlS: number): Promise<boolean> {
    return (await this.redis.set(`${SIGNATURE_NONCE_KEY_PREFIX}${key}`, '1', 'EX', ttlS, 'NX')) === 'OK';
  }
}
