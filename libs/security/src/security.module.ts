import { Global, Module } from '@nestjs/common';
import { AbuseDetector } from './abuse-detector.js';
import { SafeHttpClient } from './safe-http-client.js';
import { LoginThrottle } from './login-throttle.js';
import { RateLimiter } from './rate-limiter.js';
import { SecurityBlocksRepository } from './security-blocks.repository.js';
import { SecurityBlocksService } from './security-blocks.service.js';

/**
 * Cross-cutting protections. Global because login, refresh and every surface's rate limits and
 * anomaly checks consult the same shared state. It relies on the global ConfigModule, RedisModule,
 * DatabaseModule, AuditModule and ClockModule (SecurityBlocksService records blocks in the tenant).
 */
@Global()
@Module({
  providers: [LoginThrottle, RateLimiter, AbuseDetector, SecurityBlocksService, SecurityBlocksRepository, SafeHttpClient],
  exports: [LoginThrottle, RateLimiter, AbuseDetector, SecurityBlocksService, SafeHttpClient],
})
export class SecurityModule {}
