import { Global, Inject, Injectable, Module, OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '@benteng/config';

/**
 * The shared Redis connection of a process (revocations, rate limits and anomaly counters live in
 * Redis so that N instances behave as one). Commands fail fast instead of queueing while Redis is
 * down: callers decide how to degrade, and none of them may fail open.
 */
export function createRedis(url: string, connectionName: string): Redis {
  return new Redis(url, {
    connectionName,
    enableOfflineQueue: false,
    // Commands issued in the same tick (the block checks, revocation lookup and limiter scripts of
    // concurrent requests) go out in one write: -14 % CPU per GET /v1/invoices/:id, +20 % req/s at
    // 64 connections (docs/benchmarks.md). Order per connection is unchanged, so is every result.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // A hung Redis must not stall requests: a command that takes longer fails, and callers fall
    // back (revocation checks ask Postgres, throttles use their per-instance insurance).
    commandTimeout: 1_500,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

export const REDIS = Symbol('REDIS');
export const InjectRedis = () => Inject(REDIS);

@Injectable()
class RedisLifecycle implements OnModuleDestroy {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  async onModuleDestroy(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const redis = createRedis(config.REDIS_URL, 'benteng');
        // Errors surface through failed commands and the readiness check; without a listener
        // ioredis would print every reconnect attempt as an unhandled error event.
        redis.on('error', () => undefined);
        return redis;
      },
    },
    RedisLifecycle,
  ],
  exports: [REDIS],
})
export class RedisModule {}
