import { createHash } from 'node:crypto';
import type { RedisClient } from '@benteng/redis';

/**
 * A Lua script run by its SHA1, loaded again (EVAL) when Redis does not know it (NOSCRIPT: a
 * restarted or flushed Redis). Shared by the abuse counters (abuse-detector.ts) and the gate's one
 * round trip (rate-limiter.ts, `consumeUnless`).
 */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async evalsha(redis: RedisClient, args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, ...(args as [number, ...(string | number)[]]));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, ...(args as [number, ...(string | number)[]]));
    }
  }
}
