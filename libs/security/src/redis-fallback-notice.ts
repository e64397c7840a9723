
/**
 * Logs each switch of a Redis-backed limiter (LoginThrottle, RateLimiter) to and from its
 * per-instance limits once, so degraded protection is visible.
 */
export class RedisFallbackNotice {
  private degraded = false;

  constructor(
    private readonly redis: { readonly status: string },
    private readonly logger: { warn(message: string): void; log(message: string): void },
    private readonly messages: { lost: string; back: string },
  ) {}

  note(): void {
    const ready = this.redis.status === 'ready';
    if (!ready && !this.degraded) {
      this.logger.warn(this.messages.lost);
    } else if (ready && this.degraded) {
      this.logger.log(this.messages.back);
    }
    this.degraded = !ready;
  }
}
