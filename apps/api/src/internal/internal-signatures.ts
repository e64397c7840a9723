import { Injectable } from '@nestjs/common';
import { Clock } from '@benteng/common';
import { AppConfig, internalServiceKeys } from '@benteng/config';
import { ServiceSignatureVerifier } from '@benteng/security';
import { RedisNonceStore } from './redis-nonce-store.js';

/** The verifier for this listener, with the keys configured when it started. */
@Injectable()
export class InternalSignatures extends ServiceSignatureVerifier {
  constructor(config: AppConfig, nonces: RedisNonceStore, clock: Clock) {
    const { keys } = internalServiceKeys(config);
    super({ find: (kid) => keys.get(kid) }, nonces, config.INTERNAL_SIGNATURE_TOLERANCE_S, () => clock.nowSeconds());
  }
}
