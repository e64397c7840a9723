import { Controller, Get, HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { PrismaService } from '@benteng/database';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import { Anonymous } from '../http/access.decorator.js';
import { ProblemException } from '../http/problem.js';

const CHECK_TIMEOUT_MS = 2_000;

type CheckStatus = Record<string, 'up' | 'down'>;

function summarize(details: Record<string, { status: string }> | undefined): CheckStatus {
  const checks: CheckStatus = {};
  for (const [key, value] of Object.entries(details ?? {})) checks[key] = value.status === 'up' ? 'up' : 'down';
  return checks;
}

/**
 * Liveness and readiness. Readiness names which dependency is down, but never the driver's error
 * message (host names, ports and user names are internal).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly prisma: PrismaService,
    @InjectRedis() private readonly redis: RedisClient,
  ) {}

  @Get('live')
  @Anonymous('liveness probe: says only that the process answers')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @Anonymous('readiness probe for load balancers: up/down per dependency, no details')
  async ready(): Promise<{ status: 'ok'; checks: CheckStatus }> {
    try {
      const result = await this.health.check([() => this.database(), () => this.cache()]);
      return { status: 'ok', checks: summarize(result.details) };
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        const body = error.getResponse() as { details?: Record<string, { status: string }> };
        throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, { checks: summarize(body.details) });
      }
      throw error;
    }
  }

  private database(): PromiseLike<HealthIndicatorResult<'database'>> {
    return this.indicators
      .check('database')
      .attempt(async () => {
        await this.prisma.client.$queryRaw`SELECT 1`;
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  private cache(): PromiseLike<HealthIndicatorResult<'redis'>> {
    return this.indicators
      .check('redis')
      .attempt(async () => {
        await this.redis.ping();
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }
}
