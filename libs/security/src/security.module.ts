import { Global, Module } from '@nestjs/common';
import { LoginThrottle } from './login-throttle.js';

/**
 * Cross-cutting protections. Global because login, refresh and later every surface's rate limits
 * consult the same shared state; it relies on the global ConfigModule and RedisModule.
 */
@Global()
@Module({
  providers: [LoginThrottle],
  exports: [LoginThrottle],
})
export class SecurityModule {}
